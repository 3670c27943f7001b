// Store operations: Get, Put, Delete, List and the visibility hand-off.
// Lifecycle (open, recovery, snapshots, sweep, close) is in store_lifecycle.cc.
#include <algorithm>

#include "engine/names.h"
#include "engine/shard.h"
#include "engine/shard_of.h"
#include "engine/store.h"
#include "engine/store_internal.h"

namespace casmem {

Entry ToEntry(const EntryNode& n) {
  return Entry{std::string(n.key()), std::string(n.value()), n.version,     n.lsn,
               n.updated_at_ms(),    n.expires_at_ms(),     std::string(n.writer())};
}

void Conflict(const EntryNode* n, int64_t now, WriteResult* res, Outcome outcome) {
  res->outcome = outcome;
  if (n != nullptr && n->LiveAt(now)) {
    res->current_version = n->version;
    res->current_value = std::string(n->value());
    if (n->writer_len != 0) res->current_writer = std::string(n->writer());
  }
  res->visible_lsn = n != nullptr ? n->lsn : 0;
}

const char* WriterProblem(std::string_view writer) {
  if (writer.size() > wal::kMaxWriterBytes) return "writer longer than 128 bytes";
  for (char c : writer) {
    if (c < 0x20 || c > 0x7e) return "writer must be printable ASCII";
  }
  return nullptr;
}

bool Store::ClaimKey(std::string_view ws, std::string_view key, std::string_view fingerprint,
                     Outcome* outcome, Replay* replay, uint64_t* visible_lsn,
                     std::string* error) {
  bool printable = !key.empty() && key.size() <= wal::kMaxIdempotencyKeyBytes;
  for (char c : key) printable = printable && c >= 0x20 && c < 0x7f;
  if (!printable || fingerprint.size() != wal::kFingerprintBytes) {
    *outcome = Outcome::kInvalid;
    *error = !printable ? "Idempotency-Key must be 1-255 printable ASCII characters"
                        : "bad request fingerprint";
    return false;
  }
  if (wal_ && wal_->failed()) {
    // An answer logged before the failure may never be acknowledged: the
    // repeat gets the failure, not "in progress" for ever.
    *outcome = Outcome::kStorageFailed;
    *error = "storage unavailable";
    return false;
  }
  const uint64_t acked = wal_ ? wal_->acked_lsn() : UINT64_MAX;
  uint64_t lsn = 0;
  switch (idempotency_.Begin(ws, key, fingerprint, acked, &replay->status, &replay->body, &lsn)) {
    case IdempotencyTable::Claim::kNew:
      return true;
    case IdempotencyTable::Claim::kReplay:
      *outcome = Outcome::kReplay;
      *visible_lsn = lsn;
      return false;
    case IdempotencyTable::Claim::kReused:
      *outcome = Outcome::kIdempotencyReused;
      return false;
    case IdempotencyTable::Claim::kInProgress:
      *outcome = Outcome::kInProgress;
      return false;
  }
  return false;
}

uint64_t Store::LogAnswerOnly(std::string_view ws, const AnswerToLog& answer, Outcome* outcome,
                              std::string* error) {
  wal::Record r;
  r.type = wal::kRecordCommit;
  r.updated_at_ms = options_.clock->NowMs();
  r.workspace = ws;
  return Log(&r, outcome, error, &answer);
}

Shard& Store::ShardFor(std::string_view workspace, std::string_view key, uint64_t* hash) {
  const Placement p = Place(workspace, key, static_cast<uint32_t>(shards_.size()));
  *hash = p.hash;
  return *shards_[p.shard];
}

uint32_t Store::Register(Shard& sh, std::string_view workspace) {
  bool added = false;
  const uint32_t index = sh.AddWorkspace(workspace, &added);
  if (added) {
    std::lock_guard lk(ws_names_mu_);
    if (ws_names_[std::string(workspace)]++ == 0) workspaces_.fetch_add(1, std::memory_order_relaxed);
  }
  return index;
}

void Store::Unregister(const std::vector<std::string>& released) {
  if (released.empty()) return;
  std::lock_guard lk(ws_names_mu_);
  for (const std::string& name : released) {
    auto it = ws_names_.find(name);
    if (--it->second == 0) {
      ws_names_.erase(it);
      workspaces_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

uint64_t Store::Log(wal::Record* r, Outcome* outcome, std::string* error) {
  return Log(r, outcome, error, nullptr);
}

uint64_t Store::Log(wal::Record* r, Outcome* outcome, std::string* error,
                    const AnswerToLog* answer) {
  // The answer names the record's lsn (its revision), so it is rendered
  // under the log's mutex once the lsn is assigned, and encoded with it.
  IdempotencyAnswer rendered;
  auto fill = [&](wal::Record* rec) {
    rendered = answer->answer(rec->lsn);
    rec->has_idempotency = true;
    rec->idempotency = wal::IdempotencyPart{answer->key, answer->fingerprint,
                                            static_cast<uint16_t>(rendered.status), rendered.body};
  };
  uint64_t lsn;
  if (!wal_) {
    // Memory-only: revisions from a counter, no log; the encoded record
    // still goes to the change history, in lsn order (hence one mutex for
    // both).
    std::lock_guard lk(mem_log_mu_);
    lsn = r->lsn = mem_lsn_.load(std::memory_order_relaxed) + 1;
    if (answer != nullptr) fill(r);
    mem_log_buf_.clear();
    wal::AppendRecord(*r, &mem_log_buf_);
    mem_lsn_.store(lsn, std::memory_order_relaxed);
    history_->Append(mem_log_buf_, lsn, lsn);
    if (mem_log_buf_.capacity() > (1u << 20)) std::string().swap(mem_log_buf_);
  } else {
    Status why;
    lsn = answer != nullptr ? wal_->Append(r, &why, fill) : wal_->Append(r, &why);
    if (lsn == 0) {
      *outcome = why.IsBusy() ? Outcome::kBusy : Outcome::kStorageFailed;
      *error = why.message().empty() ? "storage unavailable" : why.message();
      if (answer != nullptr) idempotency_.Abandon(r->workspace, answer->key);
      return 0;
    }
  }
  // The claim becomes the answer outside the log's mutex but still under
  // the caller's shard lock(s): a snapshot whose start covers this lsn
  // copies every shard (waiting for those locks) before the answers, so it
  // finds the answer complete.
  if (answer != nullptr) {
    idempotency_.Complete(r->workspace, answer->key, rendered.status, std::move(rendered.body),
                          lsn, r->updated_at_ms, wal_ ? wal_->acked_lsn() : UINT64_MAX);
  }
  return lsn;
}

uint64_t Store::LogExpiry(std::string_view ws, const EntryNode& n, Outcome* outcome,
                          std::string* error) {
  wal::Record r;
  r.type = wal::kRecordTombstone;
  r.expired = true;
  r.version = n.version;  // the tombstone remembers the expired version
  r.updated_at_ms = n.expires_at_ms();  // dead since its expiry; no writer
  r.workspace = ws;
  r.key = n.key();
  return Log(&r, outcome, error);
}

bool Store::ExpireBeforeWrite(Shard& sh, std::string_view ws, EntryNode** n, int64_t now,
                              const AnswerToLog* answer, Outcome* outcome, std::string* error) {
  // Read before the record is appended: its lsn is above it, so the
  // removal counts as unacknowledged for listings (see Shard::Unlink).
  const uint64_t acked = wal_ ? wal_->acked_lsn() : UINT64_MAX;
  const Shard::ExpiryLog log = [&](std::string_view w, const EntryNode& node) {
    return LogExpiry(w, node, outcome, error);
  };
  if (sh.ExpireBeforeWrite(n, now, acked, log)) return true;
  if (answer != nullptr) idempotency_.Abandon(ws, answer->key);
  return false;
}

uint64_t Store::revision() const {
  return wal_ ? wal_->last_lsn() : mem_lsn_.load(std::memory_order_relaxed);
}

GetResult Store::Get(std::string_view workspace, std::string_view key) {
  GetResult res;
  if (CheckKey(workspace, key) != nullptr) {
    res.outcome = Outcome::kInvalid;
    return res;
  }
  uint64_t hash;
  Shard& sh = ShardFor(workspace, key, &hash);
  std::lock_guard lk(sh.mu);
  const int64_t ws = sh.FindWorkspace(workspace);
  if (ws < 0) return res;
  const EntryNode* n = sh.Find(KeyRef{static_cast<uint32_t>(ws), key, hash});
  if (n == nullptr) return res;
  res.visible_lsn = n->lsn;  // a 404 after a delete reveals the delete
  if (!n->LiveAt(options_.clock->NowMs())) return res;
  res.outcome = Outcome::kOk;
  res.entry = ToEntry(*n);
  return res;
}

WriteResult Store::Put(const PutRequest& req) {
  WriteResult res;
  const char* err = CheckKey(req.workspace, req.key);
  if (err == nullptr) err = WriterProblem(req.writer);
  if (err != nullptr) {
    res.outcome = Outcome::kInvalid;
    res.error = err;
    return res;
  }
  if (req.value.empty() || req.value.size() > options_.max_value_bytes) {
    res.outcome = req.value.empty() ? Outcome::kInvalid : Outcome::kTooLarge;
    res.error = req.value.empty() ? "value must not be empty"
                                  : "value larger than " + std::to_string(options_.max_value_bytes) +
                                        " bytes";
    return res;
  }
  if (req.ttl_ms < 0) {
    res.outcome = Outcome::kInvalid;
    res.error = "ttl must not be negative";
    return res;
  }
  const Idempotency<WriteResult>* idem = req.idempotency;
  std::optional<AnswerToLog> answer;
  if (!Claim(req.workspace, idem, &res, &answer)) return res;
  uint64_t hash;
  Shard& sh = ShardFor(req.workspace, req.key, &hash);
  std::lock_guard lk(sh.mu);
  const int64_t now = options_.clock->NowMs();
  // The workspace is registered only once the write is sure to apply
  // (below): a refused write must leave no trace, or names sent by
  // clients would grow the table without bound.
  const int64_t ws = sh.FindWorkspace(req.workspace);
  KeyRef ref{ws < 0 ? 0 : static_cast<uint32_t>(ws), req.key, hash};
  EntryNode* n = ws < 0 ? nullptr : sh.Find(ref);
  const bool live = n != nullptr && n->LiveAt(now);
  if (req.if_match_version && !GuardMatches(*req.if_match_version, n, live)) {
    Conflict(n, now, &res);
    if (answer) RememberRefusal(req.workspace, *answer, &res);
    return res;
  }
  // An expired version being replaced is logged as expired first.
  if (!ExpireBeforeWrite(sh, req.workspace, &n, now, answer ? &*answer : nullptr, &res.outcome,
                         &res.error)) {
    return res;  // nothing applied
  }
  wal::Record r;
  r.type = wal::kRecordPut;
  r.version = (n != nullptr ? n->version : 0) + 1;
  r.updated_at_ms = now;
  r.expires_at_ms = req.ttl_ms > 0 ? now + req.ttl_ms : 0;
  r.workspace = req.workspace;
  r.key = req.key;
  r.value = req.value;
  r.writer = req.writer;
  res.version = r.version;
  res.applied = true;
  const uint64_t lsn = Log(&r, &res.outcome, &res.error, answer ? &*answer : nullptr);
  if (lsn == 0) {  // nothing applied
    res.applied = false;
    return res;
  }
  if (ws < 0) ref.ws_index = Register(sh, req.workspace);
  sh.ApplyPut(ref, n, req.value,
              NodeState{lsn, r.version, r.updated_at_ms, r.expires_at_ms, req.writer});
  res.revision = lsn;
  res.visible_lsn = lsn;
  return res;
}

void Store::RememberRefusal(std::string_view ws, const AnswerToLog& answer, WriteResult* res) {
  // The answer lives in a record of its own, after the state it reveals.
  Outcome outcome = res->outcome;
  std::string error;
  const uint64_t lsn = LogAnswerOnly(ws, answer, &outcome, &error);
  if (lsn == 0) {  // not remembered: answer the log's refusal instead
    res->outcome = outcome;
    res->error = error;
    return;
  }
  res->visible_lsn = std::max(res->visible_lsn, lsn);
}

WriteResult Store::Delete(const DeleteRequest& req) {
  WriteResult res;
  const char* err = CheckKey(req.workspace, req.key);
  if (err == nullptr) err = WriterProblem(req.writer);
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
  const KeyRef ref{static_cast<uint32_t>(ws < 0 ? 0 : ws), req.key, hash};
  EntryNode* n = ws < 0 ? nullptr : sh.Find(ref);
  const bool live = n != nullptr && n->LiveAt(now);
  if (req.if_match_version && !GuardMatches(*req.if_match_version, n, live)) {
    Conflict(n, now, &res);
    if (answer) RememberRefusal(req.workspace, *answer, &res);
    return res;
  }
  if (!live) {  // already absent: nothing to log but a remembered answer
    res.version = n != nullptr ? n->version : 0;
    res.visible_lsn = n != nullptr ? n->lsn : 0;
    if (answer) RememberRefusal(req.workspace, *answer, &res);
    return res;
  }
  wal::Record r;
  r.type = wal::kRecordTombstone;
  r.version = n->version;  // the tombstone remembers the last version
  r.updated_at_ms = now;
  r.workspace = req.workspace;
  r.key = req.key;
  r.writer = req.writer;
  res.version = r.version;
  res.applied = true;
  const uint64_t lsn = Log(&r, &res.outcome, &res.error, answer ? &*answer : nullptr);
  if (lsn == 0) {  // nothing applied
    res.applied = false;
    return res;
  }
  sh.ApplyTombstone(ref, n, NodeState{lsn, r.version, now, 0, req.writer},
                    wal_ ? wal_->acked_lsn() : UINT64_MAX);
  res.revision = lsn;
  res.visible_lsn = lsn;
  return res;
}

ListResult Store::List(std::string_view workspace, std::string_view prefix,
                       std::string_view after, size_t limit) {
  ListResult out;
  if (!StoredWorkspace(workspace) || limit == 0) return out;
  const size_t want = limit + 1;  // one extra tells whether more remain
  const bool from_after = !after.empty() && after >= prefix;
  const std::string_view start = from_after ? after : prefix;
  const int64_t now = options_.clock->NowMs();

  // Visibility: the listing reveals the entries it returns (and the one
  // past the limit, through `more`) and the absence of every other key in
  // the range it covered. An absence depends on the record that removed
  // the key: a skipped expired entry's put, or for keys no longer in a
  // tree the shard's Removals, taken every time a shard is locked (a
  // delete between two visits counts too) and kept while they may reach
  // below the end of the covered range, known only at the end. `depends`
  // is the newest of those lsns. Not the log's last lsn: that would tie
  // every listing to unrelated writes, and after a log failure to a write
  // that can never be acknowledged.
  uint64_t depends = 0;
  auto need = [&](uint64_t lsn) { depends = std::max(depends, lsn); };
  struct Removed {
    uint64_t lsn;
    std::string lo;
  };
  std::vector<Removed> removed;  // empty unless removals are in flight
  auto removals = [&](const Shard& sh, uint32_t ws) {
    const uint64_t acked = wal_ ? wal_->acked_lsn() : UINT64_MAX;
    const Shard::Removals r = sh.RemovalsFrom(ws, prefix, start, acked);
    if (r.lsn != 0) removed.push_back({r.lsn, std::string(r.lo)});
  };

  // From `it`, the first live node with the prefix; end() when the shard
  // has nothing more to give (keys past the prefix range end it too).
  auto skip = [&](WorkspaceTree& tree, WorkspaceTree::iterator it) {
    for (; it != tree.end() && !it->LiveAt(now) && it->key().starts_with(prefix); ++it) {
      need(it->lsn);  // expired: its absence depends on the put that set the TTL
    }
    if (it != tree.end() && !it->key().starts_with(prefix)) it = tree.end();
    return it;
  };
  auto seek = [&](WorkspaceTree& tree, std::string_view from, bool exclusive) {
    return skip(tree, exclusive ? tree.upper_bound(from, KeyLess()) : tree.lower_bound(from, KeyLess()));
  };

  // A k-way merge over the shards. Each heap item is a shard and the next
  // key it will yield; the shard with the smallest key gives keys until it
  // passes the smallest key of the others. One shard lock at a time.
  struct Head {
    std::string key;
    uint32_t shard;
  };
  auto later = [](const Head& a, const Head& b) { return a.key > b.key; };
  std::vector<Head> heap;
  for (uint32_t i = 0; i < shards_.size(); ++i) {
    Shard& sh = *shards_[i];
    std::lock_guard lk(sh.mu);
    const int64_t ws = sh.FindWorkspace(workspace);
    if (ws < 0) continue;  // nothing here, and nothing unacknowledged removed (see Sweep)
    removals(sh, static_cast<uint32_t>(ws));
    WorkspaceTree& tree = sh.Tree(static_cast<uint32_t>(ws));
    auto it = seek(tree, start, from_after);
    if (it != tree.end()) heap.push_back({std::string(it->key()), i});
  }
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty() && out.entries.size() < want) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Head head = std::move(heap.back());
    heap.pop_back();
    const std::string* bound = heap.empty() ? nullptr : &heap.front().key;
    Shard& sh = *shards_[head.shard];
    std::lock_guard lk(sh.mu);
    // Released since the first pass: it emptied, so it has nothing to give.
    const int64_t ws = sh.FindWorkspace(workspace);
    if (ws < 0) continue;
    removals(sh, static_cast<uint32_t>(ws));
    WorkspaceTree& tree = sh.Tree(static_cast<uint32_t>(ws));
    auto it = seek(tree, head.key, false);
    while (it != tree.end() && out.entries.size() < want) {
      if (bound != nullptr && it->key() > *bound) break;
      need(it->lsn);
      out.entries.push_back(ToEntry(*it));
      it = skip(tree, std::next(it));
    }
    if (it != tree.end() && out.entries.size() < want) {
      head.key.assign(it->key());
      heap.push_back(std::move(head));
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
  // A listing cut by the limit covered keys up to the one behind `more`,
  // and reveals nothing about the keys after it.
  const bool cut = out.entries.size() > limit;
  for (const Removed& r : removed) {
    if (!cut || r.lo <= out.entries.back().key) need(r.lsn);
  }
  if (cut) {
    out.entries.pop_back();
    out.more = true;
  }
  out.visible_lsn = wal_ ? depends : 0;
  return out;
}

void Store::WhenVisible(uint64_t lsn, wal::DurableCallback cb) {
  if (!wal_ || lsn == 0) {
    cb(Status::OK());
    return;
  }
  wal_->WhenAcked(lsn, std::move(cb));
}

Status Store::WaitVisible(uint64_t lsn) {
  if (!wal_ || lsn == 0) return Status::OK();
  return wal_->WaitAcked(lsn);
}

StoreCounters Store::counters() const {
  StoreCounters c;
  for (const auto& sh : shards_) {
    std::lock_guard lk(sh->mu);
    c.live_keys += sh->linked_count();
    c.tombstones += sh->tombstone_count();
  }
  c.workspaces = workspaces_.load(std::memory_order_relaxed);
  c.sweep_scans = sweep_scans_.load(std::memory_order_relaxed);
  c.idempotency_entries = idempotency_.entries();
  c.idempotency_bytes = idempotency_.bytes();
  c.idempotency_evicted = idempotency_.evicted();
  return c;
}

Status Store::health() const { return wal_ ? wal_->health() : Status::OK(); }

}  // namespace casmem
