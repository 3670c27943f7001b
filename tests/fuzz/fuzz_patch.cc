// Fuzz target: the patch engine (engine/json_patch.h), JSON Patch and
// merge patch, parse and apply. Input: a mode byte, then the patch text,
// then optionally a NUL byte and the stored document's text (no NUL: the
// key is absent). Mode bit 0: merge patch instead of JSON Patch; bits 1-2:
// max_bytes (64, 4096, 65536, 1 MiB).
// Invariants: a refusal says why, with the right kind and op_index; a
// result is one compact JSON value, valid UTF-8, within max_bytes and
// kMaxJsonDepth, a fixed point of parse + serialise, and the same when
// applied twice; a merge patch applied to its own result changes nothing
// (RFC 7396 patches are idempotent).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/json_patch.h"
#include "engine/json_value.h"
#include "engine/names.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using casmem::PatchError;
using casmem::PatchFailure;

void CheckResult(std::string_view out, size_t max_bytes) {
  FUZZ_CHECK(out.size() <= max_bytes);
  FUZZ_CHECK(casmem::ValidUtf8(out));
  FUZZ_CHECK(casmem::fuzz::IsOneJsonValue(out));
  casmem::json::Value v;
  std::string why;
  FUZZ_CHECK(casmem::json::ParseJson(out, casmem::kMaxJsonDepth, &v, &why) ==
             casmem::json::ParseFailure::kNone);
  std::string again;
  FUZZ_CHECK(casmem::json::SerializeJson(v, casmem::kMaxJsonDepth, SIZE_MAX, &again) ==
             casmem::json::SerializeFailure::kNone);
  FUZZ_CHECK(again == out);  // compact, and numbers and strings kept
}

void CheckFailure(const PatchError& e, int ops) {
  FUZZ_CHECK(!e.message.empty());
  FUZZ_CHECK(casmem::ValidUtf8(e.message));
  switch (e.kind) {
    case PatchFailure::kFailed:
      FUZZ_CHECK(ops < 0 ? e.op_index == -1 : e.op_index >= 0 && e.op_index < std::max(ops, 1));
      break;
    case PatchFailure::kTooDeep:
    case PatchFailure::kTooLarge:
      FUZZ_CHECK(e.op_index >= -1 && e.op_index < std::max(ops, 1));
      break;
    default:
      FUZZ_CHECK(false);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr size_t kMaxBytes[] = {64, 4096, 65536, 1 << 20};
  const uint8_t mode = data[0];
  const bool merge = mode & 1;
  const size_t max_bytes = kMaxBytes[(mode >> 1) & 3];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t nul = rest.find('\0');
  const std::string_view patch_text = rest.substr(0, nul);
  std::optional<std::string_view> doc;
  if (nul != std::string_view::npos) doc = rest.substr(nul + 1);

  PatchError error;
  std::string out, out2;
  if (merge) {
    auto patch = casmem::MergePatch::Parse(patch_text, &error);
    if (!patch) {
      FUZZ_CHECK(error.kind == PatchFailure::kMalformed && error.op_index == -1);
      FUZZ_CHECK(!error.message.empty());
      return 0;
    }
    const bool ok = casmem::ApplyMergePatch(*patch, doc, max_bytes, &out, &error);
    PatchError error2;
    FUZZ_CHECK(casmem::ApplyMergePatch(*patch, doc, max_bytes, &out2, &error2) == ok);
    if (!ok) {
      CheckFailure(error, -1);
      FUZZ_CHECK(error2.kind == error.kind && error2.message == error.message);
      return 0;
    }
    FUZZ_CHECK(out2 == out);
    CheckResult(out, max_bytes);
    std::string twice;
    FUZZ_CHECK(casmem::ApplyMergePatch(*patch, std::string_view(out), max_bytes, &twice, &error2));
    FUZZ_CHECK(twice == out);
    return 0;
  }

  auto patch = casmem::JsonPatch::Parse(patch_text, &error);
  if (!patch) {
    FUZZ_CHECK(error.kind == PatchFailure::kMalformed);
    FUZZ_CHECK(!error.message.empty());
    FUZZ_CHECK(casmem::ValidUtf8(error.message));
    return 0;
  }
  const int ops = static_cast<int>(patch->size());
  const bool ok = casmem::ApplyJsonPatch(*patch, doc, max_bytes, &out, &error);
  PatchError error2;
  FUZZ_CHECK(casmem::ApplyJsonPatch(*patch, doc, max_bytes, &out2, &error2) == ok);
  if (!ok) {
    CheckFailure(error, ops);
    FUZZ_CHECK(error2.kind == error.kind && error2.op_index == error.op_index &&
               error2.message == error.message);
    return 0;
  }
  FUZZ_CHECK(out2 == out);
  CheckResult(out, max_bytes);
  return 0;
}
