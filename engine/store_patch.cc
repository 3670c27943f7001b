// Store::Patch: a JSON Patch or merge patch applied to a key's current
// value under its shard lock (memory-api.md §5). Patches of one key are
// applied in arrival order and logged like puts, so many share one fsync;
// each result reveals only values at or before its own record, which the
// caller waits for.
#include "engine/shard.h"
#include "engine/shard_of.h"
#include "engine/store.h"
#include "engine/store_internal.h"

namespace casmem {

WriteResult Store::Patch(const PatchRequest& req) {
  WriteResult res;
  const char* err = WorkspaceProblem(req.workspace);
  if (err == nullptr) err = KeyProblem(req.key);
  if (err == nullptr) err = WriterProblem(req.writer);
  if (err == nullptr && (req.json_patch == nullptr) == (req.merge_patch == nullptr)) {
    err = "exactly one of a JSON Patch and a merge patch";
  }
  if (err == nullptr && req.ttl_ms && *req.ttl_ms <= 0) err = "ttl must be positive";
  if (err != nullptr) {
    res.outcome = Outcome::kInvalid;
    res.error = err;
    return res;
  }
  const Idempotency<WriteResult>* idem = req.idempotency;
  std::optional<AnswerToLog> answer;
  if (!Claim(req.workspace, idem, &res, &answer)) return res;
  uint64_t hash;
  Shard& sh = ShardFor(req.workspace, req.key, &hash);
  std::lock_guard lk(sh.mu);
  const int64_t now = options_.clock->NowMs();
  const int64_t ws = sh.FindWorkspace(req.workspace);
  KeyRef ref{ws < 0 ? 0 : static_cast<uint32_t>(ws), req.key, hash};
  EntryNode* n = ws < 0 ? nullptr : sh.Find(ref);
  const bool live = n != nullptr && n->LiveAt(now);
  if (req.if_match_version && !GuardMatches(*req.if_match_version, n, live)) {
    Conflict(n, now, &res);
    if (answer) RememberRefusal(req.workspace, *answer, &res);
    return res;
  }
  const std::optional<std::string_view> doc =
      live ? std::optional<std::string_view>(n->value()) : std::nullopt;
  const bool ok =
      req.json_patch != nullptr
          ? ApplyJsonPatch(*req.json_patch, doc, options_.max_value_bytes, &res.value,
                           &res.patch_error)
          : ApplyMergePatch(*req.merge_patch, doc, options_.max_value_bytes, &res.value,
                            &res.patch_error);
  if (!ok) {
    res.value.clear();
    switch (res.patch_error.kind) {
      case PatchFailure::kFailed:
        Conflict(n, now, &res, Outcome::kPatchFailed);
        if (answer) RememberRefusal(req.workspace, *answer, &res);
        return res;
      case PatchFailure::kTooLarge:
        res.outcome = Outcome::kTooLarge;
        break;
      default:
        res.outcome = Outcome::kInvalid;
        break;
    }
    res.error = res.patch_error.message;
    // Too large or too deep: measured on the current value, so the answer
    // waits for it like a 409 would.
    res.visible_lsn = n != nullptr ? n->lsn : 0;
    if (answer) idempotency_.Abandon(req.workspace, idem->key);
    return res;
  }
  // An expired version being replaced is logged as expired first.
  if (!ExpireBeforeWrite(sh, req.workspace, &n, now, answer ? &*answer : nullptr, &res.outcome,
                         &res.error)) {
    res.value.clear();
    return res;  // nothing applied
  }
  wal::Record r;
  r.type = wal::kRecordPut;
  r.version = (n != nullptr ? n->version : 0) + 1;
  r.updated_at_ms = now;
  // Without ttl_seconds a patch keeps the key's TTL (unlike a put).
  r.expires_at_ms = req.ttl_ms ? now + *req.ttl_ms : (live ? n->expires_at_ms() : 0);
  r.workspace = req.workspace;
  r.key = req.key;
  r.value = res.value;
  r.writer = req.writer;
  res.version = r.version;
  res.applied = true;
  const uint64_t lsn = Log(&r, &res.outcome, &res.error, answer ? &*answer : nullptr);
  if (lsn == 0) {  // nothing applied
    res.applied = false;
    res.value.clear();
    return res;
  }
  if (ws < 0) ref.ws_index = Register(sh, req.workspace);
  sh.ApplyPut(ref, n, res.value,
              NodeState{lsn, r.version, r.updated_at_ms, r.expires_at_ms, req.writer});
  res.revision = lsn;
  res.visible_lsn = lsn;
  return res;
}

}  // namespace casmem
