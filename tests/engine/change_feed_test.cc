// ChangeFeed (memory-api.md §8): under concurrent writers on many shards,
// every subscription (since 0, a middle revision, the head, the future)
// receives exactly the changes a history read gives, once each, in
// revision order; a sink without room waits without stalling the others
// and resumes on Kick; a sink returning false is dropped; Cancel waits for
// a delivery in progress; no subscription, no wake-up; compacted; Stop.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/change_feed.h"
#include "engine/store.h"
#include "tests/engine/change_helpers.h"

namespace casmem {
namespace {

using changes_test::Describe;
using changes_test::DiskStoreOptions;
using changes_test::Filter;
using changes_test::kNow;
using changes_test::MemoryStoreOptions;
using changes_test::OpenStore;
using changes_test::ReadAll;
using changes_test::TempDataDir;

constexpr auto kWait = std::chrono::seconds(120);

class TestSink : public ChangeFeed::Sink {
 public:
  bool Deliver(std::span<const FeedEvent> changes) override {
    std::unique_lock lk(mu_);
    ++calls_;
    const uint64_t rev = changes.front().event.revision;
    if (rev <= last_rev_) problems_.push_back("revision " + std::to_string(rev) + " after " +
                                              std::to_string(last_rev_));
    last_rev_ = rev;
    for (const FeedEvent& c : changes) {
      const std::string d = Describe(c.event);
      if (c.event.revision != rev) problems_.push_back("mixed revisions in one call: " + d);
      if (c.data != d) problems_.push_back("data " + std::string(c.data) + " for " + d);
      got_.push_back(d);
    }
    cv_.notify_all();
    if (block_) {
      in_deliver_ = true;
      cv_.notify_all();
      cv_.wait(lk, [&] { return !block_; });
    }
    return keep_;
  }
  size_t Room() override { return room_.load(); }
  void Compacted(uint64_t compact_revision, const Status& error) override {
    std::lock_guard lk(mu_);
    ++compacted_calls_;
    compact_revision_ = compact_revision;
    error_ = error;
    cv_.notify_all();
  }

  // Waits until an event `what` (a Describe() text) was delivered.
  bool WaitForEvent(const std::string& what) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kWait, [&] {
      return std::find(got_.begin(), got_.end(), what) != got_.end();
    });
  }
  bool WaitForCount(size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kWait, [&] { return got_.size() >= n; });
  }
  bool WaitCompacted() {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kWait, [&] { return compacted_calls_ > 0; });
  }
  bool WaitInDeliver() {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kWait, [&] { return in_deliver_; });
  }
  void Release() {
    std::lock_guard lk(mu_);
    block_ = false;
    cv_.notify_all();
  }
  std::vector<std::string> got() {
    std::lock_guard lk(mu_);
    return got_;
  }
  std::vector<std::string> problems() {
    std::lock_guard lk(mu_);
    return problems_;
  }
  int calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }
  int compacted_calls() {
    std::lock_guard lk(mu_);
    return compacted_calls_;
  }
  uint64_t compact_revision() {
    std::lock_guard lk(mu_);
    return compact_revision_;
  }

  std::atomic<size_t> room_{1 << 20};
  bool keep_ = true;   // set before subscribing
  bool block_ = false;  // Deliver waits for Release

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> got_;
  std::vector<std::string> problems_;
  uint64_t last_rev_ = 0;
  int calls_ = 0;
  int compacted_calls_ = 0;
  uint64_t compact_revision_ = 0;
  Status error_;
  bool in_deliver_ = false;
};

ChangeFeed::Formatter CountingFormatter(std::atomic<int>* calls) {
  return [calls](const ChangeEvent& e) {
    calls->fetch_add(1);
    return Describe(e);
  };
}

// A put whose change is visible (and so in the history) on return; its
// Describe() text.
std::string PutVisible(Store& s, std::string_view ws, std::string_view key, std::string_view value) {
  PutRequest r;
  r.workspace = ws;
  r.key = key;
  r.value = value;
  WriteResult w = s.Put(r);
  EXPECT_EQ(w.outcome, Outcome::kOk) << w.error;
  EXPECT_TRUE(s.WaitVisible(w.visible_lsn).ok());
  return std::to_string(w.revision) + " put " + std::string(ws) + "/" + std::string(key) + "=" +
         std::string(value) + " v" + std::to_string(w.version);
}

// One writer's mix on its own keys: puts, deletes, transactions, and puts
// in another workspace.
void WriterMix(Store& s, int t, int n, std::atomic<int>* done) {
  const std::string p = "p" + std::to_string(t) + "/";
  for (int i = 0; i < n; ++i) {
    const std::string key = p + "k" + std::to_string(i % 20);
    if (i % 25 == 24) {
      const std::string k0 = p + "t" + std::to_string(i), v0 = std::to_string(i);
      const std::string k1 = p + "u" + std::to_string(i), v1 = "[" + std::to_string(i) + "]";
      std::vector<TxnOp> ops(2);
      ops[0].key = k0;
      ops[0].value = v0;
      ops[1].key = k1;
      ops[1].value = v1;
      TxnRequest req;
      req.workspace = "w";
      req.ops = &ops;
      TxnResult r = s.Txn(req);
      EXPECT_EQ(r.outcome, Outcome::kOk) << r.error;
      EXPECT_TRUE(s.WaitVisible(r.visible_lsn).ok());
    } else if (i % 10 == 9) {
      WriteResult r = s.Delete("w", key, std::nullopt);
      EXPECT_TRUE(s.WaitVisible(r.visible_lsn).ok());
    } else if (i % 7 == 3) {
      PutVisible(s, "other", key, std::to_string(i));
    } else {
      PutVisible(s, "w", key, std::to_string(i));
    }
    done->fetch_add(1);
  }
}

class FeedStores : public ::testing::TestWithParam<bool> {
 protected:
  StoreOptions Options() {
    return GetParam() ? DiskStoreOptions(&clock_, dir_.path()) : MemoryStoreOptions(&clock_);
  }
  ManualClock clock_{kNow};
  TempDataDir dir_{"feed"};
};

INSTANTIATE_TEST_SUITE_P(MemoryAndDisk, FeedStores, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Disk" : "Memory"; });

TEST_P(FeedStores, ConcurrentWritersEverySubscriptionSeesItsChangesOnceInOrder) {
  StoreOptions o = Options();
  o.watch_memory_bytes = 16 << 10;  // catch-ups partly from disk (or compacted: not here)
  if (!GetParam()) o.watch_memory_bytes = 64ULL << 20;
  auto store = OpenStore(o);
  std::atomic<int> formats{0};
  ChangeFeed::Options fo;
  fo.catch_up_events = 7;  // many catch-up rounds
  ChangeFeed feed(store->history(), CountingFormatter(&formats), fo);
  std::atomic<int> done{0};
  WriterMix(*store, 9, 60, &done);  // before the feed: since 0 catches up
  feed.Start();

  struct Sub {
    ChangeFilter filter;
    uint64_t since;
    std::shared_ptr<TestSink> sink = std::make_shared<TestSink>();
  };
  std::vector<Sub> subs;
  auto subscribe = [&](ChangeFilter f, uint64_t since, size_t room = 1 << 20) {
    subs.push_back(Sub{std::move(f), since});
    subs.back().sink->room_ = room;
    feed.Subscribe(subs.back().filter, since, subs.back().sink);
  };
  subscribe(Filter("w"), 0);
  subscribe(Filter("w", "p1/"), 0, 64);  // small rooms: one record a round
  subscribe(Filter("other"), 0);

  constexpr int kWriters = 4, kEach = 150;
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] { WriterMix(*store, t, kEach, &done); });
  }
  // While they write: since a middle revision, the head, the future.
  while (done.load() < 60 + 100) std::this_thread::yield();
  const uint64_t head = store->history()->head();
  subscribe(Filter("w"), head / 2);
  subscribe(Filter("w", "p2/"), head);
  subscribe(Filter("w"), head + 3);  // the future (the end markers follow)
  subscribe(Filter("w", "p3/k1", true), 0);
  for (auto& th : writers) th.join();
  // A last change every subscription matches, after everything else.
  const std::string end_w = PutVisible(*store, "w", "p1/k1", "\"end\"");
  const std::string end_o = PutVisible(*store, "other", "end", "\"end\"");
  const std::string end_p2 = PutVisible(*store, "w", "p2/end", "\"end\"");
  const std::string end_p3 = PutVisible(*store, "w", "p3/k1", "\"end\"");
  for (size_t i = 0; i < subs.size(); ++i) {
    SCOPED_TRACE("subscription " + std::to_string(i) + " since " + std::to_string(subs[i].since) +
                 " prefix " + subs[i].filter.prefix);
    const std::vector<std::string> expected = ReadAll(*store->history(), subs[i].filter, subs[i].since);
    ASSERT_FALSE(expected.empty());
    const std::string& last = expected.back();
    EXPECT_TRUE(last == end_w || last == end_o || last == end_p2 || last == end_p3) << last;
    ASSERT_TRUE(subs[i].sink->WaitForEvent(last)) << "got " << subs[i].sink->got().size()
                                                  << " of " << expected.size();
    EXPECT_EQ(subs[i].sink->got(), expected);
    EXPECT_EQ(subs[i].sink->problems(), std::vector<std::string>());
    EXPECT_EQ(subs[i].sink->compacted_calls(), 0);
  }
  EXPECT_EQ(feed.subscriptions(), subs.size());
  feed.Stop();
}

TEST_P(FeedStores, LiveChangesAreFormattedOnceForEverySink) {
  auto store = OpenStore(Options());
  std::atomic<int> formats{0};
  ChangeFeed feed(store->history(), CountingFormatter(&formats));
  feed.Start();
  std::vector<std::shared_ptr<TestSink>> sinks;
  for (int i = 0; i < 3; ++i) {
    sinks.push_back(std::make_shared<TestSink>());
    feed.Subscribe(Filter("w"), store->history()->head(), sinks.back());
  }
  std::atomic<int> done{0};
  WriterMix(*store, 0, 30, &done);  // 2 writes in "other", a txn of 2
  const std::string end = PutVisible(*store, "w", "end", "1");
  const auto expected = ReadAll(*store->history(), Filter("w"), 0);
  for (auto& s : sinks) {
    ASSERT_TRUE(s->WaitForEvent(end));
    EXPECT_EQ(s->got(), expected);
  }
  EXPECT_EQ(formats.load(), static_cast<int>(expected.size()));
  EXPECT_EQ(feed.changes_delivered(), 3 * expected.size());
}

TEST(ChangeFeed, LiveSubscriptionsOfManyPrefixesGetExactlyTheirChangesAcrossCancels) {
  ManualClock clock{kNow};
  auto store = OpenStore(MemoryStoreOptions(&clock));
  std::atomic<int> formats{0};
  ChangeFeed feed(store->history(), CountingFormatter(&formats));
  feed.Start();
  const std::vector<ChangeFilter> filters = {
      Filter("w"),          Filter("w", "a"),       Filter("w", "a/"),      Filter("w", "a/b"),
      Filter("w", "a/b", true), Filter("w", "a/b", true), Filter("w", "b/"), Filter("w", "a/"),
      Filter("x", "a/"),    Filter("w", "a/bc"),    Filter("w", "zzzz")};
  std::vector<std::shared_ptr<TestSink>> sinks;
  std::vector<uint64_t> ids;
  for (const auto& f : filters) {
    sinks.push_back(std::make_shared<TestSink>());
    ids.push_back(feed.Subscribe(f, 0, sinks.back()));
  }
  const std::vector<std::string> keys = {"a", "a/b", "a/bc", "a/b/c", "b/1", "ab", "c", "a/"};
  auto write_all = [&](const std::string& value) {
    for (const auto& k : keys) PutVisible(*store, "w", k, value);
    PutVisible(*store, "x", "a/1", value);
    // A transaction touching several prefixes: one call per sink, op order.
    const std::string k0 = "b/t", k1 = "a/b", k2 = "a/t";
    std::vector<TxnOp> ops(3);
    ops[0].key = k0;
    ops[0].value = value;
    ops[1].key = k1;
    ops[1].value = value;
    ops[2].key = k2;
    ops[2].value = value;
    TxnRequest req;
    req.workspace = "w";
    req.ops = &ops;
    TxnResult r = store->Txn(req);
    ASSERT_EQ(r.outcome, Outcome::kOk);
    ASSERT_TRUE(store->WaitVisible(r.visible_lsn).ok());
  };
  write_all("1");
  // Once the catch-all watch saw this, every watch had round 1.
  const std::string mark = PutVisible(*store, "w", "zzzz", "\"mark\"");
  ASSERT_TRUE(sinks[0]->WaitForEvent(mark));
  const uint64_t cut = store->history()->head();
  // Cancel one of two equal exact-key watches and one of two "a/" watches.
  feed.Cancel(ids[5]);
  feed.Cancel(ids[7]);
  write_all("2");
  const std::string end = PutVisible(*store, "x", "a/end", "\"end\"");
  ASSERT_TRUE(sinks[8]->WaitForEvent(end));  // the last record: all were dispatched
  for (size_t i = 0; i < filters.size(); ++i) {
    SCOPED_TRACE("filter " + std::to_string(i) + " " + filters[i].workspace + " " +
                 filters[i].prefix + (filters[i].exact_key ? " exact" : ""));
    const bool cancelled = i == 5 || i == 7;
    const auto expected = ReadAll(*store->history(), filters[i], 0, cancelled ? cut : UINT64_MAX);
    EXPECT_FALSE(expected.empty());
    EXPECT_EQ(sinks[i]->got(), expected);
    EXPECT_EQ(sinks[i]->problems(), std::vector<std::string>());
  }
  EXPECT_EQ(feed.subscriptions(), filters.size() - 2);
}

TEST(ChangeFeed, ASinkWithoutRoomWaitsWithoutStallingOthersAndResumesOnKick) {
  ManualClock clock{kNow};
  auto store = OpenStore(MemoryStoreOptions(&clock));
  std::atomic<int> formats{0};
  ChangeFeed feed(store->history(), CountingFormatter(&formats));
  std::atomic<int> done{0};
  WriterMix(*store, 0, 40, &done);
  feed.Start();
  auto slow = std::make_shared<TestSink>();
  slow->room_ = 0;
  auto fast = std::make_shared<TestSink>();
  auto live = std::make_shared<TestSink>();
  live->room_ = 0;  // live delivery does not ask
  feed.Subscribe(Filter("w"), 0, slow);
  feed.Subscribe(Filter("w"), 0, fast);
  feed.Subscribe(Filter("w"), store->history()->head(), live);
  WriterMix(*store, 1, 40, &done);
  const std::string end = PutVisible(*store, "w", "end", "1");
  ASSERT_TRUE(fast->WaitForEvent(end));
  ASSERT_TRUE(live->WaitForEvent(end));
  EXPECT_TRUE(slow->got().empty());
  slow->room_ = 1;  // one record a round
  feed.Kick();
  ASSERT_TRUE(slow->WaitForEvent(end));
  EXPECT_EQ(slow->got(), ReadAll(*store->history(), Filter("w"), 0));
  EXPECT_EQ(slow->got(), fast->got());
  EXPECT_EQ(slow->problems(), std::vector<std::string>());
}

TEST(ChangeFeed, ASinkReturningFalseIsDroppedAndCancelEndsASubscription) {
  ManualClock clock{kNow};
  auto store = OpenStore(MemoryStoreOptions(&clock));
  std::atomic<int> formats{0};
  ChangeFeed feed(store->history(), CountingFormatter(&formats));
  feed.Start();
  auto quits = std::make_shared<TestSink>();
  quits->keep_ = false;
  auto cancelled = std::make_shared<TestSink>();
  auto stays = std::make_shared<TestSink>();
  feed.Subscribe(Filter("w"), 0, quits);
  const uint64_t id = feed.Subscribe(Filter("w"), 0, cancelled);
  EXPECT_NE(id, 0u);
  feed.Subscribe(Filter("w"), 0, stays);
  EXPECT_EQ(feed.subscriptions(), 3u);
  const std::string first = PutVisible(*store, "w", "a", "1");
  ASSERT_TRUE(stays->WaitForEvent(first));
  ASSERT_TRUE(cancelled->WaitForEvent(first));
  feed.Cancel(id);
  feed.Cancel(id);      // ended: ignored
  feed.Cancel(12345);   // unknown: ignored
  const std::string second = PutVisible(*store, "w", "b", "2");
  ASSERT_TRUE(stays->WaitForEvent(second));
  EXPECT_EQ(quits->calls(), 1);
  EXPECT_EQ(quits->got(), std::vector<std::string>{first});
  EXPECT_EQ(cancelled->got(), std::vector<std::string>{first});
  EXPECT_EQ(feed.subscriptions(), 1u);
}

TEST(ChangeFeed, CancelWaitsForADeliveryInProgress) {
  ManualClock clock{kNow};
  auto store = OpenStore(MemoryStoreOptions(&clock));
  std::atomic<int> formats{0};
  ChangeFeed feed(store->history(), CountingFormatter(&formats));
  feed.Start();
  auto sink = std::make_shared<TestSink>();
  sink->block_ = true;
  const uint64_t id = feed.Subscribe(Filter("w"), 0, sink);
  PutVisible(*store, "w", "a", "1");
  ASSERT_TRUE(sink->WaitInDeliver());
  std::atomic<bool> returned{false};
  std::thread canceller([&] {
    feed.Cancel(id);
    returned = true;
  });
  // Not a synchronisation: a chance for a Cancel that does not wait to show it.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(returned.load());
  sink->Release();
  canceller.join();
  EXPECT_TRUE(returned.load());
  PutVisible(*store, "w", "b", "2");
  feed.Stop();
  EXPECT_EQ(sink->calls(), 1);
}

TEST(ChangeFeed, WithoutSubscriptionsCommitsNeverWakeTheFeed) {
  TempDataDir dir("feed-idle");
  ManualClock clock{kNow};
  auto store = OpenStore(DiskStoreOptions(&clock, dir.path()));
  std::atomic<int> formats{0};
  ChangeFeed feed(store->history(), CountingFormatter(&formats));
  feed.Start();
  std::atomic<int> done{0};
  WriterMix(*store, 0, 50, &done);
  EXPECT_EQ(feed.wakeups(), 0u);
  EXPECT_EQ(formats.load(), 0);
  // The first subscription (since the head) gets what follows, not what
  // was written while nobody listened.
  auto sink = std::make_shared<TestSink>();
  feed.Subscribe(Filter("w"), store->history()->head(), sink);
  EXPECT_GE(feed.wakeups(), 1u);
  const std::string next = PutVisible(*store, "w", "next", "1");
  ASSERT_TRUE(sink->WaitForEvent(next));
  EXPECT_EQ(sink->got(), std::vector<std::string>{next});
}

TEST(ChangeFeed, ASinceOlderThanTheHistoryIsCompacted) {
  ManualClock clock{kNow};
  StoreOptions o = MemoryStoreOptions(&clock);
  o.watch_memory_bytes = 0;
  auto store = OpenStore(o);
  std::string last;
  for (int i = 0; i < 10; ++i) last = PutVisible(*store, "w", "k" + std::to_string(i), "1");
  std::atomic<int> formats{0};
  ChangeFeed feed(store->history(), CountingFormatter(&formats));
  feed.Start();
  auto old = std::make_shared<TestSink>();
  auto ok = std::make_shared<TestSink>();
  feed.Subscribe(Filter("w"), 0, old);
  feed.Subscribe(Filter("w"), 9, ok);
  ASSERT_TRUE(old->WaitCompacted());
  EXPECT_EQ(old->compact_revision(), 9u);
  ASSERT_TRUE(ok->WaitForEvent(last));
  EXPECT_EQ(ok->got(), std::vector<std::string>{last});
  const std::string more = PutVisible(*store, "w", "more", "2");
  ASSERT_TRUE(ok->WaitForEvent(more));
  EXPECT_EQ(old->calls(), 0);
  EXPECT_EQ(old->compacted_calls(), 1);
  EXPECT_EQ(feed.subscriptions(), 1u);
}

TEST(ChangeFeed, AfterARestartASubscriptionCatchesUpFromTheLog) {
  ManualClock clock{kNow};
  TempDataDir dir("feed-restart");
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.wal_segment_bytes = 4 << 20;  // one segment: the snapshot at close deletes none
  std::atomic<int> done{0};
  {
    auto store = OpenStore(o);
    WriterMix(*store, 0, 80, &done);
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = OpenStore(o);
  std::atomic<int> formats{0};
  ChangeFeed feed(store->history(), CountingFormatter(&formats));
  feed.Start();
  auto sink = std::make_shared<TestSink>();
  sink->room_ = 100;  // a few records a round
  feed.Subscribe(Filter("w", "p0/"), 0, sink);
  WriterMix(*store, 0, 20, &done);
  const std::string end = PutVisible(*store, "w", "p0/end", "1");
  ASSERT_TRUE(sink->WaitForEvent(end));
  const auto expected = ReadAll(*store->history(), Filter("w", "p0/"), 0);
  EXPECT_GT(expected.size(), 60u);
  EXPECT_EQ(sink->got(), expected);
  EXPECT_EQ(sink->problems(), std::vector<std::string>());
}

TEST(ChangeFeed, NoSinkIsCalledAfterStop) {
  ManualClock clock{kNow};
  auto store = OpenStore(MemoryStoreOptions(&clock));
  std::atomic<int> formats{0};
  auto feed = std::make_unique<ChangeFeed>(store->history(), CountingFormatter(&formats));
  feed->Start();
  auto sink = std::make_shared<TestSink>();
  feed->Subscribe(Filter("w"), 0, sink);
  std::atomic<bool> stop_writing{false};
  std::atomic<int> done{0};
  std::thread writer([&] {
    for (int i = 0; !stop_writing; ++i) PutVisible(*store, "w", "k" + std::to_string(i % 10), "1");
  });
  ASSERT_TRUE(sink->WaitForCount(20));
  feed->Stop();
  const int calls = sink->calls();
  const size_t count = sink->got().size();
  while (store->history()->head() < count + 50) std::this_thread::yield();
  stop_writing = true;
  writer.join();
  EXPECT_EQ(sink->calls(), calls);
  feed->Stop();  // idempotent
  feed.reset();
  EXPECT_EQ(sink.use_count(), 1);  // the feed let go of it
  (void)done;
}

}  // namespace
}  // namespace casmem
