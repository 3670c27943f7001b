// ConflictTurns: who replies at once, FIFO release on the holder's commit
// and on turn timeout, deferral of other guarded writes during a turn (so
// the released loser cannot be overtaken), a holder that leaves, cleanup
// of idle keys, shutdown release, waiters withdrawn by their connection,
// and exactly-once release under concurrent use.
#include "net/conflict_turns.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace casmem::net {
namespace {

using namespace std::chrono_literals;
using TP = ConflictTurns::TimePoint;

TEST(ConflictTurns, FirstLoserRepliesAtOnceLaterOnesWait) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> released;
  EXPECT_TRUE(turns.Enqueue("ws", "k", 1, 0, t0, [&] { released.push_back(0); }));
  EXPECT_FALSE(turns.Enqueue("ws", "k", 2, 0, t0, [&] { released.push_back(1); }));
  EXPECT_FALSE(turns.Enqueue("ws", "k", 3, 0, t0, [&] { released.push_back(2); }));
  EXPECT_TRUE(released.empty());
  EXPECT_EQ(turns.waiting(), 2u);
  // Another key and another workspace are independent.
  EXPECT_TRUE(turns.Enqueue("ws", "other", 2, 0, t0, [] {}));
  EXPECT_TRUE(turns.Enqueue("ws2", "k", 3, 0, t0, [] {}));
  EXPECT_EQ(turns.tracked_keys(), 3u);
}

TEST(ConflictTurns, EachHolderCommitReleasesTheHeadInArrivalOrder) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> released;
  ASSERT_TRUE(turns.Enqueue("ws", "k", 10, 0, t0, [] {}));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_FALSE(turns.Enqueue("ws", "k", i, 0, t0, [&, i] { released.push_back(i); }));
  }
  turns.Committed("ws", "k", 10, t0 + 1ms);
  EXPECT_EQ(released, (std::vector<int>{1}));
  turns.Committed("ws", "other", 1, t0 + 1ms);  // not this key
  EXPECT_EQ(released, (std::vector<int>{1}));
  turns.Committed("ws", "k", 1, t0 + 2ms);
  turns.Committed("ws", "k", 2, t0 + 3ms);
  EXPECT_EQ(released, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(turns.waiting(), 0u);
  // The last released holds the turn until its commit; then the key is idle
  // and forgotten, and the next loser replies at once.
  EXPECT_EQ(turns.tracked_keys(), 1u);
  turns.Committed("ws", "k", 3, t0 + 4ms);
  EXPECT_EQ(turns.tracked_keys(), 0u);
  EXPECT_TRUE(turns.Enqueue("ws", "k", 4, 0, t0 + 5ms, [] {}));
}

// The unfairness turns exist to stop: the agent that just committed sends
// its next guarded write at once, before the released loser's retry
// arrives. During the loser's turn that write waits its turn instead.
TEST(ConflictTurns, TheWinnerCannotOvertakeTheReleasedLoser) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<std::string> ran;
  constexpr ConflictTurns::Holder kWinner = 1, kLoser = 2;
  ASSERT_TRUE(turns.AdmitWrite("ws", "k", kWinner, 1, t0, [] {}));  // nothing tracked yet
  EXPECT_EQ(turns.tracked_keys(), 0u) << "admitting a write never starts a turn";
  ASSERT_TRUE(turns.Enqueue("ws", "k", kLoser, 0, t0, [] {}));  // the loser holds the turn
  // The winner's next write is deferred behind the turn...
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", kWinner, 1, t0 + 100us, [&] { ran.push_back("winner"); }));
  // ...the loser's retry is not.
  ASSERT_TRUE(turns.AdmitWrite("ws", "k", kLoser, 1, t0 + 200us, [] {}));
  EXPECT_TRUE(ran.empty());
  turns.Committed("ws", "k", kLoser, t0 + 300us);
  EXPECT_EQ(ran, (std::vector<std::string>{"winner"}));
  // The deferred write now holds the turn: it runs, and a third agent's
  // guarded write waits for it.
  ASSERT_TRUE(turns.AdmitWrite("ws", "k", kWinner, 1, t0 + 400us, [] {}));
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", 3, 1, t0 + 400us, [&] { ran.push_back("third"); }));
  turns.Committed("ws", "k", kWinner, t0 + 500us);
  EXPECT_EQ(ran, (std::vector<std::string>{"winner", "third"}));
}

// Deferred writes and held 409s wait in one FIFO, and a stale deferred
// write whose turn came is answered at once (its client holds the turn).
TEST(ConflictTurns, DeferredWritesAndHeld409sShareOneFifo) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> ran;
  ASSERT_TRUE(turns.Enqueue("ws", "k", 1, 0, t0, [] {}));
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", 2, 1, t0, [&] { ran.push_back(2); }));
  ASSERT_FALSE(turns.Enqueue("ws", "k", 3, 0, t0, [&] { ran.push_back(3); }));
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", 4, 1, t0, [&] { ran.push_back(4); }));
  turns.Committed("ws", "k", 1, t0 + 1ms);
  EXPECT_EQ(ran, (std::vector<int>{2}));
  // 2's deferred write ran and lost (1 committed first): it holds the turn,
  // so its 409 leaves at once rather than queueing again.
  EXPECT_TRUE(turns.Enqueue("ws", "k", 2, 0, t0 + 2ms, [&] { ran.push_back(-2); }));
  turns.Committed("ws", "k", 2, t0 + 3ms);
  turns.Committed("ws", "k", 3, t0 + 4ms);
  EXPECT_EQ(ran, (std::vector<int>{2, 3, 4}));
}

// A commit by someone else (a last-write-wins write, a transaction) during
// a turn neither ends it (the holder's retry answers at once, within its
// time) nor extends it (waiters still get the turn when it runs out).
TEST(ConflictTurns, AnotherWritersCommitNeitherEndsNorExtendsTheTurn) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> ran;
  ASSERT_TRUE(turns.Enqueue("ws", "k", 1, 0, t0, [] {}));
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", 2, 1, t0, [&] { ran.push_back(2); }));
  turns.Committed("ws", "k", 0, t0 + 1ms);  // an unguarded write
  turns.Committed("ws", "k", 7, t0 + 2ms);  // a connection that is not the holder
  EXPECT_TRUE(ran.empty());
  EXPECT_TRUE(turns.Enqueue("ws", "k", 1, 0, t0 + 3ms, [] { FAIL() << "the holder answers at once"; }));
  turns.ReleaseExpired(t0 + 9ms);
  EXPECT_TRUE(ran.empty());
  turns.ReleaseExpired(t0 + 10ms);
  EXPECT_EQ(ran, (std::vector<int>{2}));
  // Once the turn ran out, the old holder's writes wait like anyone's.
  EXPECT_FALSE(turns.AdmitWrite("ws", "k", 1, 1, t0 + 11ms, [] {}));
}

TEST(ConflictTurns, ATurnThatRunsOutPassesToTheNextWaiter) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> released;
  ASSERT_TRUE(turns.Enqueue("ws", "k", 9, 0, t0, [] {}));
  ASSERT_FALSE(turns.Enqueue("ws", "k", 1, 0, t0 + 1ms, [&] { released.push_back(1); }));
  ASSERT_FALSE(turns.Enqueue("ws", "k", 2, 0, t0 + 2ms, [&] { released.push_back(2); }));
  EXPECT_EQ(turns.ReleaseExpired(t0 + 9ms), 1u);
  EXPECT_TRUE(released.empty());
  turns.ReleaseExpired(t0 + 10ms);  // the holder never came back
  EXPECT_EQ(released, (std::vector<int>{1}));
  turns.ReleaseExpired(t0 + 15ms);  // waiter 1's turn runs to 20 ms
  EXPECT_EQ(released, (std::vector<int>{1}));
  turns.ReleaseExpired(t0 + 20ms);
  EXPECT_EQ(released, (std::vector<int>{1, 2}));
  // The last turn runs out with nobody waiting: the key is dropped.
  EXPECT_EQ(turns.ReleaseExpired(t0 + 30ms), 0u);
  EXPECT_EQ(turns.tracked_keys(), 0u);
}

TEST(ConflictTurns, ALateLoserKeepsFifoWhenTheTimerIsLate) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> released;
  ASSERT_TRUE(turns.Enqueue("ws", "k", 9, 0, t0, [] {}));
  ASSERT_FALSE(turns.Enqueue("ws", "k", 1, 0, t0 + 1ms, [&] { released.push_back(1); }));
  // The turn ran out but the timer has not fired: a new loser queues
  // behind waiter 1, and waiter 1 gets the turn.
  ASSERT_FALSE(turns.Enqueue("ws", "k", 2, 0, t0 + 11ms, [&] { released.push_back(2); }));
  EXPECT_EQ(released, (std::vector<int>{1}));
  // So does a deferred write.
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", 3, 1, t0 + 12ms, [&] { released.push_back(3); }));
  turns.Committed("ws", "k", 1, t0 + 12ms);
  EXPECT_EQ(released, (std::vector<int>{1, 2}));
  // Any commit once the turn has run out passes it.
  turns.Committed("ws", "k", 0, t0 + 40ms);
  EXPECT_EQ(released, (std::vector<int>{1, 2, 3}));
  turns.Committed("ws", "k", 0, t0 + 60ms);
  EXPECT_EQ(turns.tracked_keys(), 0u);
  EXPECT_TRUE(turns.Enqueue("ws", "k", 4, 0, t0 + 60ms, [] {}));
}

// A holder that sends a guarded write of another version than its 409
// reported (a stale version again: a buggy or hostile client) is not
// retrying: its turn ends, and it cannot keep the key from others.
TEST(ConflictTurns, AHolderThatDoesNotRetryTheReportedVersionLosesItsTurn) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> ran;
  constexpr ConflictTurns::Holder kHog = 1, kHonest = 2;
  ASSERT_TRUE(turns.Enqueue("ws", "k", kHog, /*reported=*/7, t0, [] {}));
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", kHonest, 7, t0, [&] { ran.push_back(kHonest); }));
  // The hog sends its stale version again: the turn passes to the honest
  // write at once, and the hog's write waits behind it.
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", kHog, 1, t0 + 100us, [&] { ran.push_back(kHog); }));
  EXPECT_EQ(ran, (std::vector<int>{kHonest}));
  turns.Committed("ws", "k", kHonest, t0 + 200us);
  EXPECT_EQ(ran, (std::vector<int>{kHonest, kHog}));
  // Released, the hog's write ran and lost; as holder its 409 leaves at
  // once, reporting 8; its retry of 8 is admitted, another stale one ends
  // the turn (nobody waits: the key is simply free).
  EXPECT_TRUE(turns.Enqueue("ws", "k", kHog, 8, t0 + 300us, [] {}));
  EXPECT_TRUE(turns.AdmitWrite("ws", "k", kHog, 8, t0 + 400us, [] {}));
  EXPECT_TRUE(turns.AdmitWrite("ws", "k", kHog, 1, t0 + 500us, [] {}));
  EXPECT_EQ(turns.tracked_keys(), 0u);
  EXPECT_TRUE(turns.AdmitWrite("ws", "k", kHonest, 8, t0 + 600us, [] {}));
}

// A holder whose connection closed gives its turn up at once; so does
// every turn it holds, on any key.
TEST(ConflictTurns, AHolderThatLeavesPassesItsTurnsAtOnce) {
  ConflictTurns turns(10s);
  const TP t0{};
  std::vector<int> ran;
  ASSERT_TRUE(turns.Enqueue("ws", "a", 1, 0, t0, [] {}));
  ASSERT_TRUE(turns.Enqueue("ws", "b", 1, 0, t0, [] {}));
  ASSERT_TRUE(turns.Enqueue("ws", "c", 5, 0, t0, [] {}));
  ASSERT_FALSE(turns.AdmitWrite("ws", "a", 2, 1, t0, [&] { ran.push_back(2); }));
  ASSERT_FALSE(turns.AdmitWrite("ws", "c", 3, 1, t0, [&] { ran.push_back(3); }));
  turns.Leave(4, t0 + 1ms);  // holds nothing
  EXPECT_TRUE(ran.empty());
  EXPECT_EQ(turns.tracked_keys(), 3u);
  turns.Leave(1, t0 + 1ms);
  EXPECT_EQ(ran, (std::vector<int>{2}));  // "a" passed; "b" had nobody waiting: forgotten
  EXPECT_EQ(turns.tracked_keys(), 2u);
  EXPECT_TRUE(turns.AdmitWrite("ws", "b", 6, 1, t0 + 2ms, [] {}));
  EXPECT_FALSE(turns.AdmitWrite("ws", "a", 6, 1, t0 + 2ms, [] {})) << "2 holds a's turn now";
}

TEST(ConflictTurns, ReleaseAllFreesEveryWaiter) {
  ConflictTurns turns(10s);
  const TP t0{};
  int released = 0;
  for (const char* key : {"a", "b"}) {
    ASSERT_TRUE(turns.Enqueue("ws", key, 100, 0, t0, [] {}));
    for (int i = 0; i < 3; ++i) ASSERT_FALSE(turns.Enqueue("ws", key, i + 1, 0, t0, [&] { ++released; }));
    ASSERT_FALSE(turns.AdmitWrite("ws", key, 50, 1, t0, [&] { ++released; }));
  }
  turns.ReleaseAll();
  EXPECT_EQ(released, 8);
  EXPECT_EQ(turns.waiting(), 0u);
  EXPECT_EQ(turns.tracked_keys(), 0u);
}

// A waiter whose connection went away (its owner claimed its ticket) must
// not hold the key's turn: the turn skips it, on a commit, on a run-out
// turn and at shutdown, and its release never runs.
TEST(ConflictTurns, AGoneWaiterDoesNotDelayTheNextLiveOne) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> released;
  ASSERT_TRUE(turns.Enqueue("ws", "k", 100, 0, t0, [] {}));
  auto gone1 = std::make_shared<TurnTicket>(), live1 = std::make_shared<TurnTicket>();
  auto gone2 = std::make_shared<TurnTicket>(), live2 = std::make_shared<TurnTicket>();
  auto gone3 = std::make_shared<TurnTicket>(), live3 = std::make_shared<TurnTicket>();
  ASSERT_FALSE(turns.Enqueue("ws", "k", 11, 0, t0, [&] { released.push_back(-1); }, gone1));
  ASSERT_FALSE(turns.Enqueue("ws", "k", 1, 0, t0, [&] { released.push_back(1); }, live1));
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", 12, 1, t0, [&] { released.push_back(-2); }, gone2));
  ASSERT_FALSE(turns.AdmitWrite("ws", "k", 2, 1, t0, [&] { released.push_back(2); }, live2));
  ASSERT_FALSE(turns.Enqueue("ws", "k", 13, 0, t0, [&] { released.push_back(-3); }, gone3));
  ASSERT_FALSE(turns.Enqueue("ws", "k", 3, 0, t0, [&] { released.push_back(3); }, live3));
  for (auto& t : {gone1, gone2, gone3}) ASSERT_TRUE(t->Claim());  // their clients left
  // A commit passes the turn straight to the next live waiter.
  turns.Committed("ws", "k", 100, t0 + 1ms);
  EXPECT_EQ(released, (std::vector<int>{1}));
  EXPECT_FALSE(live1->Claim()) << "the queue claims the ticket of the waiter it released";
  // So does a turn that runs out (live1 never retried).
  turns.ReleaseExpired(t0 + 11ms);
  EXPECT_EQ(released, (std::vector<int>{1, 2}));
  // And shutdown.
  turns.ReleaseAll();
  EXPECT_EQ(released, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(turns.waiting(), 0u);
}

// With only withdrawn waiters left, the key's turn ends at the commit: the
// next loser is answered at once instead of queueing behind ghosts.
TEST(ConflictTurns, OnlyGoneWaitersLeftFreesTheKey) {
  ConflictTurns turns(10ms);
  const TP t0{};
  bool ran = false;
  ASSERT_TRUE(turns.Enqueue("ws", "k", 1, 0, t0, [] {}));
  auto gone = std::make_shared<TurnTicket>();
  ASSERT_FALSE(turns.Enqueue("ws", "k", 2, 0, t0, [&] { ran = true; }, gone));
  ASSERT_TRUE(gone->Claim());
  turns.Committed("ws", "k", 1, t0 + 1ms);
  EXPECT_FALSE(ran);
  EXPECT_EQ(turns.tracked_keys(), 0u);
  EXPECT_TRUE(turns.Enqueue("ws", "k", 3, 0, t0 + 2ms, [] {}));
}

// The owner and the queue race for a ticket: exactly one wins each time,
// and every waiter is either released by the queue or withdrawn.
TEST(ConflictTurns, OwnerAndQueueClaimEachTicketExactlyOnce) {
  ConflictTurns turns(1ms, 4);
  constexpr int kWaiters = 4000;
  std::vector<std::shared_ptr<TurnTicket>> tickets;
  std::vector<std::atomic<int>> calls(kWaiters);
  std::atomic<int> withdrawn{0};
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(turns.Enqueue("ws", "k", 1, 0, t0, [] {}));
  for (int i = 0; i < kWaiters; ++i) {
    tickets.push_back(std::make_shared<TurnTicket>());
    ASSERT_FALSE(turns.Enqueue("ws", "k", i + 2, 0, t0, [&, i] { calls[i].fetch_add(1); }, tickets.back()));
  }
  std::thread owner([&] {
    for (int i = kWaiters - 1; i >= 0; --i) {
      if (tickets[i]->Claim()) withdrawn.fetch_add(1);
    }
  });
  // Commits after the turns ran out: each passes the turn on.
  for (int i = 0; i < kWaiters / 2; ++i) turns.Committed("ws", "k", 0, t0 + 1s);
  owner.join();
  turns.ReleaseAll();
  int released = 0;
  for (auto& c : calls) {
    ASSERT_LE(c.load(), 1);
    released += c.load();
  }
  EXPECT_EQ(released + withdrawn.load(), kWaiters);
  EXPECT_EQ(turns.waiting(), 0u);
}

TEST(ConflictTurns, ConcurrentUseReleasesEveryWaiterExactlyOnce) {
  ConflictTurns turns(1ms, 4);
  std::atomic<int> went_at_once{0}, queued{0};
  std::vector<std::atomic<int>> calls(8 * 2000);
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      const ConflictTurns::Holder me = t + 1;
      for (int i = 0; i < 2000; ++i) {
        const std::string key = "k" + std::to_string(i % 5);
        const auto now = std::chrono::steady_clock::now();
        const int id = t * 2000 + i;
        auto release = [&, id] { calls[id].fetch_add(1); };
        bool at_once = false;
        switch (i % 4) {
          case 0: turns.Committed("ws", key, me, now); continue;
          case 1: at_once = turns.Enqueue("ws", key, me, 0, now, release); break;
          case 2: at_once = turns.AdmitWrite("ws", key, me, 1, now, release); break;
          case 3:
            if (i % 40 == 3) turns.Leave(me, now);
            at_once = turns.Enqueue("ws", key, me, 0, now, release);
            break;
        }
        (at_once ? went_at_once : queued).fetch_add(1);
        if (i % 50 == 0) turns.ReleaseExpired(now);
      }
    });
  }
  for (auto& th : pool) th.join();
  turns.ReleaseAll();
  int released = 0;
  for (auto& c : calls) {
    ASSERT_LE(c.load(), 1);
    released += c.load();
  }
  EXPECT_EQ(released, queued.load());
  EXPECT_GT(went_at_once.load(), 0);
  EXPECT_EQ(turns.waiting(), 0u);
  EXPECT_EQ(turns.tracked_keys(), 0u);
}

}  // namespace
}  // namespace casmem::net
