// `casmem check` and `casmem repair` on damaged copies of a data directory
// (the built binary): each kind of damage is reported naming file and
// offset, repair --dry-run changes nothing, repair backs up and cuts, and
// afterwards casmemd opens the directory and serves every record before
// the damage.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "tests/support/http_client.h"
#include "tests/tools/offline_fixture.h"
#include "tests/tools/run_cli.h"

namespace casmem::testing {
namespace {

constexpr int kKeys = 300;  // about 5 segments of 64 KiB

// Keys `casmem dump` lists, in order.
std::vector<std::string> DumpedKeys(const std::string& dir) {
  const CliRun r = RunCli({"dump", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> keys;
  size_t pos = 0;
  while ((pos = r.out.find("\"key\":\"", pos)) != std::string::npos) {
    pos += 7;
    keys.push_back(r.out.substr(pos, r.out.find('"', pos) - pos));
  }
  return keys;
}

// The keys left are exactly k0000..k(m-1) for some m in [at_least, kKeys).
void ExpectPrefixKept(const std::string& dir, int at_least, int below = kKeys + 1) {
  const std::vector<std::string> keys = DumpedKeys(dir);
  ASSERT_GE(static_cast<int>(keys.size()), at_least);
  ASSERT_LT(static_cast<int>(keys.size()), below);
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(keys[i], KeyName(static_cast<int>(i)));
}

// casmemd opens `dir` and serves key i's value for i < m and 404 at m.
void ExpectServed(const std::string& dir, int m) {
  Casmemd d(dir);
  ASSERT_NE(d.port(), 0) << d.Stderr();
  auto c = HttpClient::Connect(d.port());
  ASSERT_NE(c, nullptr);
  for (int i : {0, m / 2, m - 1}) {
    const HttpReply r = c->Request("GET", "/workspaces/ws/memory/" + KeyName(i));
    EXPECT_EQ(r.status, 200) << KeyName(i);
    EXPECT_NE(r.body.find(std::string(1000, 'a' + i % 26)), std::string::npos);
  }
  EXPECT_EQ(c->Request("GET", "/workspaces/ws/memory/" + KeyName(m)).status, 404);
  EXPECT_EQ(d.Terminate(), 0);
}

// Runs repair --dry-run (nothing may change), then repair; returns the
// repair's output. The backup directory it names holds the cut bytes.
std::string DryRunThenRepair(const std::string& dir) {
  const auto before = TreeBytes(dir);
  const CliRun dry = RunCli({"repair", "--data-dir", dir, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("dry run: nothing was changed"), std::string::npos) << dry.out;
  EXPECT_EQ(TreeBytes(dir), before) << "repair --dry-run changed the directory";
  const CliRun r = RunCli({"repair", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("repaired:"), std::string::npos) << r.out;
  const CliRun check = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("result: ok"), std::string::npos) << check.out;
  return r.out;
}

std::string BackupDir(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with("repair-backup-")) return e.path().string();
  }
  return "";
}

TEST(OfflineCheck, CleanDirectoryReportsEveryFileAndKeys) {
  const std::string dir = FreshDir("clean");
  BuildStore(dir, kKeys, /*snapshot=*/false);
  const auto before = TreeBytes(dir);
  const CliRun r = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  for (const std::string& seg : Segments(dir)) EXPECT_NE(r.out.find(seg), std::string::npos);
  EXPECT_NE(r.out.find("300 records"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keys: 300 live, 0 tombstones, 1 workspaces"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recovery reaches lsn 300"), std::string::npos) << r.out;
  EXPECT_EQ(TreeBytes(dir), before);
  const CliRun j = RunCli({"check", "--data-dir", dir, "--json"});
  EXPECT_EQ(j.exit_code, 0);
  EXPECT_NE(j.out.find("\"live_keys\":300"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"ok\":true"), std::string::npos) << j.out;
  std::filesystem::remove_all(dir);
}

TEST(OfflineCheck, FlippedByteInAnOlderSegmentIsDamageThenRepaired) {
  const std::string dir = FreshDir("flip");
  BuildStore(dir, kKeys, false);
  const auto segs = Segments(dir);
  ASSERT_GE(segs.size(), 3u);
  std::string bytes = ReadAll(segs[1]);
  bytes[bytes.size() / 2] ^= 0x40;
  WriteAll(segs[1], bytes);

  const CliRun r = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find(segs[1] + " offset "), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("DAMAGED at offset"), std::string::npos) << r.out;
  // casmemd refuses such a directory.
  {
    Casmemd d(dir);
    EXPECT_EQ(d.port(), 0);
  }
  const std::string out = DryRunThenRepair(dir);
  EXPECT_NE(out.find("lost: every record after lsn"), std::string::npos) << out;
  // Later segments were moved into the backup whole; the damaged one copied.
  const std::string backup = BackupDir(dir);
  ASSERT_FALSE(backup.empty());
  const std::string name2 = std::filesystem::path(segs[2]).filename().string();
  EXPECT_EQ(ReadAll(backup + "/wal/" + name2).size(), std::filesystem::file_size(segs[0]));
  EXPECT_EQ(ReadAll(backup + "/wal/" + std::filesystem::path(segs[1]).filename().string()), bytes);
  EXPECT_NE(ReadAll(backup + "/MANIFEST.txt").find("zeroed"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(segs[2]));
  // Everything of segment 0 survives, and whatever of segment 1 came before the damage.
  const int seg0 = 50;  // 64 KiB / ~1 KiB records, at the least
  ExpectPrefixKept(dir, seg0, kKeys / 2);
  const int m = static_cast<int>(DumpedKeys(dir).size());
  ExpectServed(dir, m);
  std::filesystem::remove_all(dir);
}

TEST(OfflineCheck, TornTailIsAWarningAndRepairCutsIt) {
  const std::string dir = FreshDir("torn");
  BuildStore(dir, kKeys, false);
  const auto segs = Segments(dir);
  // Truncate the last segment in the middle of its last record.
  const std::string last = segs.back();
  std::string bytes = ReadAll(last);
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == 0) --end;
  bytes.resize(end - 200);
  WriteAll(last, bytes);

  const CliRun r = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("warning: torn tail in " + last + " at offset "), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("result: ok, with a torn tail"), std::string::npos) << r.out;
  // The torn batch (the last one; the log writer may have put many
  // records in it) is not part of the state; every batch before it is.
  const size_t at = r.out.find("recovery reaches lsn ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const int reached = std::stoi(r.out.substr(at + 21));
  const int before_last_segment = kKeys - 70;  // the last segment holds at most ~60
  EXPECT_GE(reached, before_last_segment);
  EXPECT_LT(reached, kKeys);
  EXPECT_EQ(static_cast<int>(DumpedKeys(dir).size()), reached);
  const std::string out = DryRunThenRepair(dir);
  EXPECT_NE(out.find("lost: no acknowledged record"), std::string::npos) << out;
  ExpectPrefixKept(dir, reached, reached + 1);
  ExpectServed(dir, reached);
  std::filesystem::remove_all(dir);
}

TEST(OfflineCheck, DamagedSnapshotIsReportedAndMovedAside) {
  const std::string dir = FreshDir("snap");
  BuildStore(dir, 40, /*snapshot=*/true);  // one segment kept (watch history), one snapshot
  const auto snaps = Snapshots(dir);
  ASSERT_EQ(snaps.size(), 1u);
  std::string bytes = ReadAll(snaps[0]);
  bytes[bytes.size() / 2] ^= 0x01;
  WriteAll(snaps[0], bytes);

  const CliRun r = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find(snaps[0]), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("snapshot " + snaps[0] + ": DAMAGED"), std::string::npos) << r.out;
  DryRunThenRepair(dir);
  EXPECT_FALSE(std::filesystem::exists(snaps[0]));
  EXPECT_EQ(ReadAll(BackupDir(dir) + "/snap/" + std::filesystem::path(snaps[0]).filename().string()),
            bytes);
  // The log still holds every record from lsn 1: nothing lost.
  ExpectPrefixKept(dir, 40, 41);
  ExpectServed(dir, 40);
  std::filesystem::remove_all(dir);
}

TEST(OfflineCheck, MissingMiddleSegmentIsDamageAndLaterSegmentsGo) {
  const std::string dir = FreshDir("gap");
  BuildStore(dir, kKeys, false);
  const auto segs = Segments(dir);
  ASSERT_GE(segs.size(), 4u);
  std::filesystem::remove(segs[2]);

  const CliRun r = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("missing log segment between " + segs[1] + " and " + segs[3]),
            std::string::npos)
      << r.err;
  const std::string out = DryRunThenRepair(dir);
  EXPECT_FALSE(std::filesystem::exists(segs[3]));
  EXPECT_TRUE(std::filesystem::exists(segs[1]));
  // Segments 0 and 1 survive whole.
  const std::vector<std::string> keys = DumpedKeys(dir);
  ExpectPrefixKept(dir, 100, kKeys);
  ExpectServed(dir, static_cast<int>(keys.size()));
  std::filesystem::remove_all(dir);
}

TEST(OfflineCheck, DamageInSegmentsTheSnapshotCoversIsRemovedNotCut) {
  const std::string dir = FreshDir("stale");
  BuildStore(dir, kKeys, /*snapshot=*/true);  // the snapshot covers every segment
  const auto segs = Segments(dir);
  ASSERT_GE(segs.size(), 4u);
  std::string bytes = ReadAll(segs[1]);
  bytes[bytes.size() / 2] ^= 0x40;
  WriteAll(segs[1], bytes);
  const CliRun r = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find(segs[1] + " offset "), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("covered by the snapshot: DAMAGED"), std::string::npos) << r.out;
  // Every key is in the snapshot: nothing is lost, later segments stay.
  EXPECT_NE(r.out.find("keys: 300 live"), std::string::npos) << r.out;
  const std::string out = DryRunThenRepair(dir);
  EXPECT_NE(out.find("lost: no acknowledged record"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(segs[0]));
  EXPECT_FALSE(std::filesystem::exists(segs[1]));
  EXPECT_EQ(ReadAll(BackupDir(dir) + "/wal/" + std::filesystem::path(segs[1]).filename().string()),
            bytes);
  EXPECT_TRUE(std::filesystem::exists(segs.back()));
  ExpectPrefixKept(dir, kKeys, kKeys + 1);
  ExpectServed(dir, kKeys);
  std::filesystem::remove_all(dir);
}

// casmemd (a real one) writes key "after" into `dir`, stops cleanly or is
// killed (no snapshot then), and, started again, serves k0000..k0019 and it.
void WriteThenRestartServes(const std::string& dir, bool kill) {
  {
    Casmemd d(dir);
    ASSERT_NE(d.port(), 0) << d.Stderr();
    auto c = HttpClient::Connect(d.port());
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(c->Request("POST", "/workspaces/ws/memory", R"({"key":"after","value":1})").status, 200);
    if (kill) {
      d.Kill();
    } else {
      EXPECT_EQ(d.Terminate(), 0) << d.Stderr();
    }
  }
  Casmemd d(dir);
  ASSERT_NE(d.port(), 0) << "casmemd refuses the directory after one write and a restart: "
                         << d.Stderr();
  auto c = HttpClient::Connect(d.port());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Request("GET", "/workspaces/ws/memory/after").status, 200);
  EXPECT_EQ(c->Request("GET", "/workspaces/ws/memory/" + KeyName(0)).status, 200);
  EXPECT_EQ(c->Request("GET", "/workspaces/ws/memory/" + KeyName(19)).status, 200);
  EXPECT_EQ(d.Terminate(), 0);
}

// k0000..k(n-1), one request each (each acknowledged, so durable, before
// the next), through a real casmemd, stopped cleanly: its snapshot covers
// the whole log.
void FillWithCasmemd(const std::string& dir, int n) {
  Casmemd d(dir);
  ASSERT_NE(d.port(), 0) << d.Stderr();
  auto c = HttpClient::Connect(d.port());
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(c->Request("POST", "/workspaces/ws/memory",
                         R"({"key":")" + KeyName(i) + R"(","value":)" + ValueOf(i) + "}")
                  .status,
              200);
  }
  ASSERT_EQ(d.Terminate(), 0) << d.Stderr();
}

// Flips a byte in the first batch of the only segment (no record before
// it is left), repairs, and checks that casmemd then takes a write and
// opens the directory again.
void FlipFirstBatchRepairThenWrite(const std::string& dir) {
  const auto segs = Segments(dir);
  ASSERT_EQ(segs.size(), 1u);
  std::string bytes = ReadAll(segs[0]);
  ASSERT_GT(bytes.size(), 100u);
  bytes[100] ^= 0x40;  // inside the first batch (it starts at offset 32)
  WriteAll(segs[0], bytes);
  const CliRun before = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(before.exit_code, 2) << before.out << before.err;

  DryRunThenRepair(dir);
  EXPECT_EQ(static_cast<int>(DumpedKeys(dir).size()), 20);  // the snapshot holds every key
  WriteThenRestartServes(dir, /*kill=*/false);
  const CliRun check = RunCli({"check", "--data-dir", dir});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// The snapshot a clean stop writes covers the whole log; damage in the
// first batch of the last segment leaves no record before the cut. The
// repaired log must not end in an empty segment named below the snapshot:
// casmemd would append lsn 21 to a segment named 1 and refuse it on its
// next start. And where such a segment was left (by an older repair) and
// written, repair keeps those acknowledged writes: it renames the segment.
TEST(OfflineCheck, DamageInTheFirstBatchAfterASnapshotKeepsCasmemdWritable) {
  // Later batches say the damaged one was durable: damage, cut at 32.
  const std::string dir = FreshDir("firstbatch");
  FillWithCasmemd(dir, 20);
  FlipFirstBatchRepairThenWrite(dir);
  // Written by the engine in a burst: a torn tail there, cut at 32 too.
  const std::string torn = FreshDir("firstbatch-torn");
  BuildStore(torn, 20, /*snapshot=*/true);
  FlipFirstBatchRepairThenWrite(torn);

  // What an older repair left and casmemd then wrote into: lsn 21 first in
  // a segment named 1, no snapshot after it (casmemd was killed).
  const std::string crash = FreshDir("firstbatch-crash");
  FillWithCasmemd(crash, 20);
  for (const std::string& seg : Segments(crash)) std::filesystem::remove(seg);
  {
    Casmemd d(crash);
    ASSERT_NE(d.port(), 0) << d.Stderr();
    auto c = HttpClient::Connect(d.port());
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(c->Request("POST", "/workspaces/ws/memory", R"({"key":"crash","value":1})").status, 200);
    d.Kill();
  }
  const auto segs = Segments(crash);
  ASSERT_EQ(segs.size(), 1u);
  const std::string misnamed = crash + "/wal/0000000000000001-0000000000000001.wal";
  ASSERT_EQ(std::filesystem::path(segs[0]).filename().string(), "0000000000000001-0000000000000015.wal");
  std::filesystem::rename(segs[0], misnamed);
  const CliRun damaged = RunCli({"check", "--data-dir", crash});
  EXPECT_EQ(damaged.exit_code, 2) << damaged.out;
  EXPECT_NE(damaged.err.find(misnamed + " offset 32"), std::string::npos) << damaged.err;
  const std::string out = DryRunThenRepair(crash);
  EXPECT_NE(out.find("renamed " + misnamed), std::string::npos) << out;
  EXPECT_NE(out.find("recovery reaches lsn 21"), std::string::npos) << out;
  ASSERT_EQ(Segments(crash), std::vector<std::string>{segs[0]});
  WriteThenRestartServes(crash, /*kill=*/true);
  {
    Casmemd d(crash);
    ASSERT_NE(d.port(), 0) << d.Stderr();
    auto c = HttpClient::Connect(d.port());
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->Request("GET", "/workspaces/ws/memory/crash").status, 200);  // acknowledged, kept
    EXPECT_EQ(d.Terminate(), 0);
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(torn);
  std::filesystem::remove_all(crash);
}

// Damage in a record the snapshot holds, with acknowledged writes after
// the snapshot in the same segment: the only cut that opens the directory
// drops those writes, which verify. Repair used to do it and report 0
// records lost; it now counts them and refuses without --force.
TEST(OfflineCheck, RepairRefusesToDropIntactWritesPastTheSnapshotWithoutForce) {
  const std::string dir = FreshDir("needless");
  BuildStore(dir, 20, /*snapshot=*/true);               // lsn 1..20, the snapshot at 20
  BuildStore(dir, 20, /*snapshot=*/false, /*first=*/20);  // lsn 21..40, after it
  const auto segs = Segments(dir);
  ASSERT_EQ(segs.size(), 1u);
  std::string bytes = ReadAll(segs[0]);
  bytes[100] ^= 0x40;  // in the first batch: lsn 1, which the snapshot holds
  WriteAll(segs[0], bytes);

  const auto before = TreeBytes(dir);
  CliRun r = RunCli({"repair", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("without dropping 20 acknowledged records up to lsn 40"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(TreeBytes(dir), before) << "a refused repair changed the directory";

  r = RunCli({"repair", "--data-dir", dir, "--force"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("(20 readable records up to lsn 40 lie beyond the damage)"), std::string::npos)
      << r.out;
  EXPECT_EQ(static_cast<int>(DumpedKeys(dir).size()), 20);  // what the snapshot holds
  std::filesystem::remove_all(dir);
}

TEST(OfflineCheck, EveryOfflineCommandRefusesWhileCasmemdRuns) {
  const std::string dir = FreshDir("locked");
  BuildStore(dir, 3, false);
  Casmemd d(dir);
  ASSERT_NE(d.port(), 0) << d.Stderr();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"check"}, {"repair"}, {"repair", "--dry-run"},
                                             {"dump"}, {"dump", "--log"}}) {
    std::vector<std::string> full = args;
    full.push_back("--data-dir");
    full.push_back(dir);
    const CliRun r = RunCli(full);
    EXPECT_EQ(r.exit_code, 4) << args[0] << ": " << r.out << r.err;
    EXPECT_EQ(r.err, "casmem: casmemd is serving " + dir +
                         ": stop it first (offline commands need the directory to themselves)\n");
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_EQ(d.Terminate(), 0);
  EXPECT_EQ(RunCli({"check", "--data-dir", dir}).exit_code, 0);
  std::filesystem::remove_all(dir);
}

TEST(OfflineCheck, NoDataDirectoryIsNotFound) {
  const CliRun r = RunCli({"check", "--data-dir", FreshDir("absent")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no data directory"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace casmem::testing
