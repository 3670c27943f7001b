// ConflictTurns: fair turns on a hot key for the agents that lost a
// compare-and-set, so that a contended key costs about one request per
// commit instead of one per contender, and no agent can take the key again
// and again while others wait.
//
// Without it, every commit of version V+1 refutes every agent holding V;
// all their 409s leave with the same fsync, all retry at once, one wins
// and the rest lose again — a retry storm whose cost grows with the number
// of agents; and the agent that just won sends its next write at once,
// ahead of every loser (which must first read its 409, or re-read the key,
// or sleep), so the same agent wins again.
//
// A turn: a guarded write that lost because its version was stale makes
// its client (a `Holder`: one connection) the key's turn holder if nobody
// holds the turn, and is answered at once; otherwise its 409 waits in the
// key's FIFO. While a holder's turn runs, every other guarded write of
// the key is deferred into the same FIFO before it runs (AdmitWrite), so
// the holder's retry — whatever the client does between the 409 and the
// retry: nothing, a re-read, a short sleep — cannot be overtaken. The
// turn ends when the holder commits, leaves (its connection closed), its
// time runs out, or it sends a guarded write of the key that is not the
// retry its 409 invited (another version than the one reported): a
// client that keeps sending stale writes holds the key no longer than
// one round trip per turn. Then the head waiter becomes the holder: a
// held 409 is answered with the key's state at that moment, a deferred
// write runs.
// Writes without a guard (last-write-wins, patches without a guard,
// transactions) are never deferred: they do not compete on a version.
//
// It decides when a request runs or a 409 leaves, not what the store
// does, so it belongs to the server (net/), not to the engine.
//
// Contract:
// - Enqueue() and AdmitWrite() either return true (the caller goes on
//   now) or keep `release` and call it at most once later, from whichever
//   thread calls Committed/Leave/ReleaseExpired/ReleaseAll/Enqueue/
//   AdmitWrite, outside any lock. When `release` runs, its waiter holds
//   the turn.
// - A waiter may come with a TurnTicket shared with its owner (the
//   connection). Exactly one side claims a ticket: the queue when the
//   waiter's turn comes (then `release` runs), or the owner when its
//   connection goes away (then `release` never runs). A turn that comes to
//   a claimed waiter skips it at once, so a client whose departure the
//   server has seen never holds a key's turn; a holder that leaves gives
//   its turns up at once (Leave). Without a ticket, `release` always runs
//   exactly once.
// - Progress: a turn lasts at most `turn`, whatever happens to the key
//   meanwhile (a commit by another writer neither ends nor extends it), so
//   a waiter at position n gets the turn after at most n turns; holding
//   never turns a request into a hang, it only orders them.
// - Time is passed in by the caller (steady clock), so tests drive it.
// No I/O, no Asio: the server arms a timer that calls ReleaseExpired.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
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
  // Who holds a turn: one connection, by an id never reused; 0 = nobody.
  using Holder = uint64_t;

  explicit ConflictTurns(std::chrono::microseconds turn, size_t stripes = 64);

  // A guarded write by `holder` on (workspace, key) lost because its
  // version was older than the key's current one, `reported` (what its
  // 409 tells it to retry with). True: nobody held the turn (`holder` now
  // does, for `turn`), or `holder` already holds it (its time is not
  // extended): reply at once, `release` is dropped. False: queued;
  // `release` answers the 409 when the turn comes.
  bool Enqueue(std::string_view workspace, std::string_view key, Holder holder, uint64_t reported,
               TimePoint now, Release release, std::shared_ptr<TurnTicket> ticket = nullptr);
  // A guarded write by `holder` of version `guard` on (workspace, key) is
  // about to run. True: run it now (no turn is running on the key, or
  // `holder` holds it and retries the version its 409 reported — or one
  // it has not been told yet). A holder's write of another version ends
  // its turn first (it is not the retry the turn waits for). False:
  // another holder's turn runs; the write is queued and `release` runs it
  // when its turn comes. Never starts a turn. Cheap when no key is
  // tracked (one relaxed load).
  bool AdmitWrite(std::string_view workspace, std::string_view key, Holder holder, uint64_t guard,
                  TimePoint now, Release release, std::shared_ptr<TurnTicket> ticket = nullptr);
  // A write by `committer` (0: not a guarded write of a connection)
  // changed (workspace, key). The holder's commit, or any commit once the
  // turn has run out, passes the turn to the head waiter (or forgets the
  // key); another writer's commit during the turn leaves it running.
  void Committed(std::string_view workspace, std::string_view key, Holder committer, TimePoint now);
  // `holder` went away: every turn it holds passes at once.
  void Leave(Holder holder, TimePoint now);
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
    Holder holder = 0;
  };
  struct KeyTurn {
    Holder holder = 0;  // 0: the turn is nobody's (released to a waiter without a holder)
    uint64_t reported = 0;  // the version the holder's 409 reported; 0: not known yet
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
  // claim (its release is moved to `out`, its holder holds the turn),
  // dropping withdrawn ones on the way (moved to `dropped`, destroyed by
  // the caller outside the lock). Returns false when no live waiter is
  // left, i.e. the entry can go.
  bool PassTurn(KeyTurn& t, TimePoint now, std::vector<Release>* out, std::vector<Release>* dropped);
  // Queues a waiter on `t`, passing a run-out turn first (FIFO even when
  // the timer is late).
  void Queue(KeyTurn& t, TimePoint now, Waiter w, std::vector<Release>* out,
             std::vector<Release>* dropped);
  void Forget(Stripe& s, std::unordered_map<std::string, KeyTurn>::iterator it);
  // Ends the turn of every tracked key for which `ends(turn)` holds
  // (passing it on, or forgetting the key when nobody waits); releases run
  // outside the locks. Leave and ReleaseExpired.
  template <class Ends>
  void PassTurnsWhere(Ends ends, TimePoint now);

  const std::chrono::microseconds turn_;
  std::vector<std::unique_ptr<Stripe>> stripes_;
  std::atomic<size_t> waiting_{0};
  std::atomic<size_t> tracked_{0};
};

}  // namespace casmem::net
