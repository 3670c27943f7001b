// Shard: hash set + per-workspace trees, kept consistent on every change.
#include "engine/shard.h"

#include <algorithm>

#include "engine/shard_of.h"

namespace casmem {
namespace {
// The shard was chosen from the high bits of the same hash, so every key
// of one shard shares them; the flat set indexes by high bits too. A
// finaliser (murmur3 fmix64) spreads all 64 bits again.
inline size_t Spread(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return static_cast<size_t>(h);
}
}  // namespace

size_t NodeHash::operator()(const EntryNode* n) const {
  return Spread(KeyHash(shard->ws_hash(n->ws_index), n->key()));
}
size_t NodeHash::operator()(const KeyRef& k) const { return Spread(k.hash); }

Shard::Shard() : nodes_(0, NodeHash{this}, NodeEq{}) {}

Shard::~Shard() {
  for (auto& ws : workspaces_)
    if (ws) ws->tree.clear();
  for (EntryNode* n : nodes_) FreeEntryNode(n);
}

int64_t Shard::FindWorkspace(std::string_view name) const {
  auto it = ws_ids_.find(name);
  return it == ws_ids_.end() ? -1 : static_cast<int64_t>(it->second);
}

uint32_t Shard::AddWorkspace(std::string_view name, bool* added) {
  if (added != nullptr) *added = false;
  if (auto it = ws_ids_.find(name); it != ws_ids_.end()) return it->second;
  auto ws = std::make_unique<Workspace>();
  ws->name = std::string(name);
  ws->hash = WorkspaceHash(name);
  uint32_t index;
  if (!free_ws_.empty()) {
    index = free_ws_.back();
    free_ws_.pop_back();
    workspaces_[index] = std::move(ws);
  } else {
    index = static_cast<uint32_t>(workspaces_.size());
    workspaces_.push_back(std::move(ws));
  }
  ws_ids_.emplace(std::string(name), index);
  if (added != nullptr) *added = true;
  return index;
}

void Shard::ReleaseWorkspace(uint32_t ws_index, std::vector<std::string>* released) {
  std::unique_ptr<Workspace> ws = std::move(workspaces_[ws_index]);
  ws_ids_.erase(std::string_view(ws->name));
  free_ws_.push_back(ws_index);
  if (released != nullptr) released->push_back(std::move(ws->name));
}

EntryNode* Shard::Find(const KeyRef& k) const {
  auto it = nodes_.find(k);
  return it == nodes_.end() ? nullptr : *it;
}

EntryNode* Shard::NewNode(const KeyRef& k, std::string_view value, std::string_view writer) {
  EntryNode* n = NewEntryNode(k.ws_index, k.key, value, writer);
  n->tombstone = true;  // not linked (yet)
  nodes_.insert(n);
  ++tombstones_;
  ++workspaces_[k.ws_index]->nodes;
  return n;
}

EntryNode* Shard::Relocate(const KeyRef& k, EntryNode* from, EntryNode* to) {
  if (from == to) return to;
  WorkspaceTree& tree = Tree(k.ws_index);
  if (!from->tombstone) tree.replace_node(tree.iterator_to(*from), *to);
  // `to` has the same (workspace, key) as `from`, so its hash and equality
  // are unchanged: overwriting the stored pointer in place is sound.
  auto it = nodes_.find(k);
  const_cast<EntryNode*&>(*it) = to;
  FreeEntryNode(from);
  return to;
}

void Shard::Unlink(EntryNode* n, uint64_t lsn, uint64_t acked_lsn) {
  Workspace& ws = *workspaces_[n->ws_index];
  ws.tree.erase(ws.tree.iterator_to(*n));
  --linked_;
  // An acknowledged removal (the sweep expiring a key whose TTL put is
  // durable) may be revealed at once: it needs no place in the window, and
  // widening the window with it would hold back listings of keys between
  // it and an unacknowledged removal (forever, after a log failure).
  if (lsn <= acked_lsn) return;
  const std::string_view key = n->key();
  if (!ws.window) ws.window = std::make_unique<Workspace::Window>();
  Workspace::Window& w = *ws.window;
  if (w.lo.empty() || ws.removed_lsn <= acked_lsn) {
    // Every earlier removal is acknowledged: the window restarts here.
    w.lo.assign(key);
    w.hi.assign(key);
  } else if (key < w.lo) {
    w.lo.assign(key);
  } else if (key > w.hi) {
    w.hi.assign(key);
  }
  ws.removed_lsn = std::max(ws.removed_lsn, lsn);
}

Shard::Removals Shard::RemovalsFrom(uint32_t ws_index, std::string_view prefix,
                                    std::string_view start, uint64_t acked_lsn) const {
  const Workspace& ws = *workspaces_[ws_index];
  if (!ws.window || ws.window->lo.empty() || ws.removed_lsn <= acked_lsn) return {};
  const std::string_view lo = ws.window->lo, hi = ws.window->hi;
  // Every key of the window is below the range, or above every key with
  // the prefix (lo > prefix without starting with it): nothing to reveal.
  if (hi < start || (lo > prefix && !lo.starts_with(prefix))) return {};
  return {ws.removed_lsn, lo};
}

EntryNode* Shard::ApplyPut(const KeyRef& k, EntryNode* n, std::string_view value,
                           const NodeState& state) {
  if (n == nullptr) {
    n = NewNode(k, value, state.writer);  // becomes live below
  } else {
    n = Relocate(k, n, WithValue(n, value, state.writer));
  }
  if (n->tombstone) {
    n->tombstone = false;
    Tree(k.ws_index).insert(*n);
    ++linked_;
    --tombstones_;
  }
  n->lsn = state.lsn;
  n->version = state.version;
  n->set_updated_at_ms(state.updated_at_ms);
  n->set_expires_at_ms(state.expires_at_ms);
  if (state.expires_at_ms != 0) next_expiry_ms_ = std::min(next_expiry_ms_, state.expires_at_ms);
  return n;
}

EntryNode* Shard::ApplyTombstone(const KeyRef& k, EntryNode* n, const NodeState& state,
                                 uint64_t acked_lsn) {
  if (n == nullptr) {
    n = NewNode(k, {}, state.writer);
  } else {
    if (!n->tombstone) {
      Unlink(n, state.lsn, acked_lsn);
      n->tombstone = true;
      ++tombstones_;
    }
    n = Relocate(k, n, WithValue(n, {}, state.writer));
  }
  n->lsn = state.lsn;
  n->version = state.version;
  n->set_updated_at_ms(state.updated_at_ms);
  n->set_expires_at_ms(0);
  oldest_tombstone_ms_ = std::min(oldest_tombstone_ms_, state.updated_at_ms);
  return n;
}

bool Shard::Sweep(int64_t now_ms, int64_t retention_ms, uint64_t purge_through_lsn,
                  const ExpiryLog& log_expiry, std::vector<std::string>* released) {
  const bool expiry_due = log_expiry && now_ms >= next_expiry_ms_;
  const bool collection_due =
      (oldest_tombstone_ms_ != kNever && now_ms - oldest_tombstone_ms_ >= retention_ms) ||
      (min_blocked_lsn_ != kNoLsn && min_blocked_lsn_ <= purge_through_lsn);
  if (!expiry_due && !collection_due) return false;
  // The scan recomputes the bounds exactly.
  int64_t next_expiry = kNever, oldest_tombstone = kNever;
  uint64_t min_blocked = kNoLsn;
  std::vector<EntryNode*> expired;
  std::vector<uint32_t> emptied;
  boost::unordered::erase_if(nodes_, [&](EntryNode* n) {
    if (!n->tombstone && n->ExpiredAt(now_ms)) {
      expired.push_back(n);  // logged and shrunk below, after the erase pass
      return false;
    }
    if (n->tombstone && now_ms - n->updated_at_ms() >= retention_ms) {
      if (n->lsn > purge_through_lsn) {
        // Forgetting it would reveal the delete before it is acknowledged
        // (a GET would answer 404 with nothing to wait for).
        min_blocked = std::min(min_blocked, n->lsn);
        return false;
      }
      if (--workspaces_[n->ws_index]->nodes == 0) emptied.push_back(n->ws_index);
      FreeEntryNode(n);
      --tombstones_;
      return true;
    }
    if (n->tombstone) {
      oldest_tombstone = std::min(oldest_tombstone, n->updated_at_ms());
    } else if (n->expires_at_ms() != 0) {
      next_expiry = std::min(next_expiry, n->expires_at_ms());
    }
    return false;
  });
  next_expiry_ms_ = next_expiry;
  oldest_tombstone_ms_ = oldest_tombstone;
  min_blocked_lsn_ = min_blocked;
  for (uint32_t ws : emptied) ReleaseWorkspace(ws, released);
  // Expiry order within the shard follows the clock (then the key, so a
  // sweep is deterministic); watchers see the expire changes in the log's
  // order like any write.
  std::sort(expired.begin(), expired.end(), [](const EntryNode* a, const EntryNode* b) {
    if (a->expires_at_ms() != b->expires_at_ms()) return a->expires_at_ms() < b->expires_at_ms();
    if (a->key() != b->key()) return a->key() < b->key();
    return a->ws_index < b->ws_index;
  });
  bool refused = !log_expiry;
  for (EntryNode* n : expired) {
    const uint64_t lsn = refused ? 0 : log_expiry(WorkspaceName(n->ws_index), *n);
    if (lsn == 0) {
      // Not logged: the node stays live-but-expired (reads treat it as
      // absent, with the put that set its TTL as the record they depend
      // on), and keeps the bound low so that a later sweep retries.
      refused = true;
      next_expiry_ms_ = std::min(next_expiry_ms_, n->expires_at_ms());
      continue;
    }
    ApplyExpiry(n, lsn, purge_through_lsn);
  }
  return true;
}

EntryNode* Shard::ApplyExpiry(EntryNode* n, uint64_t lsn, uint64_t acked_lsn) {
  // The absence now depends on the expiry record, like a delete's on its
  // tombstone.
  Unlink(n, lsn, acked_lsn);
  n->tombstone = true;
  ++tombstones_;
  n->lsn = lsn;
  n->set_updated_at_ms(n->expires_at_ms());
  oldest_tombstone_ms_ = std::min(oldest_tombstone_ms_, n->expires_at_ms());
  n->set_expires_at_ms(0);
  const KeyRef ref{n->ws_index, n->key(), KeyHash(ws_hash(n->ws_index), n->key())};
  return Relocate(ref, n, WithValue(n, {}, {}));  // expiry has no writer
}

bool Shard::ExpireBeforeWrite(EntryNode** n, int64_t now_ms, uint64_t acked_lsn,
                              const ExpiryLog& log_expiry) {
  EntryNode* node = *n;
  if (node == nullptr || node->tombstone || !node->ExpiredAt(now_ms)) return true;
  const uint64_t lsn = log_expiry(WorkspaceName(node->ws_index), *node);
  // Refused: the node stays live-but-expired, and next_expiry_ms_ (at most
  // its expiry already) still lets a later sweep find it.
  if (lsn == 0) return false;
  *n = ApplyExpiry(node, lsn, acked_lsn);
  return true;
}

void Shard::ForEach(const std::function<void(const EntryNode&)>& fn) const {
  for (const EntryNode* n : nodes_) fn(*n);
}

}  // namespace casmem
