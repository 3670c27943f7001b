// Shard: one hash partition of the store. It owns its entries (a flat hash
// set of EntryNode pointers keyed by (workspace, key)), its workspace table
// (one ordered tree of live entries per workspace, for listing), and the
// mutex that guards all of it.
//
// Workspace table invariants:
// - a workspace is registered exactly while it holds a node (live,
//   expired-not-swept or tombstone): the store registers it on an applied
//   write, Sweep releases it when it purges the last tombstone, and its
//   index goes on a free list for the next registration;
// - a node's ws_index names a registered workspace (NodeHash needs it).
//
// Threading contract: every method REQUIRES `mu` held by the caller. The
// store holds it across "look up, decide, append to the log, apply", which
// is what makes compare-and-set atomic and keeps the log order of one
// key's records equal to the order their effects became visible. Only a
// transaction holds several shard locks, taken in shard-index order.
#pragma once

#include <xxhash.h>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/entry_node.h"

namespace casmem {

class Shard;

// What a lookup knows before touching the set: workspace, key and
// WorkspaceKeyHash(workspace, key).
struct KeyRef {
  uint32_t ws_index;
  std::string_view key;
  uint64_t hash;
};

struct NodeHash {
  using is_transparent = void;
  using is_avalanching = void;
  const Shard* shard;
  size_t operator()(const EntryNode* n) const;
  size_t operator()(const KeyRef& k) const;
};

struct NodeEq {
  using is_transparent = void;
  bool operator()(const EntryNode* a, const EntryNode* b) const {
    return a->ws_index == b->ws_index && a->key() == b->key();
  }
  bool operator()(const KeyRef& a, const EntryNode* b) const {
    return a.ws_index == b->ws_index && a.key == b->key();
  }
  bool operator()(const EntryNode* a, const KeyRef& b) const { return (*this)(b, a); }
};

// The state a write leaves behind; the same fields as a log record.
struct NodeState {
  uint64_t lsn = 0;
  uint64_t version = 0;
  int64_t updated_at_ms = 0;
  int64_t expires_at_ms = 0;
  std::string_view writer;  // Casmem-Writer; empty = none (must not view into the node)
};

class alignas(64) Shard {
 public:
  Shard();
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  std::mutex mu;

  // Workspace table: index of `name`, or -1 when it holds nothing here.
  int64_t FindWorkspace(std::string_view name) const;
  // Registers `name` (reusing a released index) unless it is already;
  // *added says which. Only for a write about to be applied: the caller
  // must give the workspace a node before releasing the lock.
  uint32_t AddWorkspace(std::string_view name, bool* added = nullptr);
  std::string_view WorkspaceName(uint32_t ws_index) const { return workspaces_[ws_index]->name; }
  WorkspaceTree& Tree(uint32_t ws_index) { return workspaces_[ws_index]->tree; }
  // What a listing of keys >= `start` with `prefix` may reveal the absence
  // of, while the log has acknowledged `acked_lsn`: lsn is the newest
  // record that took a key of this workspace out of its tree (a delete, or
  // the sweep's expire record), and every such key not yet known
  // acknowledged is >= `lo`. lsn 0: every removal that could fall in that
  // range is acknowledged. `lo` stays valid until the lock is released.
  struct Removals {
    uint64_t lsn = 0;
    std::string_view lo;
  };
  Removals RemovalsFrom(uint32_t ws_index, std::string_view prefix, std::string_view start,
                        uint64_t acked_lsn) const;

  EntryNode* Find(const KeyRef& k) const;

  // Makes the key live with `value` and `state`. `n` is Find()'s result
  // (nullptr for a new key). Returns the node now holding the key.
  EntryNode* ApplyPut(const KeyRef& k, EntryNode* n, std::string_view value, const NodeState& state);
  // Makes the key a tombstone (creating one when `n` is null: recovery).
  // `acked_lsn`: the log's acknowledged lsn now (see RemovalsFrom).
  EntryNode* ApplyTombstone(const KeyRef& k, EntryNode* n, const NodeState& state,
                            uint64_t acked_lsn);

  // Logs the expiry of live node `n` of `workspace`, whose TTL ran out,
  // as a change of its own (a tombstone record flagged expired, under the
  // shard lock like any write): returns the record's lsn, or 0 when the
  // log refused it (nothing was logged).
  using ExpiryLog = std::function<uint64_t(std::string_view workspace, const EntryNode& n)>;

  // Before a write applies to the key held by `*n` (Find()'s result, or
  // null): when that node is live but expired at `now_ms`, logs its expiry
  // through `log_expiry` and turns it into that tombstone exactly as Sweep
  // does, so the expire change precedes the write in the log and the write
  // continues at the tombstone's version + 1. *n is then the node holding
  // the key (it may have moved). False when the log refused the record:
  // nothing changed. `acked_lsn`: the log's acknowledged lsn (see
  // RemovalsFrom), read before logging.
  bool ExpireBeforeWrite(EntryNode** n, int64_t now_ms, uint64_t acked_lsn,
                         const ExpiryLog& log_expiry);

  // Expired live entries are logged through `log_expiry`, oldest expiry
  // first, and become tombstones (dead since their expiry, lsn = the
  // expiry record's). One the log refuses stays as it is (reads already
  // treat it as absent) and the next sweep tries again; a null
  // `log_expiry` (the log has failed for good) expires nothing and makes
  // no sweep scan for expiry. Tombstones dead for at least `retention_ms`
  // and whose lsn is at most `purge_through_lsn` (acknowledged: a purge
  // reveals the delete or expiry, as a later 404 without it has nothing
  // to wait for) are forgotten, unlogged, and a workspace left with no
  // node is released (its name appended to *released). Returns at once,
  // without scanning, when nothing can be due yet. True if it scanned.
  bool Sweep(int64_t now_ms, int64_t retention_ms, uint64_t purge_through_lsn,
             const ExpiryLog& log_expiry, std::vector<std::string>* released);

  // Visits every node, live or tombstone, in no particular order.
  void ForEach(const std::function<void(const EntryNode&)>& fn) const;

  uint64_t ws_hash(uint32_t ws_index) const { return workspaces_[ws_index]->hash; }
  size_t linked_count() const { return linked_; }      // live + expired-not-swept
  size_t tombstone_count() const { return tombstones_; }

 private:
  struct Workspace {
    std::string name;
    uint64_t hash;  // WorkspaceHash(name): the seed of its keys' hashes
    WorkspaceTree tree;
    size_t nodes = 0;  // live + expired + tombstones; 0 only while being registered
    // Removals (see RemovalsFrom): removed_lsn is the newest; every one not
    // acknowledged when the window last restarted has its key in
    // [window->lo, window->hi]. Null until the first removal; empty lo:
    // no window.
    uint64_t removed_lsn = 0;
    struct Window {
      std::string lo, hi;
    };
    std::unique_ptr<Window> window;
  };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return XXH3_64bits(s.data(), s.size()); }
  };
  EntryNode* NewNode(const KeyRef& k, std::string_view value, std::string_view writer);
  EntryNode* Relocate(const KeyRef& k, EntryNode* from, EntryNode* to);
  // Takes live `n` out of its tree because of the record at `lsn`, while
  // the log has acknowledged `acked_lsn`.
  void Unlink(EntryNode* n, uint64_t lsn, uint64_t acked_lsn);
  // Turns live-but-expired `n` into the tombstone its expire record (at
  // `lsn`) describes: dead since its expiry, same version, no writer.
  // Returns the node now holding the key.
  EntryNode* ApplyExpiry(EntryNode* n, uint64_t lsn, uint64_t acked_lsn);
  void ReleaseWorkspace(uint32_t ws_index, std::vector<std::string>* released);

  boost::unordered_flat_set<EntryNode*, NodeHash, NodeEq> nodes_;
  boost::unordered_flat_map<std::string, uint32_t, NameHash, std::equal_to<>> ws_ids_;
  // Indexed by ws_index; null at a released index (then listed in free_ws_).
  std::vector<std::unique_ptr<Workspace>> workspaces_;
  std::vector<uint32_t> free_ws_;
  size_t linked_ = 0;
  size_t tombstones_ = 0;
  // What lets Sweep skip its scan. Invariant: no live entry expires before
  // next_expiry_ms_ (one whose expiry the log refused included); every tombstone either died no earlier than
  // oldest_tombstone_ms_ (kNever: there is none) or was found due but not
  // yet acknowledged by a scan, and then has lsn >= min_blocked_lsn_
  // (kNoLsn: none). Exact after a scan; only lowered in between.
  static constexpr int64_t kNever = INT64_MAX;
  static constexpr uint64_t kNoLsn = UINT64_MAX;
  int64_t next_expiry_ms_ = kNever;
  int64_t oldest_tombstone_ms_ = kNever;
  uint64_t min_blocked_lsn_ = kNoLsn;
};

}  // namespace casmem
