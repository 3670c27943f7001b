// `casmem dump --log` (the built binary) on a log the sweep wrote to:
// a tombstone the sweep logged for an expired TTL is printed as
// "tombstone expired", a deleted key's as a plain tombstone (issue 10's
// expire records, read back by the tool that folds in casmem-waldump).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/engine/engine_helpers.h"
#include "tests/tools/run_cli.h"

namespace casmem {
namespace {

TEST(DumpLog, ShowsTheExpiredFlagOfASweptTombstone) {
  const std::string dir =
      ::testing::TempDir() + "casmem-expiry-waldump-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  ManualClock clock{kT0};
  StoreOptions o = MemoryOptions(&clock, 1);
  o.data_dir = dir;
  {
    auto store = MustOpen(o);
    Put(*store, "lease", "1", std::nullopt, 10);
    ASSERT_TRUE(store->WaitVisible(store->Delete("ws", "lease", std::nullopt).visible_lsn).ok());
    Put(*store, "lease", "2", std::nullopt, 10);
    clock.Advance(10);
    store->Sweep();
    ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
  }
  std::string segment;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal"))
    if (e.path().extension() == ".wal") segment = e.path().string();
  ASSERT_FALSE(segment.empty());
  const testing::CliRun r = testing::RunCli({"dump", "--log", segment});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lsn=2 tombstone ws=ws key=lease version=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lsn=4 tombstone expired ws=ws key=lease version=2 updated_at_ms=" +
                       std::to_string(kT0 + 10)),
            std::string::npos)
      << r.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace casmem
