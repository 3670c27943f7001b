// ConflictTurns: fair turns for agents that lost a compare-and-set on a
// hot key, so that a contended key costs about one request per commit
// instead of one request per contender.
//
// Without it, every commit of version V+1 refutes every agent holding V;
// all their 409s are released by the same fsync, all retry at once, one
// wins V+2 and the rest lose again — a retry storm whose cost grows with
// the number of agents. With it, a guarded write that lost because its
// version was stale is answered at once only if nobody holds the key's
// turn; it then holds the turn until the key's next commit or until the
// turn times out. Later stale losers wait in FIFO order; each commit (or
// timeout) releases exactly the head, which re-reads the key and gets a
// 409 carrying the state current at that moment, so its retry can win.
//
// It decides when a 409 leaves, not what the store does, so it belongs to
// the server (net/), not to the engine.
//
// Contract:
// - Enqueue() either returns true (the caller holds the turn: reply now)
//   or keeps `release` and calls it at most once later, from whichever
//   thread calls Committed/ReleaseExpired/ReleaseAll, outside any lock.
// - A waiter may come with a TurnTicket shared with its owner (the
//   connection). Exactly one side claims a ticket: the queue when the
//   waiter's turn comes (then `release` runs), or the owner when its
//   connection goes away (then `release` never runs). A turn that comes to
//   a claimed waiter skips it at once, so a client whose departure the
//   server has seen never holds a key's turn. The server sees it while it
//   reads the connection, or watches it for a close (after a `Connection:
//   close` request); a connection with max_pipelined requests queued is
//   not read, so its client's close is noticed only when a write or a
//   timeout fails, and its waiter may still take its turn, for one turn at
//   most (the turn runs out, see Progress). Without a ticket, `release`
//   always runs exactly once.
// - Progress: a waiter at position n is released after at most n turns,
//   even if no holder ever commits; so holding never turns a 409 into a
//   hang, it only orders the 409s.
// - Time is passed in by the caller (steady clock), so tests drive it.
// No I/O, no Asio: the server arms a timer that calls ReleaseExpired.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace casmem::net {

// Who answers a held 409: the queue (its turn came) or its connection (it
// went away first). Thread-safe; Claim() returns true exactly once.
class TurnTicket {
 public:
  bool Claim() { return !claimed_.exchange(true, std::memory_order_acq_rel); }

 private:
  std::atomic<bool> claimed_{false};
};

class ConflictTurns {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Release = std::function<void()>;  // must not block

  explicit ConflictTurns(std::chrono::microseconds turn, size_t stripes = 64);

  // A guarded write on (workspace, key) lost because its version was older
  // than the key's current one. True: nobody held the turn, the caller now
  // does and replies at once (`release` is dropped). False: queued.
  // `ticket` (optional) lets the owner withdraw the waiter; see above.
  bool Enqueue(std::string_view workspace, std::string_view key, TimePoint now, Release release,
               std::shared_ptr<TurnTicket> ticket = nullptr);
  // A write changed (workspace, key): the current turn ends; the head
  // waiter, if any, is released and holds the next turn.
  void Committed(std::string_view workspace, std::string_view key, TimePoint now);
  // Passes every turn that has run out. Returns the number of keys still
  // tracked (the caller keeps its timer armed while it is non-zero).
  size_t ReleaseExpired(TimePoint now);
  // Releases every waiter now (shutdown).
  void ReleaseAll();

  size_t waiting() const { return waiting_.load(std::memory_order_relaxed); }
  size_t tracked_keys() const { return tracked_.load(std::memory_order_relaxed); }
  std::chrono::microseconds turn() const { return turn_; }

 private:
  struct Waiter {
    Release release;
    std::shared_ptr<TurnTicket> ticket;  // null: cannot be withdrawn
  };
  struct KeyTurn {
    TimePoint turn_ends;
    std::deque<Waiter> waiters;  // may hold withdrawn waiters, skipped when reached
  };
  struct Stripe {
    std::mutex mu;
    std::unordered_map<std::string, KeyTurn> keys;
    std::atomic<size_t> size{0};  // keys.size(), read without mu
  };

  Stripe& StripeFor(std::string_view workspace, std::string_view key);
  // Ends the turn of `t`: hands it to the first waiter whose ticket it can
  // claim (its release is moved to `out`), dropping withdrawn ones on the
  // way (moved to `dropped`, destroyed by the caller outside the lock).
  // Returns false when no live waiter is left, i.e. the entry can go.
  bool PassTurn(KeyTurn& t, TimePoint now, std::vector<Release>* out, std::vector<Release>* dropped);

  const std::chrono::microseconds turn_;
  std::vector<std::unique_ptr<Stripe>> stripes_;
  std::atomic<size_t> waiting_{0};
  std::atomic<size_t> tracked_{0};
};

}  // namespace casmem::net
