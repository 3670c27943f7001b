// Concurrency: guarded read-modify-write loops lose no update; of many
// create-only racers exactly one wins. Run with and without the log, and
// under ThreadSanitizer in CI.
#include <atomic>
#include <thread>

#include "tests/engine/engine_helpers.h"

namespace casmem {
namespace {

// Each thread: read, increment, write back with the version it read;
// retry on conflict. Returns the number of successful increments.
int GuardedIncrements(Store& store, int threads, int each) {
  Put(store, "counter", "0");
  std::atomic<int> successes{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < each; ++i) {
        for (;;) {
          GetResult g = store.Get("ws", "counter");
          const long n = std::stol(g.entry.value);
          const std::string next = std::to_string(n + 1);
          PutRequest req{"ws", "counter", next, g.entry.version, 0, {}, nullptr};
          WriteResult w = store.Put(req);
          if (w.outcome == Outcome::kOk) {
            EXPECT_TRUE(store.WaitVisible(w.visible_lsn).ok());
            successes.fetch_add(1);
            break;
          }
          EXPECT_EQ(w.outcome, Outcome::kConflict);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  return successes.load();
}

TEST(Concurrency, GuardedIncrementsLoseNoUpdate) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock));
  const int ok = GuardedIncrements(*store, 8, 500);
  EXPECT_EQ(ok, 8 * 500);
  GetResult g = store->Get("ws", "counter");
  EXPECT_EQ(std::stol(g.entry.value), ok);
  EXPECT_EQ(g.entry.version, static_cast<uint64_t>(ok) + 1);
}

TEST(Concurrency, GuardedIncrementsLoseNoUpdateThroughTheLog) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  const int ok = GuardedIncrements(*store, 8, 100);
  EXPECT_EQ(std::stol(store->Get("ws", "counter").entry.value), ok);
  store.reset();
  store = MustOpen(DurableOptions(&fs, &clock));
  EXPECT_EQ(std::stol(store->Get("ws", "counter").entry.value), ok);
}

TEST(Concurrency, ExactlyOneCreateOnlyRacerWins) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock));
  constexpr int kKeys = 200, kThreads = 8;
  std::vector<std::atomic<int>> winners(kKeys);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      for (int k = 0; k < kKeys; ++k) {
        const std::string key = "seed-" + std::to_string(k);
        const std::string value = "\"agent-" + std::to_string(t) + "\"";
        WriteResult w = store->Put(PutRequest{"ws", key, value, 0, 0, {}, nullptr});
        if (w.outcome == Outcome::kOk) {
          winners[k].fetch_add(1);
        } else {
          EXPECT_EQ(w.outcome, Outcome::kConflict);
          EXPECT_EQ(w.current_version, 1u);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(winners[k].load(), 1) << "key " << k;
}

TEST(Concurrency, ListingWhileWritingStaysSortedAndUnique) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock, 16));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      Put(*store, "k" + std::to_string(i % 2000), std::to_string(i));
      if (i % 3 == 0) store->Delete("ws", "k" + std::to_string((i * 7) % 2000), std::nullopt);
    }
  });
  for (int round = 0; round < 200; ++round) {
    ListResult r = store->List("ws", "k", "", 10000);
    for (size_t i = 1; i < r.entries.size(); ++i) {
      ASSERT_LT(r.entries[i - 1].key, r.entries[i].key);
    }
  }
  stop = true;
  writer.join();
}

}  // namespace
}  // namespace casmem
