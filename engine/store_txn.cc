// Store::Txn: several keys of one workspace change together or not at all
// (memory-api.md §6). Every shard involved is locked, in index order (the
// one global order, so two transactions cannot deadlock and a single-key
// write never waits on a transaction for long), every op is decided
// against the state under those locks, and the writes go to the log as
// one commit record with one lsn, the transaction's revision. Recovery
// applies that record whole or, torn, not at all (one checksum).
#include <algorithm>
#include <mutex>

#include "engine/shard.h"
#include "engine/shard_of.h"
#include "engine/store.h"
#include "engine/store_internal.h"

namespace casmem {
namespace {

constexpr size_t kMaxTxnOps = wal::kMaxCommitOps;

bool Writes(const TxnOp& op) { return op.type != TxnOp::Type::kCheck; }

// The request's shape: ops count, names, one write per key, a check only
// before its key's write. nullptr when well formed, else the reason (and
// *index the op at fault).
const char* Malformed(const TxnRequest& req, size_t max_value_bytes, int* index,
                      Outcome* outcome) {
  const std::vector<TxnOp>& ops = *req.ops;
  *outcome = Outcome::kInvalid;
  if (ops.empty() || ops.size() > kMaxTxnOps) return "a transaction has 1 to 128 ops";
  if (const char* p = WorkspaceProblem(req.workspace)) return p;
  if (const char* p = WriterProblem(req.writer)) return p;
  for (size_t i = 0; i < ops.size(); ++i) {
    *index = static_cast<int>(i);
    const TxnOp& op = ops[i];
    if (const char* p = KeyProblem(op.key)) return p;
    switch (op.type) {
      case TxnOp::Type::kCheck:
        if (!op.if_match_version) return "a check needs a version";
        break;
      case TxnOp::Type::kSet:
        if (op.value.empty()) return "value must not be empty";
        if (op.value.size() > max_value_bytes) {
          *outcome = Outcome::kTooLarge;
          return "value too large";
        }
        if (op.ttl_ms && *op.ttl_ms <= 0) return "ttl must be positive";
        break;
      case TxnOp::Type::kPatch:
        if ((op.json_patch == nullptr) == (op.merge_patch == nullptr)) {
          return "a patch op takes one of patch and merge";
        }
        if (op.ttl_ms && *op.ttl_ms <= 0) return "ttl must be positive";
        break;
      case TxnOp::Type::kDelete:
        break;
    }
    for (size_t j = 0; j < i; ++j) {
      if (ops[j].key != op.key) continue;
      if (Writes(ops[j]) && Writes(op)) return "a key may be written by one op only";
      if (Writes(ops[j])) return "a check of a key must come before its write";
    }
  }
  *index = -1;
  return nullptr;
}

// One op's key, located under the locks.
struct Located {
  Shard* shard;
  KeyRef ref;
  int64_t ws;  // the workspace's index in the shard, -1 when not registered there
  EntryNode* node;
};

}  // namespace

TxnResult Store::Txn(const TxnRequest& req) {
  TxnResult res;
  if (req.ops == nullptr) {
    res.outcome = Outcome::kInvalid;
    res.error = "no ops";
    return res;
  }
  const std::vector<TxnOp>& ops = *req.ops;
  if (const char* err = Malformed(req, options_.max_value_bytes, &res.op_index, &res.outcome)) {
    res.error = err;
    return res;
  }
  res.outcome = Outcome::kOk;
  const Idempotency<TxnResult>* idem = req.idempotency;
  std::optional<AnswerToLog> answer;
  if (!Claim(req.workspace, idem, &res, &answer)) return res;

  // Lock every shard involved, in index order.
  std::vector<Located> at(ops.size());
  std::vector<uint32_t> order;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Placement p = Place(req.workspace, ops[i].key, static_cast<uint32_t>(shards_.size()));
    at[i].shard = shards_[p.shard].get();
    at[i].ref = KeyRef{0, ops[i].key, p.hash};
    order.push_back(p.shard);
  }
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(order.size());
  for (uint32_t s : order) locks.emplace_back(shards_[s]->mu);

  const int64_t now = options_.clock->NowMs();
  for (Located& l : at) {
    l.ws = l.shard->FindWorkspace(req.workspace);
    if (l.ws >= 0) l.ref.ws_index = static_cast<uint32_t>(l.ws);
    l.node = l.ws < 0 ? nullptr : l.shard->Find(l.ref);
  }

  uint64_t seen = 0;  // the newest record an op decided so far depends on

  // Refuses the transaction at op i (nothing is written); a 409 is
  // remembered for its Idempotency-Key like any answer.
  auto refuse = [&](size_t i, Outcome outcome, const std::string& error) {
    res.outcome = outcome;
    res.op_index = static_cast<int>(i);
    res.expected_version = ops[i].if_match_version;
    res.error = error;
    res.versions.clear();
    // The refusal reveals op i's state and, through its index, that every
    // op before it passed: it waits for all of them.
    res.visible_lsn = std::max(seen, res.failure.visible_lsn);
    if (!answer) return;
    if (outcome != Outcome::kConflict && outcome != Outcome::kPatchFailed) {
      idempotency_.Abandon(req.workspace, idem->key);
      return;
    }
    Outcome log_outcome = outcome;
    std::string log_error;
    const uint64_t lsn = LogAnswerOnly(req.workspace, *answer, &log_outcome, &log_error);
    if (lsn == 0) {
      res.outcome = log_outcome;
      res.error = log_error;
    } else {
      res.visible_lsn = std::max(res.visible_lsn, lsn);
    }
  };

  // Decide every op against the state under the locks.
  const uint64_t max_total = std::min<uint64_t>(4 * options_.max_value_bytes,
                                                wal::kMaxRecordValueBytes);
  uint64_t total = 0;
  std::vector<std::string> values(ops.size());  // patch results (stable: never resized)
  std::vector<wal::CommitOp> commit;
  std::vector<size_t> commit_of;  // op index of each commit entry
  res.versions.resize(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const TxnOp& op = ops[i];
    EntryNode* n = at[i].node;
    const bool live = n != nullptr && n->LiveAt(now);
    if (n != nullptr) seen = std::max(seen, n->lsn);
    if (op.if_match_version && !GuardMatches(*op.if_match_version, n, live)) {
      Conflict(n, now, &res.failure);
      refuse(i, Outcome::kConflict,
             op.type == TxnOp::Type::kCheck ? "check failed" : "if_match_version mismatch");
      return res;
    }
    wal::CommitOp c;
    c.key = op.key;
    switch (op.type) {
      case TxnOp::Type::kCheck:
        res.versions[i] = live ? std::optional<uint64_t>(n->version) : std::nullopt;
        continue;
      case TxnOp::Type::kSet:
        c.type = wal::kRecordPut;
        c.version = (n != nullptr ? n->version : 0) + 1;
        c.expires_at_ms = op.ttl_ms ? now + *op.ttl_ms : 0;
        c.value = op.value;
        break;
      case TxnOp::Type::kPatch: {
        const std::optional<std::string_view> doc =
            live ? std::optional<std::string_view>(n->value()) : std::nullopt;
        PatchError& perr = res.failure.patch_error;
        const bool ok = op.json_patch != nullptr
                            ? ApplyJsonPatch(*op.json_patch, doc, options_.max_value_bytes,
                                             &values[i], &perr)
                            : ApplyMergePatch(*op.merge_patch, doc, options_.max_value_bytes,
                                              &values[i], &perr);
        if (!ok) {
          if (perr.kind == PatchFailure::kFailed) {
            Conflict(n, now, &res.failure, Outcome::kPatchFailed);
            refuse(i, Outcome::kPatchFailed, "patch failed: " + perr.message);
          } else {
            refuse(i, perr.kind == PatchFailure::kTooLarge ? Outcome::kTooLarge
                                                           : Outcome::kInvalid,
                   perr.message);
          }
          return res;
        }
        c.type = wal::kRecordPut;
        c.version = (n != nullptr ? n->version : 0) + 1;
        c.expires_at_ms = op.ttl_ms ? now + *op.ttl_ms : (live ? n->expires_at_ms() : 0);
        c.value = values[i];
        break;
      }
      case TxnOp::Type::kDelete:
        if (!live) {
          res.versions[i] = std::nullopt;
          continue;
        }
        c.type = wal::kRecordTombstone;
        c.version = n->version;
        break;
    }
    total += c.value.size();
    if (total > max_total) {
      refuse(i, Outcome::kTooLarge,
             "transaction writes more than " + std::to_string(max_total) + " bytes");
      return res;
    }
    res.versions[i] = c.version;
    commit.push_back(c);
    commit_of.push_back(i);
  }

  if (commit.empty()) {
    // Only checks (or deletes of absent keys): nothing to write. The
    // current revision: every write at or below it is acknowledged by the
    // time the answer (which waits for `seen`) is sent.
    const uint64_t acked = wal_ ? wal_->acked_lsn() : mem_lsn_.load(std::memory_order_relaxed);
    res.revision = std::max(acked, seen);
    res.visible_lsn = seen;
    if (answer) {
      Outcome log_outcome = Outcome::kOk;
      std::string log_error;
      const uint64_t lsn = LogAnswerOnly(req.workspace, *answer, &log_outcome, &log_error);
      if (lsn == 0) {
        res.outcome = log_outcome;
        res.error = log_error;
        res.versions.clear();
      } else {
        res.visible_lsn = std::max(res.visible_lsn, lsn);
      }
    }
    return res;
  }

  // Each expired version the transaction replaces is logged as expired
  // first, in op order, all locks held. Should the log refuse one (or the
  // commit below), the expire records already logged stand: they are true.
  for (size_t k = 0; k < commit.size(); ++k) {
    Located& l = at[commit_of[k]];
    if (!ExpireBeforeWrite(*l.shard, req.workspace, &l.node, now, answer ? &*answer : nullptr,
                           &res.outcome, &res.error)) {
      res.versions.clear();
      return res;  // the transaction applied nothing
    }
  }
  wal::Record r;
  r.type = wal::kRecordCommit;
  r.updated_at_ms = now;
  r.workspace = req.workspace;
  r.ops = commit;
  r.writer = req.writer;
  const uint64_t lsn = Log(&r, &res.outcome, &res.error, answer ? &*answer : nullptr);
  if (lsn == 0) {  // nothing applied
    res.versions.clear();
    return res;
  }
  const uint64_t acked = wal_ ? wal_->acked_lsn() : UINT64_MAX;
  for (size_t k = 0; k < commit.size(); ++k) {
    Located& l = at[commit_of[k]];
    const wal::CommitOp& c = commit[k];
    // Registered now (another op of this transaction may have done it
    // already in this shard: Register then returns the same index).
    if (l.ws < 0) l.ref.ws_index = Register(*l.shard, req.workspace);
    const NodeState state{lsn, c.version, now, c.expires_at_ms, req.writer};
    if (c.type == wal::kRecordPut) {
      l.shard->ApplyPut(l.ref, l.node, c.value, state);
    } else {
      l.shard->ApplyTombstone(l.ref, l.node, state, acked);
    }
  }
  res.revision = lsn;
  res.visible_lsn = std::max(seen, lsn);
  return res;
}

}  // namespace casmem
