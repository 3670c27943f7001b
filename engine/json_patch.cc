// JSON Patch (RFC 6902 + `increment`) and JSON Merge Patch (RFC 7396):
// parsing and validating a patch once, and applying it to a stored value
// on the json::Value DOM (engine/json_value.h).
//
// Depth invariant: a stored document is parsed with a bound of
// kMaxJsonDepth (a deeper one is refused as not a valid value), a patch
// value is at most kMaxJsonDepth deep, and every operation that puts a
// value somewhere first checks that the document stays within
// kMaxJsonDepth (kTooDeep otherwise, even if a later operation would
// have removed it again). So no DOM here is ever deeper than
// kMaxJsonDepth + 2, which bounds the recursion of json::Depth, Equal,
// Value's copy and destruction, and MergeInto.
#include "engine/json_patch.h"

#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "engine/json_pointer.h"
#include "engine/json_value.h"

namespace casmem {

using json::JsonPointer;
using json::Value;

enum class OpKind { kAdd, kRemove, kReplace, kMove, kCopy, kTest, kIncrement };

struct PatchOp {
  OpKind kind;
  JsonPointer path;
  JsonPointer from;   // move, copy
  Value value;        // add, replace, test
  int value_depth = 0;
  size_t value_size = 0;  // json::MinSize(value)
  int64_t delta = 0;  // increment
};

struct JsonPatchOps {
  std::vector<PatchOp> ops;
};

struct MergePatchDoc {
  Value value;
};

namespace {

const char* OpName(OpKind k) {
  switch (k) {
    case OpKind::kAdd: return "add";
    case OpKind::kRemove: return "remove";
    case OpKind::kReplace: return "replace";
    case OpKind::kMove: return "move";
    case OpKind::kCopy: return "copy";
    case OpKind::kTest: return "test";
    case OpKind::kIncrement: return "increment";
  }
  return "?";
}

const char* KindName(Value::Kind k) {
  switch (k) {
    case Value::Kind::kNull: return "null";
    case Value::Kind::kFalse:
    case Value::Kind::kTrue: return "a boolean";
    case Value::Kind::kNumber: return "a number";
    case Value::Kind::kString: return "a string";
    case Value::Kind::kArray: return "an array";
    case Value::Kind::kObject: return "an object";
  }
  return "?";
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A pointer in a message: its text, or "" (quoted) for the whole document.
std::string Shown(const JsonPointer& p) { return p.text.empty() ? "\"\"" : p.text; }

bool Malformed(PatchError* error, int op_index, std::string message) {
  error->kind = PatchFailure::kMalformed;
  error->op_index = op_index;
  error->message = std::move(message);
  return false;
}

// Reads one operation object into *op; false with *why on a problem.
bool ParseOp(Value& obj, PatchOp* op, std::string* why) {
  Value* op_name = nullptr;
  Value* path = nullptr;
  Value* from = nullptr;
  Value* value = nullptr;
  for (json::Member& m : obj.members) {
    Value** slot = m.name == "op"     ? &op_name
                   : m.name == "path" ? &path
                   : m.name == "from" ? &from
                   : m.name == "value" ? &value
                                       : nullptr;
    if (slot == nullptr) continue;  // other members are ignored (RFC 6902 §4)
    // RFC 6902 A.13: {"op": "add", ..., "op": "remove"} is not a valid
    // operation (rather than one of the two).
    if (*slot != nullptr) return *why = "repeated member " + Quoted(m.name), false;
    *slot = &m.value;
  }
  if (op_name == nullptr) return *why = "missing \"op\"", false;
  if (op_name->kind != Value::Kind::kString) return *why = "\"op\" must be a string", false;
  const std::string& name = op_name->text;
  if (name == "add") op->kind = OpKind::kAdd;
  else if (name == "remove") op->kind = OpKind::kRemove;
  else if (name == "replace") op->kind = OpKind::kReplace;
  else if (name == "move") op->kind = OpKind::kMove;
  else if (name == "copy") op->kind = OpKind::kCopy;
  else if (name == "test") op->kind = OpKind::kTest;
  else if (name == "increment") op->kind = OpKind::kIncrement;
  else return *why = "unknown op " + Quoted(name), false;
  const std::string prefix = name + ": ";

  if (path == nullptr) return *why = prefix + "missing \"path\"", false;
  if (path->kind != Value::Kind::kString) return *why = prefix + "\"path\" must be a string", false;
  if (!json::ParseJsonPointer(path->text, &op->path, why)) return *why = prefix + *why, false;

  if (op->kind == OpKind::kMove || op->kind == OpKind::kCopy) {
    if (from == nullptr) return *why = prefix + "missing \"from\"", false;
    if (from->kind != Value::Kind::kString) return *why = prefix + "\"from\" must be a string", false;
    if (!json::ParseJsonPointer(from->text, &op->from, why)) return *why = prefix + *why, false;
  }
  if (op->kind == OpKind::kAdd || op->kind == OpKind::kReplace || op->kind == OpKind::kTest) {
    if (value == nullptr) return *why = prefix + "missing \"value\"", false;
    op->value_depth = json::Depth(*value);
    if (op->value_depth > kMaxJsonDepth) {
      return *why = prefix + "\"value\" nested deeper than " + std::to_string(kMaxJsonDepth) +
                    " levels",
             false;
    }
    op->value_size = json::MinSize(*value);
    op->value = std::move(*value);
  }
  if (op->kind == OpKind::kIncrement) {
    if (value == nullptr) return *why = prefix + "missing \"value\"", false;
    if (value->kind != Value::Kind::kNumber || !json::ParseInt64(value->text, &op->delta)) {
      return *why = prefix + "\"value\" must be an integer within 64 bits, written without "
                             "fraction or exponent",
             false;
    }
  }
  return true;
}

// Applies the operations of one patch to one document. Each method returns
// false with error_ set (kFailed or kTooDeep) when its operation cannot
// apply; the document is then garbage and is dropped by the caller.
class Applier {
 public:
  Applier(Value* root, bool absent, size_t max_bytes, PatchError* error)
      : root_(root),
        absent_(absent),
        max_bytes_(max_bytes),
        size_(json::MinSize(*root)),
        error_(error) {}

  size_t size() const { return size_; }

  bool Apply(const PatchOp& op, int index) {
    op_ = &op;
    index_ = index;
    bool ok = false;
    switch (op.kind) {
      case OpKind::kAdd:
        ok = Add(op.path, Value(op.value), op.value_size, op.value_depth);
        break;
      case OpKind::kRemove:
        ok = Remove(op.path, nullptr, nullptr);
        break;
      case OpKind::kReplace:
        ok = Replace(op.path, Value(op.value), op.value_size, op.value_depth);
        break;
      case OpKind::kMove:
        ok = Move(op.from, op.path);
        break;
      case OpKind::kCopy:
        ok = Copy(op.from, op.path);
        break;
      case OpKind::kTest:
        ok = Test(op.path, op.value);
        break;
      case OpKind::kIncrement:
        ok = Increment(op.path, op.delta);
        break;
    }
    return ok;
  }

 private:
  // "<op> at <path>: <reason>" (move and copy name `from` too).
  bool Fail(const std::string& reason, PatchFailure kind = PatchFailure::kFailed) {
    error_->kind = kind;
    error_->op_index = index_;
    std::string where = "at " + Shown(op_->path);
    if (op_->kind == OpKind::kMove || op_->kind == OpKind::kCopy) {
      where = "from " + Shown(op_->from) + " to " + Shown(op_->path);
    }
    error_->message = std::string(OpName(op_->kind)) + " " + where + ": " + reason;
    return false;
  }

  // The value a putting op places at `p` has depth `d`: it sits inside
  // p.tokens.size() containers. Checked once the place is known to exist,
  // so a path that names nothing fails as such (kFailed), however long.
  bool CheckDepth(const JsonPointer& p, int d) {
    if (static_cast<int>(p.tokens.size()) + d <= kMaxJsonDepth) return true;
    return Fail("the result would nest deeper than " + std::to_string(kMaxJsonDepth) + " levels",
                PatchFailure::kTooDeep);
  }

  // A `copy` is held to max_bytes at once, by the document's MinSize (a
  // lower bound, so nothing that fits is refused): without that, each copy
  // of the whole document into itself would double it, 2^n for n ops.
  // Other ops grow a document by at most the patch's own size; the
  // result is checked exactly when it is serialised.
  bool CheckSize() {
    if (size_ <= max_bytes_) return true;
    return Fail("the result would be larger than " + std::to_string(max_bytes_) + " bytes",
                PatchFailure::kTooLarge);
  }

  // The child of container `v` named by `token`, or nullptr with *why.
  static Value* Child(Value* v, const std::string& token, std::string* why) {
    if (v->kind == Value::Kind::kObject) {
      Value* c = v->Find(token);
      if (c == nullptr) *why = "member " + Quoted(token) + " not found";
      return c;
    }
    if (v->kind == Value::Kind::kArray) {
      const auto i = json::ArrayIndex(token);
      if (!i) {
        *why = Quoted(token) + " is not an array index";
        return nullptr;
      }
      if (*i >= v->items.size()) {
        *why = "index " + token + " is out of range (array of " +
               std::to_string(v->items.size()) + ")";
        return nullptr;
      }
      return &v->items[*i];
    }
    *why = "cannot look up " + Quoted(token) + " in " + KindName(v->kind);
    return nullptr;
  }

  // The container holding the location `p` names (p has >= 1 token).
  Value* Parent(const JsonPointer& p) {
    Value* v = root_;
    std::string why;
    for (size_t i = 0; i + 1 < p.tokens.size(); ++i) {
      v = Child(v, p.tokens[i], &why);
      if (v == nullptr) return Fail(why), nullptr;
    }
    if (v->kind != Value::Kind::kObject && v->kind != Value::Kind::kArray) {
      return Fail(std::string("the parent is ") + KindName(v->kind)), nullptr;
    }
    return v;
  }

  // The value `p` names, which must exist.
  Value* Get(const JsonPointer& p) {
    if (p.tokens.empty()) return root_;
    Value* parent = Parent(p);
    if (parent == nullptr) return nullptr;
    std::string why;
    Value* v = Child(parent, p.tokens.back(), &why);
    if (v == nullptr) Fail(why);
    return v;
  }

  // Puts v (of MinSize `size`) in place of *target.
  void Overwrite(Value* target, Value&& v, size_t size) {
    size_ = size_ - json::MinSize(*target) + size;
    *target = std::move(v);
    if (target == root_) absent_ = false;
  }

  // RFC 6902 §4.1; `size` and `depth` are v's MinSize and Depth.
  bool Add(const JsonPointer& p, Value&& v, size_t size, int depth) {
    if (p.tokens.empty()) return Overwrite(root_, std::move(v), size), true;
    Value* parent = Parent(p);
    if (parent == nullptr || !CheckDepth(p, depth)) return false;
    const std::string& last = p.tokens.back();
    if (parent->kind == Value::Kind::kObject) {
      if (Value* existing = parent->Find(last)) {
        Overwrite(existing, std::move(v), size);
      } else {
        parent->members.push_back(json::Member{last, std::move(v)});
        size_ += last.size() + size;
      }
      return true;
    }
    std::vector<Value>& items = parent->items;
    size_t i = items.size();
    if (last != "-") {
      const auto index = json::ArrayIndex(last);
      if (!index) return Fail(Quoted(last) + " is not an array index");
      if (*index > items.size()) {
        return Fail("index " + last + " is out of range (array of " +
                    std::to_string(items.size()) + ")");
      }
      i = *index;
    }
    items.insert(items.begin() + static_cast<std::ptrdiff_t>(i), std::move(v));
    size_ += size;
    return true;
  }

  // RFC 6902 §4.2. The removed value and its MinSize go to *removed and
  // *removed_size when given.
  bool Remove(const JsonPointer& p, Value* removed, size_t* removed_size) {
    if (p.tokens.empty()) return Fail("cannot remove the whole document");
    Value* parent = Parent(p);
    if (parent == nullptr) return false;
    const std::string& last = p.tokens.back();
    size_t size = 0;
    if (parent->kind == Value::Kind::kObject) {
      auto& ms = parent->members;
      auto it = std::find_if(ms.begin(), ms.end(),
                             [&](const json::Member& m) { return m.name == last; });
      if (it == ms.end()) return Fail("member " + Quoted(last) + " not found");
      size = json::MinSize(it->value);
      size_ -= last.size() + size;
      if (removed != nullptr) *removed = std::move(it->value);
      ms.erase(it);
    } else {
      std::string why;
      Value* v = Child(parent, last, &why);
      if (v == nullptr) return Fail(why);
      size = json::MinSize(*v);
      size_ -= size;
      if (removed != nullptr) *removed = std::move(*v);
      parent->items.erase(parent->items.begin() + (v - parent->items.data()));
    }
    if (removed_size != nullptr) *removed_size = size;
    return true;
  }

  bool Replace(const JsonPointer& p, Value&& v, size_t size, int depth) {
    Value* target = Get(p);
    if (target == nullptr || !CheckDepth(p, depth)) return false;
    Overwrite(target, std::move(v), size);
    return true;
  }

  // RFC 6902 §4.4: remove `from`, then add it at `to`.
  bool Move(const JsonPointer& from, const JsonPointer& to) {
    if (from.tokens == to.tokens) return Get(from) != nullptr;  // must exist; no change
    if (json::IsProperPrefix(from, to)) return Fail("cannot move a value into itself");
    Value v;
    size_t size = 0;
    if (!Remove(from, &v, &size)) return false;
    // v was inside `from`'s containers, so it is within the limit; only the
    // new place can be too deep.
    const int depth = json::Depth(v);
    return Add(to, std::move(v), size, depth);
  }

  bool Copy(const JsonPointer& from, const JsonPointer& to) {
    const Value* src = Get(from);
    if (src == nullptr) return false;
    const size_t size = json::MinSize(*src);
    if (size > max_bytes_) {  // too large to fit anywhere: do not even copy it
      size_ += size;
      return CheckSize();
    }
    return Add(to, Value(*src), size, json::Depth(*src)) && CheckSize();
  }

  bool Test(const JsonPointer& p, const Value& expected) {
    const Value* v = Get(p);
    if (v == nullptr) return false;
    if (json::Equal(*v, expected)) return true;
    error_->kind = PatchFailure::kFailed;
    error_->op_index = index_;
    error_->message = "test failed at " + Shown(p);
    return false;
  }

  // Adds delta to the integer at `target`.
  bool Sum(Value* target, int64_t delta) {
    int64_t n = 0;
    if (target->kind != Value::Kind::kNumber || !json::ParseInt64(target->text, &n)) {
      const std::string what = target->kind == Value::Kind::kNumber
                                   ? "the number " + target->text
                                   : std::string(KindName(target->kind));
      return Fail("the target is " + what + ", not an integer within 64 bits");
    }
    int64_t sum = 0;
    if (__builtin_add_overflow(n, delta, &sum)) return Fail("increment overflows 64 bits");
    std::string text = std::to_string(sum);
    Overwrite(target, Value::Number(text), text.size());
    return true;
  }

  // casmem's increment: the target is an integer, or absent (counts as 0
  // and is created where `add` would create it). The whole document is
  // absent only while the key is (no earlier op of the patch set it).
  bool Increment(const JsonPointer& p, int64_t delta) {
    if (p.tokens.empty() && !absent_) return Sum(root_, delta);
    Value* target = nullptr;
    if (!p.tokens.empty()) {
      Value* parent = Parent(p);
      if (parent == nullptr) return false;
      const std::string& last = p.tokens.back();
      if (parent->kind == Value::Kind::kObject) {
        target = parent->Find(last);
      } else if (last != "-") {
        const auto i = json::ArrayIndex(last);
        if (i && *i < parent->items.size()) target = &parent->items[*i];
        // else: Add appends at index == size, refuses the rest
      }
    }
    if (target != nullptr) return Sum(target, delta);
    std::string text = std::to_string(delta);
    const size_t size = text.size();
    return Add(p, Value::Number(text), size, 0);
  }

  Value* root_;
  bool absent_;
  size_t max_bytes_;
  size_t size_;  // MinSize(*root_), kept up to date by every edit
  PatchError* error_;
  const PatchOp* op_ = nullptr;
  int index_ = -1;
};

// Parses the stored document; an absent key is `null`. A stored value is
// always valid JSON within the depth limit; anything else fails cleanly.
bool LoadDocument(std::optional<std::string_view> doc, Value* root, PatchError* error,
                  int op_index) {
  if (!doc) return true;
  std::string why;
  if (json::ParseJson(*doc, kMaxJsonDepth, root, &why) == json::ParseFailure::kNone) return true;
  error->kind = PatchFailure::kFailed;
  error->op_index = op_index;
  error->message = "the stored value is not valid JSON (" + why + ")";
  return false;
}

// `size_hint`: about how large the result is (to reserve once).
bool Finish(const Value& root, size_t size_hint, size_t max_bytes, std::string* out,
            PatchError* error) {
  out->clear();
  out->reserve(std::min(size_hint + size_hint / 8 + 16, max_bytes + 1));
  switch (json::SerializeJson(root, kMaxJsonDepth, max_bytes, out)) {
    case json::SerializeFailure::kNone:
      return true;
    case json::SerializeFailure::kTooDeep:
      error->kind = PatchFailure::kTooDeep;
      error->op_index = -1;
      error->message = "the result would nest deeper than " + std::to_string(kMaxJsonDepth) +
                       " levels";
      return false;
    case json::SerializeFailure::kTooLarge:
      error->kind = PatchFailure::kTooLarge;
      error->op_index = -1;
      error->message = "the result would be larger than " + std::to_string(max_bytes) + " bytes";
      return false;
  }
  return false;
}

// RFC 7396 MergePatch(Target, Patch). Recursion: one frame per level of
// `patch` (at most kMaxJsonDepth).
void MergeInto(Value* target, const Value& patch) {
  if (!patch.is_object()) {
    *target = patch;
    return;
  }
  if (!target->is_object()) *target = Value(Value::Kind::kObject);
  auto& ms = target->members;
  // Small objects: linear lookups. Large ones: an index of the target's
  // names, so that a merge of two objects of n members costs O(n), not
  // O(n^2) under the key's shard lock (a 1 MiB patch holds ~100,000).
  if (patch.members.size() * ms.size() <= 4096) {
    for (const json::Member& m : patch.members) {
      if (m.value.is_null()) {
        std::erase_if(ms, [&](const json::Member& t) { return t.name == m.name; });
        continue;
      }
      Value* t = target->Find(m.name);
      if (t == nullptr) {
        ms.push_back(json::Member{m.name, Value()});
        t = &ms.back().value;
      }
      MergeInto(t, m.value);
    }
    return;
  }
  // Same result as above: a null removes every member of that name (a
  // stored value may repeat one), anything else merges into the first or
  // is appended. The patch names each member once (KeepLastMembers).
  boost::unordered_flat_map<std::string, std::vector<size_t>> index;
  for (size_t i = 0; i < ms.size(); ++i) index[ms[i].name].push_back(i);
  std::vector<bool> gone(ms.size(), false);
  bool removed = false;
  for (const json::Member& m : patch.members) {
    auto it = index.find(m.name);
    if (m.value.is_null()) {
      if (it != index.end()) {
        for (size_t i : it->second) gone[i] = true;
        index.erase(it);
        removed = true;
      }
      continue;
    }
    size_t at;
    if (it == index.end()) {
      ms.push_back(json::Member{m.name, Value()});
      gone.push_back(false);
      at = ms.size() - 1;
      index[m.name].push_back(at);
    } else {
      at = it->second.front();
    }
    MergeInto(&ms[at].value, m.value);
  }
  if (removed) {
    size_t out = 0;
    for (size_t i = 0; i < ms.size(); ++i) {
      if (!gone[i]) {
        if (out != i) ms[out] = std::move(ms[i]);
        ++out;
      }
    }
    ms.resize(out);
  }
}

}  // namespace

JsonPatch::JsonPatch() = default;
JsonPatch::~JsonPatch() = default;
size_t JsonPatch::size() const { return ops_->ops.size(); }

std::unique_ptr<JsonPatch> JsonPatch::Parse(std::string_view text, PatchError* error) {
  *error = PatchError{};
  Value root;
  std::string why;
  // + 2: the patch array and an operation object hold each `value`.
  if (json::ParseJson(text, kMaxJsonDepth + 2, &root, &why) != json::ParseFailure::kNone) {
    return Malformed(error, -1, why), nullptr;
  }
  if (!root.is_array()) {
    return Malformed(error, -1, "a JSON Patch must be an array of operations"), nullptr;
  }
  auto ops = std::make_unique<JsonPatchOps>();
  ops->ops.reserve(root.items.size());
  for (size_t i = 0; i < root.items.size(); ++i) {
    const int index = static_cast<int>(i);
    if (!root.items[i].is_object()) {
      return Malformed(error, index, "operation " + std::to_string(i) + " is not an object"),
             nullptr;
    }
    PatchOp op{};
    if (!ParseOp(root.items[i], &op, &why)) {
      return Malformed(error, index, "operation " + std::to_string(i) + ": " + why), nullptr;
    }
    ops->ops.push_back(std::move(op));
  }
  std::unique_ptr<JsonPatch> patch(new JsonPatch());
  patch->ops_ = std::move(ops);
  return patch;
}

bool ApplyJsonPatch(const JsonPatch& patch, std::optional<std::string_view> doc,
                    size_t max_bytes, std::string* out, PatchError* error) {
  *error = PatchError{};
  Value root;
  if (!LoadDocument(doc, &root, error, 0)) return false;
  Applier applier(&root, !doc.has_value(), max_bytes, error);
  const auto& ops = patch.ops_->ops;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!applier.Apply(ops[i], static_cast<int>(i))) return false;
  }
  return Finish(root, applier.size(), max_bytes, out, error);
}

// Duplicate member names in a merge patch: the last one wins (as most JSON
// parsers read them), and the earlier ones are dropped, so that applying
// the patch twice gives what applying it once gave (RFC 7396 patches are
// idempotent; `{"d":null,"d":2}` would otherwise move `d` to the end on
// every application). Recursion: one frame per level (at most
// kMaxJsonDepth); a hash map per object keeps it linear.
static void KeepLastMembers(Value* v) {
  if (v->is_array()) {
    for (Value& item : v->items) KeepLastMembers(&item);
    return;
  }
  if (!v->is_object()) return;
  auto& ms = v->members;
  if (ms.size() > 1) {
    boost::unordered_flat_map<std::string_view, size_t> last;
    for (size_t i = 0; i < ms.size(); ++i) last[ms[i].name] = i;
    if (last.size() != ms.size()) {
      // Decide first, then move: the map's keys view into the names.
      std::vector<bool> keep(ms.size());
      for (size_t i = 0; i < ms.size(); ++i) keep[i] = last[ms[i].name] == i;
      last.clear();
      std::vector<json::Member> kept;
      kept.reserve(ms.size());
      for (size_t i = 0; i < ms.size(); ++i) {
        if (keep[i]) kept.push_back(std::move(ms[i]));
      }
      ms = std::move(kept);
    }
  }
  for (json::Member& m : ms) KeepLastMembers(&m.value);
}

MergePatch::MergePatch() = default;
MergePatch::~MergePatch() = default;

std::unique_ptr<MergePatch> MergePatch::Parse(std::string_view text, PatchError* error) {
  *error = PatchError{};
  auto doc = std::make_unique<MergePatchDoc>();
  std::string why;
  if (json::ParseJson(text, kMaxJsonDepth, &doc->value, &why) != json::ParseFailure::kNone) {
    return Malformed(error, -1, why), nullptr;
  }
  KeepLastMembers(&doc->value);
  std::unique_ptr<MergePatch> patch(new MergePatch());
  patch->doc_ = std::move(doc);
  return patch;
}

bool ApplyMergePatch(const MergePatch& patch, std::optional<std::string_view> doc,
                     size_t max_bytes, std::string* out, PatchError* error) {
  *error = PatchError{};
  Value root;
  if (!LoadDocument(doc, &root, error, -1)) return false;
  MergeInto(&root, patch.doc_->value);
  return Finish(root, doc ? doc->size() : 0, max_bytes, out, error);
}

}  // namespace casmem
