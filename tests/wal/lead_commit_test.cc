// Wal::LeadCommit, the leader/follower commit: a leader acknowledges only
// after its own sync and on its own thread, followers are left to the
// writer thread and never lost, a failed leader sync is sticky, the cases
// in which it must decline, and a concurrent stress with reopen.
//
// Append wakes the writer thread (unless under LeaderToCome), which may
// take the pending bytes before the test's LeadCommit does; tests that need
// a leader retry (LeadOne) and check what happened in the attempt that led.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "tests/wal/wal_helpers.h"
#include "wal/format.h"
#include "wal/segment.h"

namespace casmem::wal {
namespace {

using std::chrono::milliseconds;

// Polls `done` for up to 60 s (a slow sanitizer run); false on timeout, so
// a lost acknowledgement fails the test instead of hanging it.
template <typename Pred>
bool WaitFor(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

bool IsSegment(const std::string& path) { return path.ends_with(kSegmentSuffix); }

// Appends a record, lets `before_lead` register waiters for its lsn, then
// calls LeadCommit; retries (after the writer thread acknowledged the
// record) until this thread led a batch. Returns the lsn it led, or 0.
uint64_t LeadOne(Wal* wal, const std::string& value,
                 const std::function<void(uint64_t)>& before_lead = nullptr,
                 int attempts = 2000) {
  for (int i = 0; i < attempts; ++i) {
    const uint64_t lsn = AppendKV(wal, "lead" + std::to_string(i), value);
    if (lsn == 0) return 0;
    if (before_lead) before_lead(lsn);
    if (wal->LeadCommit()) return lsn;
    if (!wal->WaitAcked(lsn).ok()) return 0;
  }
  return 0;
}

// What one waiter saw when it ran. One per LeadOne attempt: the callback
// of an attempt the writer thread took may still run while the next
// attempt begins (WaitAcked answers at once once acked_lsn has moved).
struct Seen {
  std::mutex mu;
  bool ran = false;
  Status status;
  std::thread::id thread;
  int syncs = -1;          // the leader's segment syncs so far
  bool durable = false;    // durable_lsn covered the record
  bool clean = false;      // the segment had no unsynced page
  uint64_t acked_lsn = 0;  // acked_lsn() then
};

std::string OnlySegment(testing::MemFs* fs) {
  std::string found;
  for (const auto& name : fs->Files(kDir)) {
    if (IsSegment(name)) found = JoinPath(kDir, name);
  }
  return found;
}

TEST(LeadCommit, AcknowledgesAfterItsSyncOnTheLeadersThread) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  const std::string segment = OnlySegment(&fs);
  ASSERT_FALSE(segment.empty());
  const auto me = std::this_thread::get_id();
  std::atomic<int> my_syncs{0};
  fs.SetSyncPathHook([&](const std::string& path) {
    if (std::this_thread::get_id() == me && IsSegment(path)) my_syncs.fetch_add(1);
  });
  std::shared_ptr<Seen> seen;
  const uint64_t lsn = LeadOne(wal.get(), "1", [&](uint64_t l) {
    seen = std::make_shared<Seen>();
    wal->WhenAcked(l, [&, l, seen = seen](const Status& s) {
      std::lock_guard lk(seen->mu);
      seen->ran = true;
      seen->status = s;
      seen->thread = std::this_thread::get_id();
      seen->syncs = my_syncs.load();
      seen->durable = wal->durable_lsn() >= l;
      seen->clean = fs.DirtyPages(segment).empty();  // the sync has returned
    });
  });
  ASSERT_NE(lsn, 0u) << "this thread never led a batch";
  // The waiter ran before LeadCommit returned, on this thread, after the
  // leader's own sync made the record durable.
  {
    std::lock_guard lk(seen->mu);
    EXPECT_TRUE(seen->ran);
    EXPECT_TRUE(seen->status.ok()) << seen->status.ToString();
    EXPECT_EQ(seen->thread, me);
    EXPECT_EQ(seen->syncs, 1);
    EXPECT_TRUE(seen->durable);
    EXPECT_TRUE(seen->clean) << "acknowledged before the sync made the batch durable";
  }
  EXPECT_EQ(wal->acked_lsn(), lsn);
  fs.SetSyncPathHook(nullptr);
  wal.reset();
  fs.PowerLoss();
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().lsn, lsn);
}

// Records appended while the leader is inside its sync are followers: not
// part of its batch, committed by the writer thread after a later sync,
// each acknowledged exactly once.
TEST(LeadCommit, FollowersAppendedDuringTheLeadersSyncAreAcknowledgedOnce) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  const std::string segment = OnlySegment(&fs);
  const auto me = std::this_thread::get_id();
  constexpr int kFollowers = 5;
  std::mutex mu;
  std::map<uint64_t, int> acks;             // follower lsn -> callbacks run
  std::map<uint64_t, bool> after_sync;      // follower lsn -> durable and synced when acked
  std::vector<std::thread::id> follower_threads;
  std::vector<uint64_t> followers;
  std::atomic<bool> armed{false};
  std::shared_ptr<Seen> seen;
  fs.SetSyncPathHook([&](const std::string& path) {
    if (std::this_thread::get_id() != me || !IsSegment(path) || !armed.exchange(false)) return;
    // The leader is inside its sync: append followers from another thread.
    std::thread t([&] {
      for (int i = 0; i < kFollowers; ++i) {
        const uint64_t l = AppendKV(wal.get(), "f" + std::to_string(i), ValueOf(i));
        ASSERT_NE(l, 0u);
        followers.push_back(l);
        wal->WhenAcked(l, [&, l](const Status& s) {
          const bool synced = s.ok() && wal->durable_lsn() >= l && fs.DirtyPages(segment).empty();
          std::lock_guard lk(mu);
          ++acks[l];
          after_sync[l] = synced;
          follower_threads.push_back(std::this_thread::get_id());
        });
      }
    });
    t.join();
  });
  const uint64_t lsn = LeadOne(wal.get(), "1", [&](uint64_t l) {
    armed = true;
    seen = std::make_shared<Seen>();
    wal->WhenAcked(l, [&, seen = seen](const Status&) {
      std::lock_guard lk(seen->mu);
      seen->ran = true;
      seen->acked_lsn = wal->acked_lsn();
    });
  });
  ASSERT_NE(lsn, 0u) << "this thread never led a batch";
  ASSERT_EQ(followers.size(), static_cast<size_t>(kFollowers));
  EXPECT_EQ(followers.front(), lsn + 1);
  // The leader acknowledged its own batch only, not the followers.
  {
    std::lock_guard lk(seen->mu);
    EXPECT_TRUE(seen->ran);
    EXPECT_EQ(seen->acked_lsn, lsn);
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lk(mu);
    return acks.size() == static_cast<size_t>(kFollowers);
  })) << "followers were never acknowledged";
  fs.SetSyncPathHook(nullptr);
  wal.reset();  // any second callback would have run by now
  for (uint64_t l : followers) {
    EXPECT_EQ(acks[l], 1) << "lsn " << l;
    EXPECT_TRUE(after_sync[l]) << "lsn " << l << " acknowledged before its sync";
  }
  for (const auto& id : follower_threads) EXPECT_NE(id, me);  // the writer thread's
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().lsn, followers.back());
}

TEST(LeadCommit, AFailedLeaderSyncIsStickyForLeaderAndFollowers) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  const auto me = std::this_thread::get_id();
  std::atomic<bool> armed{false};
  std::mutex mu;
  std::vector<Status> follower_results;
  std::vector<uint64_t> followers;
  fs.SetSyncPathHook([&](const std::string& path) {
    if (std::this_thread::get_id() != me || !IsSegment(path) || !armed.exchange(false)) return;
    for (int i = 0; i < 3; ++i) {
      const uint64_t l = AppendKV(wal.get(), "f" + std::to_string(i), "2");
      ASSERT_NE(l, 0u);
      followers.push_back(l);
      wal->WhenAcked(l, [&](const Status& s) {
        std::lock_guard lk(mu);
        follower_results.push_back(s);
      });
    }
    fs.FailSyncsAfter(1);  // this very sync fails
  });
  std::shared_ptr<Seen> seen;
  const uint64_t lsn = LeadOne(wal.get(), "1", [&](uint64_t l) {
    armed = true;
    seen = std::make_shared<Seen>();
    wal->WhenAcked(l, [seen = seen](const Status& s) {
      std::lock_guard lk(seen->mu);
      seen->ran = true;
      seen->status = s;
    });
  });
  ASSERT_NE(lsn, 0u) << "this thread never led a batch";
  std::atomic<int> segment_syncs{0};  // from now on (not the spare's)
  fs.SetSyncPathHook([&](const std::string& path) {
    if (IsSegment(path)) segment_syncs.fetch_add(1);
  });
  {
    std::lock_guard lk(seen->mu);
    EXPECT_TRUE(seen->ran);
    EXPECT_TRUE(seen->status.IsStorageFailed()) << seen->status.ToString();
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lk(mu);
    return follower_results.size() == followers.size();
  }));
  for (const auto& s : follower_results) EXPECT_TRUE(s.IsStorageFailed()) << s.ToString();
  EXPECT_LT(wal->acked_lsn(), lsn);
  // The disk "recovers": the log must still refuse, not retry the sync.
  fs.FailSyncsAfter(-1);
  EXPECT_EQ(AppendKV(wal.get(), "later", "3"), 0u);
  EXPECT_FALSE(wal->LeadCommit());
  EXPECT_TRUE(wal->health().IsStorageFailed());
  EXPECT_FALSE(wal->SyncAll().ok());
  wal.reset();
  EXPECT_EQ(segment_syncs.load(), 0) << "a sync was retried";
  fs.SetSyncPathHook(nullptr);
  std::lock_guard lk(mu);
  EXPECT_EQ(follower_results.size(), followers.size()) << "a waiter ran twice";
}

// SyncAll and Close called while a leader holds its batch wait for it,
// then the writer thread commits what came meanwhile.
TEST(LeadCommit, SyncAllAndCloseDuringALeadersBatchCommitTheFollowers) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  auto opts = MemOptions(&fs);
  opts.fsync = FsyncMode::kNever;  // only SyncAll and Close sync
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  const auto me = std::this_thread::get_id();
  std::atomic<bool> armed{false};
  std::atomic<bool> closer_started{false};
  std::atomic<bool> closer_done{false};
  std::atomic<uint64_t> follower{0};
  Status synced;
  std::thread closer;
  wal->set_observer(WalObserver{[&](uint64_t, uint64_t) {
                                  if (std::this_thread::get_id() != me || !armed.exchange(false)) {
                                    return;
                                  }
                                  // The leader holds its batch: a follower, then SyncAll
                                  // and Close from another thread.
                                  closer = std::thread([&] {
                                    follower = AppendKV(wal.get(), "follower", "2");
                                    closer_started = true;
                                    synced = wal->SyncAll();
                                    wal->Close();
                                    closer_done = true;
                                  });
                                  ASSERT_TRUE(WaitFor([&] { return closer_started.load(); }));
                                  std::this_thread::sleep_for(milliseconds(20));
                                },
                                nullptr});
  const uint64_t lsn = LeadOne(wal.get(), "1", [&](uint64_t) { armed = true; });
  ASSERT_NE(lsn, 0u) << "this thread never led a batch";
  // A lost wake-up leaves SyncAll blocked: fail (and abort) rather than hang.
  ASSERT_TRUE(WaitFor([&] { return closer_done.load(); })) << "SyncAll or Close never returned";
  closer.join();
  EXPECT_TRUE(synced.ok()) << synced.ToString();
  ASSERT_EQ(follower.load(), lsn + 1);
  EXPECT_EQ(wal->durable_lsn(), lsn + 1);
  EXPECT_EQ(wal->acked_lsn(), lsn + 1);
  wal.reset();
  fs.PowerLoss();
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().key, "follower");
}

TEST(LeadCommit, DeclinesWhenNothingIsPending) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  EXPECT_FALSE(wal->LeadCommit());
  ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "k", "1")).ok());
  const uint64_t batches = wal->stats().batches.load();
  const uint64_t syncs = fs.sync_count();
  EXPECT_FALSE(wal->LeadCommit());
  EXPECT_EQ(wal->stats().batches.load(), batches);
  EXPECT_EQ(fs.sync_count(), syncs);
}

TEST(LeadCommit, DeclinesWhileTheWriterThreadHoldsABatch) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  const auto me = std::this_thread::get_id();
  std::mutex gate;
  gate.lock();  // holds the writer thread's syncs
  std::atomic<bool> writer_in_sync{false};
  fs.SetSyncPathHook([&](const std::string& path) {
    if (std::this_thread::get_id() == me || !IsSegment(path)) return;
    writer_in_sync = true;
    std::lock_guard lk(gate);
  });
  const uint64_t first = AppendKV(wal.get(), "a", "1");
  ASSERT_TRUE(WaitFor([&] { return writer_in_sync.load(); }));
  const uint64_t second = AppendKV(wal.get(), "b", "2");  // pending, not taken
  const uint64_t syncs = fs.sync_count();
  EXPECT_FALSE(wal->LeadCommit());
  EXPECT_EQ(fs.sync_count(), syncs);
  EXPECT_LT(wal->acked_lsn(), first);
  gate.unlock();
  ASSERT_TRUE(wal->WaitAcked(second).ok());
  fs.SetSyncPathHook(nullptr);
}

TEST(LeadCommit, DeclinesWhenInlineCommitIsOff) {
  testing::MemFs fs;
  auto opts = MemOptions(&fs);
  opts.inline_commit = false;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  for (int i = 0; i < 200; ++i) {
    const uint64_t lsn = AppendKV(wal.get(), "k", ValueOf(i));
    ASSERT_FALSE(wal->LeadCommit()) << "attempt " << i;
    ASSERT_TRUE(wal->WaitAcked(lsn).ok());
  }
}

// A batch that does not fit the current segment is the writer thread's
// (rotation may wait for the spare): a leader never syncs the directory.
TEST(LeadCommit, DeclinesWhenTheBatchNeedsANewSegment) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs, kMinSegmentBytes);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  const auto me = std::this_thread::get_id();
  std::atomic<int> leader_rotations{0};
  fs.SetSyncPathHook([&](const std::string& path) {
    if (std::this_thread::get_id() == me && path == kDir) leader_rotations.fetch_add(1);
  });
  int led = 0;
  uint64_t last = 0;
  int n = 0;
  // ~1/3 of a segment each: every third batch or so needs a new segment.
  // Until a few attempts led (the writer thread wins many) and the log
  // rotated often.
  for (int i = 0; i < 600 && (led < 5 || i < 60); ++i, ++n) {
    last = AppendKV(wal.get(), "k" + std::to_string(i), ValueOf(i, kMinSegmentBytes / 3));
    ASSERT_NE(last, 0u);
    if (wal->LeadCommit()) ++led;
    ASSERT_TRUE(wal->WaitAcked(last).ok());
  }
  EXPECT_EQ(leader_rotations.load(), 0);
  EXPECT_GE(wal->stats().segments_created.load(), 10u);
  EXPECT_GT(led, 0) << "no attempt led: the test proves nothing on this machine";
  fs.SetSyncPathHook(nullptr);
  wal.reset();
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  EXPECT_EQ(got.back().lsn, last);
}

// While the moving average of syncs is above inline_sync_limit every batch
// is the writer thread's; once syncs are fast again leaders come back.
TEST(LeadCommit, DeclinesAfterSlowSyncsUntilTheyAreFastAgain) {
  testing::MemFs fs;
  auto opts = MemOptions(&fs);
  opts.inline_sync_limit = std::chrono::microseconds(1000);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  std::atomic<bool> slow{true};
  fs.SetSyncHook([&] {
    if (slow) std::this_thread::sleep_for(milliseconds(5));
  });
  for (int i = 0; i < 3; ++i) {  // the writer thread's slow syncs
    ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "slow", "1")).ok());
  }
  for (int i = 0; i < 30; ++i) {
    const uint64_t lsn = AppendKV(wal.get(), "k", ValueOf(i));
    ASSERT_FALSE(wal->LeadCommit()) << "attempt " << i << " led on a slow disk";
    ASSERT_TRUE(wal->WaitAcked(lsn).ok());
  }
  slow = false;
  for (int i = 0; i < 40; ++i) {  // fast syncs bring the average down
    ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "fast", "1")).ok());
  }
  EXPECT_NE(LeadOne(wal.get(), "1"), 0u) << "leaders never came back";
  fs.SetSyncHook(nullptr);
}

// Appends under LeaderToCome leave the batch to the coming leader: the
// writer thread is not woken for them, so the LeadCommit that follows
// leads, first time, on this thread.
TEST(LeadCommit, AppendsUnderLeaderToComeAreLeftToTheLeader) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  const auto me = std::this_thread::get_id();
  // Let the writer thread go to sleep first: one that has not reached its
  // wait yet takes whatever is pending (as it should, between batches).
  ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "warm", "1")).ok());
  std::this_thread::sleep_for(milliseconds(50));
  for (int i = 0; i < 20; ++i) {
    uint64_t lsn;
    {
      Wal::LeaderToCome leader(wal.get());
      lsn = AppendKV(wal.get(), "k", ValueOf(i));
    }
    // Given time, a woken writer thread would have taken it.
    std::this_thread::sleep_for(milliseconds(i == 0 ? 100 : 2));
    ASSERT_LT(wal->acked_lsn(), lsn) << "the writer thread was woken for a leader's append";
    std::thread::id ran_on;
    wal->WhenAcked(lsn, [&](const Status& st) {
      EXPECT_TRUE(st.ok());
      ran_on = std::this_thread::get_id();
    });
    ASSERT_TRUE(wal->LeadCommit()) << "attempt " << i;
    EXPECT_EQ(ran_on, me);
    EXPECT_GE(wal->acked_lsn(), lsn);
  }
  // Appends of another thread, or to another log, still wake the writer.
  testing::MemFs fs2;
  std::unique_ptr<Wal> other;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs2), &other, &got).ok());
  Wal::LeaderToCome leader(other.get());
  const uint64_t lsn = AppendKV(wal.get(), "k", "1");
  EXPECT_TRUE(WaitFor([&] { return wal->acked_lsn() >= lsn; }));
}

// A coming leader that declines (the disk is slow) wakes the writer
// thread for what its appends left pending: nothing is stranded.
TEST(LeadCommit, ALeaderThatDeclinesWakesTheWriterForItsAppends) {
  testing::MemFs fs;
  auto opts = MemOptions(&fs);
  opts.inline_sync_limit = std::chrono::microseconds(1000);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  fs.SetSyncHook([&] { std::this_thread::sleep_for(milliseconds(5)); });
  for (int i = 0; i < 3; ++i) {  // slow syncs: leaders are turned away
    ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "slow", "1")).ok());
  }
  for (int i = 0; i < 5; ++i) {
    uint64_t lsn;
    {
      Wal::LeaderToCome leader(wal.get());
      lsn = AppendKV(wal.get(), "k", ValueOf(i));
    }
    ASSERT_FALSE(wal->LeadCommit());
    ASSERT_TRUE(WaitFor([&] { return wal->acked_lsn() >= lsn; })) << "the declined batch was stranded";
  }
  fs.SetSyncHook(nullptr);
}

// Mode `batch`: a leader writes and acknowledges, the timed sync stays the
// writer thread's (woken by the leader, since it slept with nothing to sync).
TEST(LeadCommit, BatchModeLeaderWritesAndTheWriterSyncsInTime) {
  testing::MemFs fs;
  auto opts = MemOptions(&fs);
  opts.fsync = FsyncMode::kBatch;
  opts.fsync_interval = milliseconds(5);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  const auto me = std::this_thread::get_id();
  std::atomic<int> my_syncs{0};
  fs.SetSyncPathHook([&](const std::string& path) {
    if (std::this_thread::get_id() == me && IsSegment(path)) my_syncs.fetch_add(1);
  });
  // The leader holds its batch a while: the writer thread, woken by the
  // Append, finds it held and goes back to sleep with nothing to sync.
  wal->set_observer(WalObserver{[me](uint64_t, uint64_t) {
                                  if (std::this_thread::get_id() == me) {
                                    std::this_thread::sleep_for(milliseconds(20));
                                  }
                                },
                                nullptr});
  // Let any sync due from earlier records pass, so the writer sleeps untimed.
  std::shared_ptr<Seen> seen;
  const uint64_t lsn = LeadOne(wal.get(), "1", [&](uint64_t l) {
    ASSERT_TRUE(WaitFor([&] { return wal->durable_lsn() + 1 >= l; }));
    seen = std::make_shared<Seen>();
    wal->WhenAcked(l, [seen = seen](const Status& s) {
      std::lock_guard lk(seen->mu);
      seen->ran = true;
      seen->status = s;
      seen->thread = std::this_thread::get_id();
    });
  });
  ASSERT_NE(lsn, 0u) << "this thread never led a batch";
  {
    std::lock_guard lk(seen->mu);
    EXPECT_TRUE(seen->ran);
    EXPECT_TRUE(seen->status.ok());
    EXPECT_EQ(seen->thread, me);
  }
  EXPECT_EQ(my_syncs.load(), 0);
  EXPECT_TRUE(WaitFor([&] { return wal->durable_lsn() >= lsn; }))
      << "the writer thread never synced the leader's batch";
  fs.SetSyncPathHook(nullptr);
}

thread_local bool in_when_acked = false;

// Threads append and lead concurrently with the writer thread (and its
// rotations): every record is acknowledged exactly once, acknowledgements
// run in LSN order, and the log replays every record.
TEST(LeadCommit, ConcurrentLeadersAndWriterLoseNothing) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs, kMinSegmentBytes);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  constexpr int kThreads = 4, kEach = 250;
  // A disk whose syncs take a little while, and agents that pause between
  // writes, so that the log is sometimes idle and leaders and the writer
  // thread both commit.
  fs.SetSyncPathHook([](const std::string& path) {
    if (IsSegment(path)) std::this_thread::sleep_for(std::chrono::microseconds(100));
  });
  std::mutex mu;
  std::map<uint64_t, int> acks;
  std::vector<uint64_t> order;  // lsns acknowledged by a committing thread, in order
  std::atomic<int> led{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const uint64_t lsn =
            AppendKV(wal.get(), "t" + std::to_string(t) + "-" + std::to_string(i), ValueOf(i, 300));
        ASSERT_NE(lsn, 0u);
        in_when_acked = true;
        wal->WhenAcked(lsn, [&, lsn](const Status& s) {
          std::lock_guard lk(mu);
          acks[lsn] += s.ok() ? 1 : 1000;
          if (!in_when_acked) order.push_back(lsn);  // inline answers have no order
        });
        in_when_acked = false;
        if (wal->LeadCommit()) led.fetch_add(1);
        if (i % 4 == t) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  for (auto& th : threads) th.join();
  constexpr uint64_t kTotal = kThreads * kEach;
  ASSERT_TRUE(wal->WaitAcked(kTotal).ok());
  fs.SetSyncPathHook(nullptr);
  wal.reset();  // runs anything still queued (a lost or doubled ack shows below)
  ASSERT_EQ(acks.size(), kTotal);
  for (const auto& [lsn, n] : acks) EXPECT_EQ(n, 1) << "lsn " << lsn;
  for (size_t i = 1; i < order.size(); ++i) {
    ASSERT_LT(order[i - 1], order[i]) << "acknowledged out of lsn order at " << i;
  }
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  ASSERT_EQ(got.size(), kTotal);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].lsn, i + 1);
  std::map<std::string, int> keys;
  for (const auto& r : got) ++keys[r.key];
  EXPECT_EQ(keys.size(), kTotal);
  RecordProperty("led", led.load());
}

}  // namespace
}  // namespace casmem::wal
