// ConflictTurns: per-key turn holder and FIFO of stale compare-and-set
// losers and deferred guarded writes, striped by the same hash that places
// keys in shards. See conflict_turns.h.
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

void ConflictTurns::Forget(Stripe& s, std::unordered_map<std::string, KeyTurn>::iterator it) {
  s.keys.erase(it);
  s.size.fetch_sub(1, std::memory_order_relaxed);
  tracked_.fetch_sub(1, std::memory_order_relaxed);
}

bool ConflictTurns::PassTurn(KeyTurn& t, TimePoint now, std::vector<Release>* out,
                             std::vector<Release>* dropped) {
  t.holder = 0;
  t.reported = 0;
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
    t.holder = w.holder;
    t.turn_ends = now + turn_;
    return true;
  }
  return false;
}

void ConflictTurns::Queue(KeyTurn& t, TimePoint now, Waiter w, std::vector<Release>* out,
                          std::vector<Release>* dropped) {
  t.waiters.push_back(std::move(w));
  waiting_.fetch_add(1, std::memory_order_relaxed);
  // A holder that ran out of time yields to the head (FIFO even when the
  // timer has not fired yet). The queue is not empty, so someone (maybe
  // this very caller) gets the turn.
  if (t.turn_ends <= now) PassTurn(t, now, out, dropped);
}

bool ConflictTurns::Enqueue(std::string_view workspace, std::string_view key, Holder holder,
                            uint64_t reported, TimePoint now, Release release,
                            std::shared_ptr<TurnTicket> ticket) {
  Stripe& s = StripeFor(workspace, key);
  std::vector<Release> released, dropped;
  {
    std::lock_guard lk(s.mu);
    auto [it, inserted] = s.keys.try_emplace(TurnKey(workspace, key));
    KeyTurn& t = it->second;
    if (inserted) {
      s.size.fetch_add(1, std::memory_order_relaxed);
      tracked_.fetch_add(1, std::memory_order_relaxed);
    }
    if (inserted || (t.waiters.empty() && t.turn_ends <= now)) {
      t.holder = holder;
      t.reported = reported;
      t.turn_ends = now + turn_;
      return true;
    }
    // The holder's own retry lost (another writer committed meanwhile): it
    // answers at once, within the time it has, with the newer version.
    if (holder != 0 && t.holder == holder && t.turn_ends > now) {
      t.reported = reported;
      return true;
    }
    Queue(t, now, Waiter{std::move(release), std::move(ticket), holder}, &released, &dropped);
  }
  RunAll(&released);
  return false;
}

bool ConflictTurns::AdmitWrite(std::string_view workspace, std::string_view key, Holder holder,
                               uint64_t guard, TimePoint now, Release release,
                               std::shared_ptr<TurnTicket> ticket) {
  if (tracked_.load(std::memory_order_relaxed) == 0) return true;
  Stripe& s = StripeFor(workspace, key);
  if (s.size.load(std::memory_order_relaxed) == 0) return true;
  std::vector<Release> released, dropped;
  {
    std::lock_guard lk(s.mu);
    auto it = s.keys.find(TurnKey(workspace, key));
    if (it == s.keys.end()) return true;
    KeyTurn& t = it->second;
    if (t.turn_ends <= now && t.waiters.empty()) {
      Forget(s, it);  // the turn ran out and nobody waits: the key is idle
      return true;
    }
    if (t.turn_ends > now && holder != 0 && t.holder == holder) {
      if (t.reported == 0 || guard == t.reported) return true;  // the retry the turn waits for
      // Not that retry (a stale version sent again, a buggy or hostile
      // client): the turn is over; this write goes like anyone's.
      if (!PassTurn(t, now, &released, &dropped)) {
        Forget(s, it);
        return true;
      }
    }
    Queue(t, now, Waiter{std::move(release), std::move(ticket), holder}, &released, &dropped);
  }
  RunAll(&released);
  return false;
}

void ConflictTurns::Committed(std::string_view workspace, std::string_view key, Holder committer,
                              TimePoint now) {
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
    KeyTurn& t = it->second;
    // Another writer's commit during a running turn: the holder's retry
    // will lose and answer at once (Enqueue); its turn goes on, unextended.
    if (t.turn_ends > now && t.holder != 0 && committer != t.holder) return;
    if (!PassTurn(t, now, &released, &dropped)) Forget(s, it);
  }
  RunAll(&released);
}

template <class Ends>
void ConflictTurns::PassTurnsWhere(Ends ends, TimePoint now) {
  std::vector<Release> released, dropped;
  for (auto& sp : stripes_) {
    Stripe& s = *sp;
    if (s.size.load(std::memory_order_relaxed) == 0) continue;
    std::lock_guard lk(s.mu);
    for (auto it = s.keys.begin(); it != s.keys.end();) {
      if (!ends(it->second) || PassTurn(it->second, now, &released, &dropped)) {
        ++it;
        continue;
      }
      auto gone = it++;
      Forget(s, gone);
    }
  }
  RunAll(&released);
}

void ConflictTurns::Leave(Holder holder, TimePoint now) {
  if (holder == 0 || tracked_.load(std::memory_order_relaxed) == 0) return;
  PassTurnsWhere([holder](const KeyTurn& t) { return t.holder == holder; }, now);
}

size_t ConflictTurns::ReleaseExpired(TimePoint now) {
  PassTurnsWhere([now](const KeyTurn& t) { return t.turn_ends <= now; }, now);
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
