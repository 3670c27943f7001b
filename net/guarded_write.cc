// GuardedWriteOf: the routing of Handler::Handle reduced to the single-key
// writes, and their guard. See guarded_write.h.
#include "net/guarded_write.h"

#include "net/handler_internal.h"
#include "net/json_body.h"
#include "net/url.h"

namespace casmem::net {

std::optional<GuardedKey> GuardedWriteOf(const HttpRequest& req) {
  if (req.idempotency_key || !req.repeated_header.empty()) return std::nullopt;
  const bool post = req.method == "POST";
  if (!post && req.method != "PATCH" && req.method != "DELETE") return std::nullopt;
  std::string error;
  auto target = ParseTarget(req.target, &error);
  if (!target) return std::nullopt;
  const auto& seg = target->segments;
  GuardedKey out;
  size_t rest = 0;  // index of "memory"
  if (seg.size() >= 3 && seg[0] == "workspaces" && seg[2] == "memory") {
    out.workspace = seg[1];
    rest = 2;
  } else if (!seg.empty() && seg[0] == "memory") {
    out.workspace = "default";
  } else {
    return std::nullopt;
  }
  const size_t extra = seg.size() - rest - 1;
  if (post) {
    if (extra != 0) return std::nullopt;
    auto body = ParseWriteBody(req.body, &error);
    if (!body || !body->if_match_version || *body->if_match_version == 0) return std::nullopt;
    out.key = std::move(body->key);
    out.guard = *body->if_match_version;
    return out;
  }
  if (extra != 1) return std::nullopt;
  std::optional<uint64_t> guard;
  if (GuardOf(*target, req, &guard) || !guard || *guard == 0) return std::nullopt;
  out.key = seg[rest + 1];
  out.guard = *guard;
  return out;
}

}  // namespace casmem::net
