// ConflictTurns: per-key FIFO of stale compare-and-set losers, striped by
// the same hash that places keys in shards. See conflict_turns.h.
#include "net/conflict_turns.h"

#include "engine/shard_of.h"

namespace casmem::net {

namespace {

// Length-prefixed workspace, then the key: unambiguous for any bytes.
std::string TurnKey(std::string_view workspace, std::string_view key) {
  std::string k = std::to_string(workspace.size());
  k.reserve(k.size() + 1 + workspace.size() + key.size());
  k.push_back(':');
  k.append(workspace).append(key);
  return k;
}

void RunAll(std::vector<ConflictTurns::Release>* released) {
  for (auto& r : *released) r();
}

}  // namespace

ConflictTurns::ConflictTurns(std::chrono::microseconds turn, size_t stripes) : turn_(turn) {
  stripes_.reserve(std::max<size_t>(1, stripes));
  for (size_t i = 0; i < std::max<size_t>(1, stripes); ++i) stripes_.push_back(std::make_unique<Stripe>());
}

ConflictTurns::Stripe& ConflictTurns::StripeFor(std::string_view workspace, std::string_view key) {
  return *stripes_[ShardOf(workspace, key, static_cast<uint32_t>(stripes_.size()))];
}

bool ConflictTurns::PassTurn(KeyTurn& t, TimePoint now, std::vector<Release>* out,
                             std::vector<Release>* dropped) {
  while (!t.waiters.empty()) {
    Waiter w = std::move(t.waiters.front());
    t.waiters.pop_front();
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    // Claimed by its owner: the client is gone; the turn goes on at once.
    if (w.ticket && !w.ticket->Claim()) {
      dropped->push_back(std::move(w.release));
      continue;
    }
    out->push_back(std::move(w.release));
    t.turn_ends = now + turn_;
    return true;
  }
  return false;
}

bool ConflictTurns::Enqueue(std::string_view workspace, std::string_view key, TimePoint now,
                            Release release, std::shared_ptr<TurnTicket> ticket) {
  Stripe& s = StripeFor(workspace, key);
  std::vector<Release> released, dropped;
  {
    std::lock_guard lk(s.mu);
    auto [it, inserted] = s.keys.try_emplace(TurnKey(workspace, key));
    KeyTurn& t = it->second;
    if (inserted || (t.waiters.empty() && t.turn_ends <= now)) {
      if (inserted) {
        s.size.fetch_add(1, std::memory_order_relaxed);
        tracked_.fetch_add(1, std::memory_order_relaxed);
      }
      t.turn_ends = now + turn_;
      return true;
    }
    t.waiters.push_back(Waiter{std::move(release), std::move(ticket)});
    waiting_.fetch_add(1, std::memory_order_relaxed);
    // A holder that ran out of time yields to the head (FIFO even when the
    // timer has not fired yet). The queue is not empty, so someone (maybe
    // this very caller) gets the turn.
    if (t.turn_ends <= now) PassTurn(t, now, &released, &dropped);
  }
  RunAll(&released);
  return false;
}

void ConflictTurns::Committed(std::string_view workspace, std::string_view key, TimePoint now) {
  // The common case on every write: no contended key anywhere, so not even
  // the hash is computed; then none in this key's stripe.
  if (tracked_.load(std::memory_order_relaxed) == 0) return;
  Stripe& s = StripeFor(workspace, key);
  if (s.size.load(std::memory_order_relaxed) == 0) return;
  std::vector<Release> released, dropped;
  {
    std::lock_guard lk(s.mu);
    auto it = s.keys.find(TurnKey(workspace, key));
    if (it == s.keys.end()) return;
    if (!PassTurn(it->second, now, &released, &dropped)) {
      s.keys.erase(it);
      s.size.fetch_sub(1, std::memory_order_relaxed);
      tracked_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  RunAll(&released);
}

size_t ConflictTurns::ReleaseExpired(TimePoint now) {
  std::vector<Release> released, dropped;
  for (auto& sp : stripes_) {
    Stripe& s = *sp;
    if (s.size.load(std::memory_order_relaxed) == 0) continue;
    std::lock_guard lk(s.mu);
    for (auto it = s.keys.begin(); it != s.keys.end();) {
      if (it->second.turn_ends > now || PassTurn(it->second, now, &released, &dropped)) {
        ++it;
        continue;
      }
      it = s.keys.erase(it);
      s.size.fetch_sub(1, std::memory_order_relaxed);
      tracked_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  RunAll(&released);
  return tracked_.load(std::memory_order_relaxed);
}

void ConflictTurns::ReleaseAll() {
  std::vector<Release> released, dropped;
  for (auto& sp : stripes_) {
    Stripe& s = *sp;
    std::lock_guard lk(s.mu);
    for (auto& [k, t] : s.keys) {
      for (auto& w : t.waiters) {
        (!w.ticket || w.ticket->Claim() ? released : dropped).push_back(std::move(w.release));
      }
      waiting_.fetch_sub(t.waiters.size(), std::memory_order_relaxed);
    }
    tracked_.fetch_sub(s.keys.size(), std::memory_order_relaxed);
    s.keys.clear();
    s.size.store(0, std::memory_order_relaxed);
  }
  RunAll(&released);
}

}  // namespace casmem::net
