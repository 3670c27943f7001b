// Store::Patch (memory-api.md §5), writer and revision in the engine:
// absent, deleted and expired keys, the guard, TTL kept unless given, a
// failure writing nothing, and concurrent patches of one key losing no
// update while sharing fsyncs.
#include <gtest/gtest.h>

#include <thread>

#include "engine/store.h"
#include "tests/engine/engine_helpers.h"

namespace casmem {
namespace {

std::unique_ptr<JsonPatch> JP(std::string_view text) {
  PatchError err;
  auto p = JsonPatch::Parse(text, &err);
  EXPECT_TRUE(p) << text << ": " << err.message;
  return p;
}
std::unique_ptr<MergePatch> MP(std::string_view text) {
  PatchError err;
  auto p = MergePatch::Parse(text, &err);
  EXPECT_TRUE(p) << text << ": " << err.message;
  return p;
}

WriteResult Apply(Store& s, std::string_view key, const JsonPatch* jp, const MergePatch* mp,
                  std::optional<uint64_t> guard = std::nullopt,
                  std::optional<int64_t> ttl = std::nullopt, std::string_view writer = {}) {
  PatchRequest r;
  r.workspace = "ws";
  r.key = key;
  r.json_patch = jp;
  r.merge_patch = mp;
  r.if_match_version = guard;
  r.ttl_ms = ttl;
  r.writer = writer;
  WriteResult w = s.Patch(r);
  if (w.outcome == Outcome::kOk) {
    EXPECT_TRUE(s.WaitVisible(w.visible_lsn).ok());
  }
  return w;
}

class PatchStore : public ::testing::Test {
 protected:
  ManualClock clock{kT0};
  std::unique_ptr<Store> store = MustOpen(MemoryOptions(&clock));
};

TEST_F(PatchStore, AbsentDeletedAndExpiredKeysAreTheDocumentNull) {
  auto merge = MP(R"({"a":1})");
  auto deep = JP(R"([{"op":"add","path":"/a","value":1}])");
  auto whole = JP(R"([{"op":"add","path":"","value":{"a":1}}])");
  Put(*store, "deleted", "5");
  ASSERT_EQ(store->Delete("ws", "deleted", std::nullopt).outcome, Outcome::kOk);
  Put(*store, "expired", "5", std::nullopt, 10);
  clock.Advance(10);
  for (const char* key : {"never", "deleted", "expired"}) {
    const WriteResult f = Apply(*store, key, deep.get(), nullptr);
    EXPECT_EQ(f.outcome, Outcome::kPatchFailed) << key;
    EXPECT_EQ(f.current_version, std::nullopt) << key;
    EXPECT_EQ(f.patch_error.op_index, 0) << key;
  }
  EXPECT_EQ(Apply(*store, "never", nullptr, merge.get()).value, R"({"a":1})");
  const WriteResult d = Apply(*store, "deleted", whole.get(), nullptr);
  EXPECT_EQ(d.value, R"({"a":1})");
  EXPECT_EQ(d.version, 2u) << "continues from the tombstone";
  EXPECT_EQ(Apply(*store, "expired", nullptr, merge.get()).version, 2u);
}

TEST_F(PatchStore, AFailedPatchWritesNothingAndReportsTheCurrentState) {
  Put(*store, "k", R"({"n":1})");
  const uint64_t rev = store->revision();
  auto p = JP(R"([{"op":"increment","path":"/n","value":1},{"op":"test","path":"/n","value":5}])");
  const WriteResult f = Apply(*store, "k", p.get(), nullptr);
  EXPECT_EQ(f.outcome, Outcome::kPatchFailed);
  EXPECT_EQ(f.patch_error.op_index, 1);
  EXPECT_EQ(f.current_version, 1u);
  EXPECT_EQ(f.current_value, R"({"n":1})");
  EXPECT_EQ(store->revision(), rev);
  EXPECT_EQ(store->Get("ws", "k").entry.value, R"({"n":1})");
}

TEST_F(PatchStore, GuardTtlWriterAndRevision) {
  Put(*store, "k", R"({"n":1})", std::nullopt, 60'000);
  const int64_t expires = store->Get("ws", "k").entry.expires_at_ms;
  auto inc = JP(R"([{"op":"increment","path":"/n","value":41}])");
  EXPECT_EQ(Apply(*store, "k", inc.get(), nullptr, 3).outcome, Outcome::kConflict);
  clock.Advance(1000);
  const WriteResult w = Apply(*store, "k", inc.get(), nullptr, 1, std::nullopt, "pm");
  ASSERT_EQ(w.outcome, Outcome::kOk);
  EXPECT_EQ(w.value, R"({"n":42})");
  GetResult g = store->Get("ws", "k");
  EXPECT_EQ(g.entry.expires_at_ms, expires) << "a patch keeps the TTL";
  EXPECT_EQ(g.entry.writer, "pm");
  EXPECT_EQ(g.entry.revision, w.revision);
  EXPECT_EQ(w.revision, store->revision());
  const WriteResult t = Apply(*store, "k", inc.get(), nullptr, std::nullopt, 5000);
  EXPECT_EQ(store->Get("ws", "k").entry.expires_at_ms, kT0 + 1000 + 5000);
  EXPECT_GT(t.revision, w.revision);
  // A plain put names no writer: the entry's writer goes with its version.
  Put(*store, "k", "1");
  EXPECT_EQ(store->Get("ws", "k").entry.writer, "");
  // A conflict reports the current version's writer.
  Apply(*store, "k", nullptr, MP("2").get(), std::nullopt, std::nullopt, "dev");
  const WriteResult c = Apply(*store, "k", inc.get(), nullptr, 1);
  EXPECT_EQ(c.current_writer, "dev");
}

TEST_F(PatchStore, TooLargeAndTooDeepResultsAreRefused) {
  StoreOptions o = MemoryOptions(&clock);
  o.max_value_bytes = 64;
  auto small = MustOpen(o);
  Put(*small, "k", R"({"s":"x"})");
  auto grow = JP(R"([{"op":"add","path":"/t","value":"0123456789012345678901234567890123456789012345678901234567890"}])");
  EXPECT_EQ(Apply(*small, "k", grow.get(), nullptr).outcome, Outcome::kTooLarge);
  // 10 levels of objects, and a 120-level value added at the bottom: each
  // within the limit, the result 130 deep.
  std::string doc = "1", path, value = "1";
  for (int i = 0; i < 10; ++i) doc = R"({"a":)" + doc + "}";
  for (int i = 0; i < 9; ++i) path += "/a";
  for (int i = 0; i < 120; ++i) value = "[" + value + "]";
  Put(*store, "d", doc);
  auto nest = JP(R"([{"op":"add","path":")" + path + R"(/b","value":)" + value + "}]");
  EXPECT_EQ(Apply(*store, "d", nest.get(), nullptr).outcome, Outcome::kInvalid);
  EXPECT_EQ(store->Get("ws", "d").entry.version, 1u);
}

TEST(PatchConcurrency, ConcurrentIncrementsOfOneKeyLoseNothingAndShareFsyncs) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  Put(*store, "counter", R"({"n":0})");
  auto inc = JP(R"([{"op":"increment","path":"/n","value":1}])");
  const uint64_t syncs_before = fs.sync_count();
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> pool;
  std::atomic<int> acked{0};
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        PatchRequest r;
        r.workspace = "ws";
        r.key = "counter";
        r.json_patch = inc.get();
        const WriteResult w = store->Patch(r);
        if (w.outcome == Outcome::kOk && store->WaitVisible(w.visible_lsn).ok()) ++acked;
      }
    });
  }
  for (auto& th : pool) th.join();
  ASSERT_EQ(acked.load(), kThreads * kEach);
  EXPECT_EQ(store->Get("ws", "counter").entry.value,
            R"({"n":)" + std::to_string(kThreads * kEach) + "}");
  EXPECT_EQ(store->Get("ws", "counter").entry.version, 1u + kThreads * kEach);
  // A thread waits for its fsync before its next patch, so at best 8 share
  // one; anything below one fsync per patch shows they share.
  EXPECT_LT(fs.sync_count() - syncs_before, static_cast<uint64_t>(kThreads * kEach));
  // And the log holds them all: recovery from it alone gives the same count.
  fs.Freeze();
  store.reset();
  fs.ProcessCrash();
  store = MustOpen(DurableOptions(&fs, &clock));
  EXPECT_EQ(store->Get("ws", "counter").entry.version, 1u + kThreads * kEach);
}

}  // namespace
}  // namespace casmem
