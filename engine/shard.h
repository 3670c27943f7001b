// Shard: one hash partition of the store. It owns its entries (a flat hash
// set of EntryNode pointers keyed by (workspace, key)), one ordered tree of
// live entries per workspace for listing, and the mutex that guards all of
// it.
//
// Threading contract: every method REQUIRES `mu` held by the caller. The
// store holds it across "look up, decide, append to the log, apply", which
// is what makes compare-and-set atomic and keeps the log order of one
// key's records equal to the order their effects became visible. No
// operation holds two shard locks at once.
#pragma once

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
};

class alignas(64) Shard {
 public:
  Shard();
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  std::mutex mu;

  // Workspace table: index of `name`, or -1.
  int64_t FindWorkspace(std::string_view name) const;
  uint32_t AddWorkspace(std::string_view name);
  std::string_view WorkspaceName(uint32_t ws_index) const { return workspaces_[ws_index]->name; }
  WorkspaceTree& Tree(uint32_t ws_index) { return workspaces_[ws_index]->tree; }

  EntryNode* Find(const KeyRef& k) const;

  // Makes the key live with `value` and `state`. `n` is Find()'s result
  // (nullptr for a new key). Returns the node now holding the key.
  EntryNode* ApplyPut(const KeyRef& k, EntryNode* n, std::string_view value, const NodeState& state);
  // Makes the key a tombstone (creating one when `n` is null: recovery).
  EntryNode* ApplyTombstone(const KeyRef& k, EntryNode* n, const NodeState& state);

  // Expired live entries become tombstones (dead since their expiry);
  // tombstones dead for at least `retention_ms` are forgotten. Returns at
  // once, without scanning, when nothing can be due yet. True if it scanned.
  bool Sweep(int64_t now_ms, int64_t retention_ms);

  // Visits every node, live or tombstone, in no particular order.
  void ForEach(const std::function<void(const EntryNode&)>& fn) const;

  uint64_t ws_hash(uint32_t ws_index) const { return workspaces_[ws_index]->hash; }
  size_t linked_count() const { return linked_; }      // live + expired-not-swept
  size_t tombstone_count() const { return tombstones_; }

 private:
  struct Workspace {
    std::string name;
    uint64_t hash;  // XXH3(name, kShardSeed): the seed of its keys' hashes
    WorkspaceTree tree;
  };
  EntryNode* Relocate(const KeyRef& k, EntryNode* from, EntryNode* to);
  void Unlink(EntryNode* n);

  boost::unordered_flat_set<EntryNode*, NodeHash, NodeEq> nodes_;
  boost::unordered_flat_map<std::string, uint32_t> ws_ids_;
  std::vector<std::unique_ptr<Workspace>> workspaces_;
  size_t linked_ = 0;
  size_t tombstones_ = 0;
  // What lets Sweep skip its scan. Invariant: no live entry expires before
  // next_expiry_ms_ and no tombstone died before oldest_tombstone_ms_
  // (kNever: there is none). Exact after a scan; only lowered in between.
  static constexpr int64_t kNever = INT64_MAX;
  int64_t next_expiry_ms_ = kNever;
  int64_t oldest_tombstone_ms_ = kNever;
};

}  // namespace casmem
