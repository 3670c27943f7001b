// ConflictTurns: who replies at once, FIFO release on commit and on turn
// timeout, cleanup of idle keys, shutdown release, waiters withdrawn by
// their connection, and exactly-once release under concurrent use.
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
  EXPECT_TRUE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(0); }));
  EXPECT_FALSE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(1); }));
  EXPECT_FALSE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(2); }));
  EXPECT_TRUE(released.empty());
  EXPECT_EQ(turns.waiting(), 2u);
  // Another key and another workspace are independent.
  EXPECT_TRUE(turns.Enqueue("ws", "other", t0, [] {}));
  EXPECT_TRUE(turns.Enqueue("ws2", "k", t0, [] {}));
  EXPECT_EQ(turns.tracked_keys(), 3u);
}

TEST(ConflictTurns, EachCommitReleasesTheHeadInArrivalOrder) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> released;
  ASSERT_TRUE(turns.Enqueue("ws", "k", t0, [] {}));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&, i] { released.push_back(i); }));
  }
  turns.Committed("ws", "k", t0 + 1ms);
  EXPECT_EQ(released, (std::vector<int>{1}));
  turns.Committed("ws", "other", t0 + 1ms);  // not this key
  EXPECT_EQ(released, (std::vector<int>{1}));
  turns.Committed("ws", "k", t0 + 2ms);
  turns.Committed("ws", "k", t0 + 3ms);
  EXPECT_EQ(released, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(turns.waiting(), 0u);
  // The last released holds the turn until its commit; then the key is idle
  // and forgotten, and the next loser replies at once.
  EXPECT_EQ(turns.tracked_keys(), 1u);
  turns.Committed("ws", "k", t0 + 4ms);
  EXPECT_EQ(turns.tracked_keys(), 0u);
  EXPECT_TRUE(turns.Enqueue("ws", "k", t0 + 5ms, [] {}));
}

TEST(ConflictTurns, ATurnThatRunsOutPassesToTheNextWaiter) {
  ConflictTurns turns(10ms);
  const TP t0{};
  std::vector<int> released;
  ASSERT_TRUE(turns.Enqueue("ws", "k", t0, [] {}));
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0 + 1ms, [&] { released.push_back(1); }));
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0 + 2ms, [&] { released.push_back(2); }));
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
  ASSERT_TRUE(turns.Enqueue("ws", "k", t0, [] {}));
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0 + 1ms, [&] { released.push_back(1); }));
  // The turn ran out but the timer has not fired: a new loser queues
  // behind waiter 1, and waiter 1 gets the turn.
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0 + 11ms, [&] { released.push_back(2); }));
  EXPECT_EQ(released, (std::vector<int>{1}));
  // An expired turn with nobody waiting is simply free.
  turns.Committed("ws", "k", t0 + 12ms);
  EXPECT_EQ(released, (std::vector<int>{1, 2}));
  EXPECT_TRUE(turns.Enqueue("ws", "k", t0 + 40ms, [] {}));
}

TEST(ConflictTurns, ReleaseAllFreesEveryWaiter) {
  ConflictTurns turns(10s);
  const TP t0{};
  int released = 0;
  for (const char* key : {"a", "b"}) {
    ASSERT_TRUE(turns.Enqueue("ws", key, t0, [] {}));
    for (int i = 0; i < 3; ++i) ASSERT_FALSE(turns.Enqueue("ws", key, t0, [&] { ++released; }));
  }
  turns.ReleaseAll();
  EXPECT_EQ(released, 6);
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
  ASSERT_TRUE(turns.Enqueue("ws", "k", t0, [] {}));
  auto gone1 = std::make_shared<TurnTicket>(), live1 = std::make_shared<TurnTicket>();
  auto gone2 = std::make_shared<TurnTicket>(), live2 = std::make_shared<TurnTicket>();
  auto gone3 = std::make_shared<TurnTicket>(), live3 = std::make_shared<TurnTicket>();
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(-1); }, gone1));
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(1); }, live1));
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(-2); }, gone2));
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(2); }, live2));
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(-3); }, gone3));
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&] { released.push_back(3); }, live3));
  for (auto& t : {gone1, gone2, gone3}) ASSERT_TRUE(t->Claim());  // their clients left
  // A commit passes the turn straight to the next live waiter.
  turns.Committed("ws", "k", t0 + 1ms);
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
  ASSERT_TRUE(turns.Enqueue("ws", "k", t0, [] {}));
  auto gone = std::make_shared<TurnTicket>();
  ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&] { ran = true; }, gone));
  ASSERT_TRUE(gone->Claim());
  turns.Committed("ws", "k", t0 + 1ms);
  EXPECT_FALSE(ran);
  EXPECT_EQ(turns.tracked_keys(), 0u);
  EXPECT_TRUE(turns.Enqueue("ws", "k", t0 + 2ms, [] {}));
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
  ASSERT_TRUE(turns.Enqueue("ws", "k", t0, [] {}));
  for (int i = 0; i < kWaiters; ++i) {
    tickets.push_back(std::make_shared<TurnTicket>());
    ASSERT_FALSE(turns.Enqueue("ws", "k", t0, [&, i] { calls[i].fetch_add(1); }, tickets.back()));
  }
  std::thread owner([&] {
    for (int i = kWaiters - 1; i >= 0; --i) {
      if (tickets[i]->Claim()) withdrawn.fetch_add(1);
    }
  });
  for (int i = 0; i < kWaiters / 2; ++i) turns.Committed("ws", "k", t0);
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
  std::atomic<int> replied_at_once{0}, enqueued{0};
  std::vector<std::atomic<int>> calls(8 * 2000);
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = "k" + std::to_string(i % 5);
        const auto now = std::chrono::steady_clock::now();
        const int id = t * 2000 + i;
        if (i % 3 == 0) {
          turns.Committed("ws", key, now);
        } else if (turns.Enqueue("ws", key, now, [&, id] { calls[id].fetch_add(1); })) {
          replied_at_once.fetch_add(1);
        } else {
          enqueued.fetch_add(1);
        }
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
  EXPECT_EQ(released, enqueued.load());
  EXPECT_GT(replied_at_once.load(), 0);
  EXPECT_EQ(turns.waiting(), 0u);
}

}  // namespace
}  // namespace casmem::net
