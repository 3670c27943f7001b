// PATCH /workspaces/{ws}/memory/{key} (memory-api.md §5): the media type
// picks JSON Patch or merge patch, the guard comes from the query or
// If-Match, the patch is parsed here (outside any store lock) and applied
// by Store::Patch under the key's shard lock.
#include <cctype>

#include "engine/json_patch.h"
#include "net/handler.h"
#include "net/handler_internal.h"
#include "net/json_body.h"
#include "net/url.h"
#include "net/write_headers.h"

namespace casmem::net {
namespace {

constexpr const char* kAcceptPatch = "application/json-patch+json, application/merge-patch+json";

enum class PatchType { kNone, kJsonPatch, kMergePatch };

// The media type of a Content-Type value, parameters (`; charset=utf-8`)
// and surrounding whitespace dropped, compared case-insensitively.
PatchType PatchTypeOf(std::optional<std::string_view> content_type) {
  if (!content_type) return PatchType::kNone;
  std::string_view v = *content_type;
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string lower(v);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "application/json-patch+json") return PatchType::kJsonPatch;
  if (lower == "application/merge-patch+json") return PatchType::kMergePatch;
  return PatchType::kNone;
}

// If-Match: exactly one strong entity tag of a version, `"V"` (what GET's
// ETag sends). Weak tags (W/"V") never match under If-Match's strong
// comparison (RFC 9110 §13.1.1) and `*` or a list of tags has no version
// guard to map to: all are refused with 400 rather than ignored.
std::optional<uint64_t> IfMatchVersion(std::string_view v) {
  if (v.size() < 3 || v.front() != '"' || v.back() != '"') return std::nullopt;
  return ParseUnsigned(v.substr(1, v.size() - 2));
}

}  // namespace

HandlerResult Handler::Patch(const std::string& ws, const std::string& key, const Target& t,
                             const HttpRequest& http, const WriteHeaders& h) {
  const PatchType type = PatchTypeOf(http.content_type);
  if (type == PatchType::kNone) {
    HttpResponse r = Error(415, "PATCH needs Content-Type application/json-patch+json or "
                                "application/merge-patch+json");
    r.headers.emplace_back("Accept-Patch", kAcceptPatch);
    return ResultOf(std::move(r));
  }
  std::optional<uint64_t> guard;
  if (const std::string* v = QueryParam(t, "if_match_version")) {
    guard = ParseUnsigned(*v);
    if (!guard) return ResultOf(Error(400, "if_match_version must be a non-negative integer"));
  }
  if (http.if_match) {
    const std::optional<uint64_t> tag = IfMatchVersion(*http.if_match);
    if (!tag) {
      return ResultOf(Error(400, "If-Match must be one version entity tag such as \"5\" (the ETag of GET)"));
    }
    if (guard && *guard != *tag) {
      return ResultOf(Error(400, "If-Match and if_match_version name different versions"));
    }
    guard = tag;
  }
  std::optional<int64_t> ttl_ms;
  if (const std::string* v = QueryParam(t, "ttl_seconds")) {
    auto n = ParseUnsigned(*v);
    if (!n || *n < 1 || *n > kMaxTtlSeconds) {
      return ResultOf(Error(400, "ttl_seconds must be an integer from 1 to 315360000"));
    }
    ttl_ms = static_cast<int64_t>(*n) * 1000;
  }
  PatchError perr;
  std::unique_ptr<JsonPatch> json_patch;
  std::unique_ptr<MergePatch> merge_patch;
  if (type == PatchType::kJsonPatch) json_patch = JsonPatch::Parse(http.body, &perr);
  else merge_patch = MergePatch::Parse(http.body, &perr);
  if (!json_patch && !merge_patch) {
    std::string msg = "malformed patch";
    if (perr.op_index >= 0) msg += " (op " + std::to_string(perr.op_index) + ")";
    if (!perr.message.empty()) msg += ": " + perr.message;
    return ResultOf(Error(400, msg));
  }
  auto render = [&](const WriteResult& w) { return RenderWrite(WriteKind::kPatch, key, guard, w); };
  IdempotencyFor<WriteResult> idem(h, http, render);
  PatchRequest req;
  req.workspace = ws;
  req.key = key;
  req.json_patch = json_patch.get();
  req.merge_patch = merge_patch.get();
  req.if_match_version = guard;
  req.ttl_ms = ttl_ms;
  req.writer = h.writer;
  req.idempotency = idem.get();
  const WriteResult w = store_->Patch(req);
  return WriteReply(w, ws, key, guard, render(w), idem.get() != nullptr);
}

}  // namespace casmem::net
