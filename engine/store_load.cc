// Store::Load: writes a key's state as another store or system had it
// (restore, import), keeping its version. The one write path that sets a
// version instead of incrementing it; it never moves a key's version
// backwards, so a version is still never handed out twice for one key.
#include "engine/names.h"
#include "engine/shard.h"
#include "engine/store.h"
#include "engine/store_internal.h"

namespace casmem {

WriteResult Store::Load(const LoadRequest& req) {
  WriteResult res;
  const char* err = CheckKey(req.workspace, req.key);
  if (err == nullptr) err = WriterProblem(req.writer);
  if (err == nullptr && req.version == 0) err = "version must be at least 1";
  if (err == nullptr && req.version > kMaxLoadVersion) {
    err = "version must be at most 9007199254740991 (2^53 - 1)";
  }
  if (err == nullptr && (req.updated_at_ms < 0 || req.expires_at_ms < 0)) {
    err = "times must not be negative";
  }
  if (err == nullptr && (req.updated_at_ms > kMaxLoadTimeMs || req.expires_at_ms > kMaxLoadTimeMs)) {
    err = "times must be at most 9999-12-31T23:59:59.999Z";
  }
  if (err != nullptr) {
    res.outcome = Outcome::kInvalid;
    res.error = err;
    return res;
  }
  if (req.value.size() > options_.max_value_bytes) {
    res.outcome = Outcome::kTooLarge;
    res.error = "value larger than " + std::to_string(options_.max_value_bytes) + " bytes";
    return res;
  }
  const bool tombstone = req.value.empty();
  uint64_t hash;
  Shard& sh = ShardFor(req.workspace, req.key, &hash);
  std::lock_guard lk(sh.mu);
  const int64_t now = options_.clock->NowMs();
  const int64_t ws = sh.FindWorkspace(req.workspace);
  KeyRef ref{ws < 0 ? 0 : static_cast<uint32_t>(ws), req.key, hash};
  EntryNode* n = ws < 0 ? nullptr : sh.Find(ref);
  if (n != nullptr && n->version >= req.version) {
    res.outcome = Outcome::kConflict;
    res.current_version = n->version;
    res.visible_lsn = n->lsn;
    return res;
  }
  // A live version past its TTL is logged as expired first, as for Put.
  if (!ExpireBeforeWrite(sh, req.workspace, &n, now, nullptr, &res.outcome, &res.error)) {
    return res;
  }
  wal::Record r;
  r.type = tombstone ? wal::kRecordTombstone : wal::kRecordPut;
  r.version = req.version;
  r.updated_at_ms = req.updated_at_ms != 0 ? req.updated_at_ms : now;
  r.expires_at_ms = tombstone ? 0 : req.expires_at_ms;
  r.workspace = req.workspace;
  r.key = req.key;
  r.value = req.value;
  r.writer = req.writer;
  res.version = r.version;
  res.applied = true;
  const uint64_t lsn = Log(&r, &res.outcome, &res.error);
  if (lsn == 0) {  // nothing applied
    res.applied = false;
    return res;
  }
  if (ws < 0) ref.ws_index = Register(sh, req.workspace);
  const NodeState state{lsn, r.version, r.updated_at_ms, r.expires_at_ms, req.writer};
  if (tombstone) {
    sh.ApplyTombstone(ref, n, state, wal_ ? wal_->acked_lsn() : UINT64_MAX);
  } else {
    sh.ApplyPut(ref, n, req.value, state);
  }
  res.revision = lsn;
  res.visible_lsn = lsn;
  return res;
}

}  // namespace casmem
