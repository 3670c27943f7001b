// Store::Load (restore and import): a key's state written as given, its
// version kept; never over a version as new or newer; tombstones keep the
// version from being handed out again; loaded state survives a restart.
#include "tests/engine/engine_helpers.h"

namespace casmem {
namespace {

WriteResult LoadKey(Store& s, std::string_view key, std::string_view value, uint64_t version,
                    int64_t updated_at_ms = 0, int64_t expires_at_ms = 0,
                    std::string_view writer = "") {
  LoadRequest r;
  r.workspace = "ws";
  r.key = key;
  r.value = value;
  r.version = version;
  r.updated_at_ms = updated_at_ms;
  r.expires_at_ms = expires_at_ms;
  r.writer = writer;
  WriteResult res = s.Load(r);
  if (res.outcome == Outcome::kOk) {
    EXPECT_TRUE(s.WaitVisible(res.visible_lsn).ok());
  }
  return res;
}

TEST(Load, KeepsVersionTimesAndWriterAndLaterWritesContinueFromIt) {
  ManualClock clock(kT0);
  auto s = MustOpen(MemoryOptions(&clock));
  const WriteResult r = LoadKey(*s, "k", "[1,2]", 41, kT0 - 5000, kT0 + 60'000, "pm");
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.error;
  EXPECT_EQ(r.version, 41u);
  const GetResult g = s->Get("ws", "k");
  ASSERT_EQ(g.outcome, Outcome::kOk);
  EXPECT_EQ(g.entry.value, "[1,2]");
  EXPECT_EQ(g.entry.version, 41u);
  EXPECT_EQ(g.entry.revision, r.revision);
  EXPECT_EQ(g.entry.updated_at_ms, kT0 - 5000);
  EXPECT_EQ(g.entry.expires_at_ms, kT0 + 60'000);
  EXPECT_EQ(g.entry.writer, "pm");
  // An agent's guard taken before the restore still applies.
  EXPECT_EQ(Put(*s, "k", "3", 41).version, 42u);
}

TEST(Load, RefusesToReplaceTheSameOrANewerVersion) {
  ManualClock clock(kT0);
  auto s = MustOpen(MemoryOptions(&clock));
  ASSERT_EQ(LoadKey(*s, "k", "\"new\"", 7).outcome, Outcome::kOk);
  for (uint64_t v : {7u, 3u}) {
    const WriteResult r = LoadKey(*s, "k", "\"old\"", v);
    EXPECT_EQ(r.outcome, Outcome::kConflict);
    ASSERT_TRUE(r.current_version.has_value());
    EXPECT_EQ(*r.current_version, 7u);
  }
  EXPECT_EQ(s->Get("ws", "k").entry.value, "\"new\"");
  // A newer version replaces it.
  ASSERT_EQ(LoadKey(*s, "k", "\"newer\"", 9).outcome, Outcome::kOk);
  EXPECT_EQ(s->Get("ws", "k").entry.version, 9u);
}

TEST(Load, ATombstoneIsAbsentButKeepsItsVersion) {
  ManualClock clock(kT0);
  auto s = MustOpen(MemoryOptions(&clock));
  ASSERT_EQ(Put(*s, "k", "1").version, 1u);
  ASSERT_EQ(LoadKey(*s, "k", "", 12).outcome, Outcome::kOk);
  EXPECT_EQ(s->Get("ws", "k").outcome, Outcome::kNotFound);
  EXPECT_EQ(s->counters().tombstones, 1u);
  // Re-created after the tombstone: version 13, never a version seen before.
  EXPECT_EQ(Put(*s, "k", "2", 0).version, 13u);
  // A tombstone of an unknown key.
  ASSERT_EQ(LoadKey(*s, "gone", "", 5).outcome, Outcome::kOk);
  EXPECT_EQ(Put(*s, "gone", "1").version, 6u);
  // A tombstone older than the live key here is refused.
  EXPECT_EQ(LoadKey(*s, "gone", "", 6).outcome, Outcome::kConflict);
}

TEST(Load, AnExpiredTtlLoadsAsAbsent) {
  ManualClock clock(kT0);
  auto s = MustOpen(MemoryOptions(&clock));
  ASSERT_EQ(LoadKey(*s, "k", "1", 4, kT0 - 10'000, kT0 - 1).outcome, Outcome::kOk);
  EXPECT_EQ(s->Get("ws", "k").outcome, Outcome::kNotFound);
  EXPECT_EQ(Put(*s, "k", "2", 0).version, 5u);
}

TEST(Load, RefusesVersionsOutOfRangeBadNamesAndTooLargeValues) {
  ManualClock clock(kT0);
  StoreOptions o = MemoryOptions(&clock);
  o.max_value_bytes = 8;
  auto s = MustOpen(o);
  EXPECT_EQ(LoadKey(*s, "k", "1", 0).outcome, Outcome::kInvalid);
  // Past 2^53 - 1 a JSON client cannot hold the version, and near 2^64 the
  // next write would wrap it to 0.
  EXPECT_EQ(LoadKey(*s, "k", "1", kMaxLoadVersion + 1).outcome, Outcome::kInvalid);
  EXPECT_EQ(LoadKey(*s, "k", "1", UINT64_MAX).outcome, Outcome::kInvalid);
  EXPECT_EQ(LoadKey(*s, "", "1", 1).outcome, Outcome::kInvalid);
  EXPECT_EQ(LoadKey(*s, "k", "\"123456789\"", 1).outcome, Outcome::kTooLarge);
  EXPECT_EQ(s->Get("ws", "k").outcome, Outcome::kNotFound);
  ASSERT_EQ(LoadKey(*s, "k", "1", kMaxLoadVersion).outcome, Outcome::kOk);
  EXPECT_EQ(Put(*s, "k", "2", kMaxLoadVersion).version, kMaxLoadVersion + 1);
}

TEST(Load, LoadedStateSurvivesARestart) {
  testing::MemFs fs;
  ManualClock clock(kT0);
  {
    auto s = MustOpen(DurableOptions(&fs, &clock));
    ASSERT_EQ(LoadKey(*s, "a", "{\"x\":1}", 30, kT0 - 1, 0, "w").outcome, Outcome::kOk);
    ASSERT_EQ(LoadKey(*s, "b", "", 8).outcome, Outcome::kOk);
    // Crash: no clean-close snapshot; recovery replays the log.
    fs.Freeze();
    s.reset();
    fs.PowerLoss();
  }
  auto s = MustOpen(DurableOptions(&fs, &clock));
  const GetResult g = s->Get("ws", "a");
  ASSERT_EQ(g.outcome, Outcome::kOk);
  EXPECT_EQ(g.entry.version, 30u);
  EXPECT_EQ(g.entry.writer, "w");
  EXPECT_EQ(Put(*s, "b", "1", 0).version, 9u);
}

}  // namespace
}  // namespace casmem
