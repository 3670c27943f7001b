// JSON Patch (RFC 6902, plus casmem's `increment`) and JSON Merge Patch
// (RFC 7396) applied to stored values (memory-api.md §5). The engine calls
// Apply under a shard lock, so a patch is parsed and validated first, once,
// outside any lock; applying never fails for a reason a client could have
// seen in the patch alone.
//
// Values are compact JSON text. Numbers are kept as their source text
// (never converted through a double), so a value the patch does not touch
// comes back byte for byte; member order of objects is kept.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace casmem {

// How deeply a value may nest containers: `[]` and `{}` are 1 level,
// `[[1]]` is 2 (docs/api.md). A patch document, a merge patch and every
// result of applying one are held to it.
inline constexpr int kMaxJsonDepth = 128;

enum class PatchFailure {
  kNone,
  kMalformed,  // 400: the patch itself is unusable (Parse only)
  kFailed,     // 409: an operation cannot apply to this document
  kTooDeep,    // 400: the result would nest deeper than kMaxJsonDepth
  kTooLarge,   // 413: the result would be larger than max_bytes
};

struct PatchError {
  PatchFailure kind = PatchFailure::kNone;
  int op_index = -1;    // the failing operation (JSON Patch), else -1
  std::string message;  // a sentence for the client, e.g. "test failed at /a"
};

struct JsonPatchOps;  // the parsed operations (json_patch.cc)

// A parsed, validated JSON Patch: an array of operation objects, each with
// a known `op`, its required members of the right type and RFC 6901
// pointers that parse. Immutable; may be applied from several threads.
class JsonPatch {
 public:
  // Any JSON text. nullptr with error->kind = kMalformed (and op_index when
  // one operation is at fault) for: not JSON, invalid UTF-8 or an escaped
  // lone surrogate in any string, an operation's `value` nesting deeper
  // than kMaxJsonDepth (the patch array and the operation object not
  // counted; the text as a whole may nest kMaxJsonDepth + 2), not an array
  // of objects, an unknown `op`, a missing or ill-typed member, `op`,
  // `path`, `from` or `value` given twice in one operation (RFC 6902
  // A.13), a pointer that does not parse (not "" and not starting with
  // "/", or "~" not followed by 0 or 1), an `increment` value that is not
  // an integer written without fraction or exponent within int64. Other
  // members of an operation are ignored (RFC 6902 §4). Messages read
  // "operation 2: unknown op \"x\"".
  static std::unique_ptr<JsonPatch> Parse(std::string_view text, PatchError* error);
  ~JsonPatch();
  size_t size() const;  // number of operations

 private:
  JsonPatch();
  friend bool ApplyJsonPatch(const JsonPatch&, std::optional<std::string_view>, size_t,
                             std::string*, PatchError*);
  std::unique_ptr<JsonPatchOps> ops_;
};

struct MergePatchDoc;

// A parsed JSON Merge Patch: any JSON value (same input checks as above).
class MergePatch {
 public:
  static std::unique_ptr<MergePatch> Parse(std::string_view text, PatchError* error);
  ~MergePatch();

 private:
  MergePatch();
  friend bool ApplyMergePatch(const MergePatch&, std::optional<std::string_view>, size_t,
                              std::string*, PatchError*);
  std::unique_ptr<MergePatchDoc> doc_;
};

// Applies `patch` to `doc` (compact JSON text of the current value, or
// nullopt for an absent key, which is the document `null`). All operations
// apply or none does. True: *out is the compact JSON text of the result
// (at most max_bytes). False: *error says why (kFailed with op_index,
// kTooDeep or kTooLarge) and *out is unspecified.
//
// JSON Patch details:
// - kFailed messages name the op and path: "test failed at /a",
//   "remove at /a/b: member \"b\" not found", "move from /a to /a/b:
//   cannot move a value into itself", "increment at /n: increment
//   overflows 64 bits". A `doc` that is not valid JSON (never stored)
//   fails with kFailed at op_index 0.
// - Depth is checked at each operation that places a value (add, replace,
//   move, copy): kTooDeep with its op_index as soon as the document would
//   nest deeper than kMaxJsonDepth, even if a later op would undo it.
// - Size: a `copy` fails with kTooLarge (and its op_index) once the
//   document would be larger than max_bytes, so copies cannot double a
//   document 2^n times; other ops are held to max_bytes on the result
//   (op_index -1).
// - `increment` at "" of an absent key (and while no earlier op of the
//   patch has set the document) starts from 0, so a counter key needs no
//   creation step; the document `null` of a stored null is not a number.
// - An object with a repeated member name (which a stored value may
//   have): pointers name the first; merge patch `null` removes them all.
bool ApplyJsonPatch(const JsonPatch& patch, std::optional<std::string_view> doc,
                    size_t max_bytes, std::string* out, PatchError* error);
bool ApplyMergePatch(const MergePatch& patch, std::optional<std::string_view> doc,
                     size_t max_bytes, std::string* out, PatchError* error);

}  // namespace casmem
