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

PatchType PatchTypeOf(std::optional<std::string_view> content_type) {
  const std::string type = MediaType(content_type);
  if (type == "application/json-patch+json") return PatchType::kJsonPatch;
  if (type == "application/merge-patch+json") return PatchType::kMergePatch;
  return PatchType::kNone;
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
  if (auto bad = GuardOf(t, http, &guard)) return ResultOf(std::move(*bad));
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
