// Snapshots keep the newest --watch-history bytes of log (issue 10): the
// segments stay for the change history, recovery skips the records in
// them that the snapshot covers, and every later record replays once.
#include <algorithm>

#include "tests/engine/engine_helpers.h"
#include "wal/segment.h"

namespace casmem {
namespace {

std::vector<std::string> SegmentFiles(testing::MemFs& fs) {
  std::vector<std::string> out;
  for (const auto& n : fs.Files("/data/wal"))
    if (wal::ParseSegmentName(n)) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

void Fill(Store& s, int n, int from) {
  const std::string pad(900, 'x');
  for (int i = from; i < from + n; ++i) {
    Put(s, "k" + std::to_string(i % 50), "[" + std::to_string(i) + ",\"" + pad + "\"]");
  }
}

TEST(SnapshotKeep, SnapshotsKeepTheNewestWatchHistoryBytesOfLog) {
  for (uint64_t keep_segments : {0, 3}) {
    SCOPED_TRACE("watch history of " + std::to_string(keep_segments) + " segments");
    testing::MemFs fs;
    ManualClock clock{kT0};
    StoreOptions o = DurableOptions(&fs, &clock);  // 64 KiB segments
    o.watch_history_bytes = keep_segments * o.wal_segment_bytes;
    auto store = MustOpen(o);
    Fill(*store, 400, 0);
    const std::vector<std::string> before = SegmentFiles(fs);
    ASSERT_GE(before.size(), 6u);
    ASSERT_TRUE(store->Snapshot().ok());
    // The segment being written holds some bytes, so with 3 segments' worth
    // to keep, 3 full ones stay behind it.
    const size_t kept = keep_segments == 0 ? 1 : keep_segments + 1;
    EXPECT_EQ(SegmentFiles(fs),
              std::vector<std::string>(before.end() - static_cast<long>(kept), before.end()));
    const uint64_t snapshot_lsn = store->revision();
    Fill(*store, 100, 400);
    ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
    const uint64_t last = store->revision();
    const ListResult live = store->List("ws", "", "", 1000);
    fs.Freeze();  // a crash: no clean-shutdown snapshot
    store.reset();
    fs.ProcessCrash();
    store = MustOpen(o);
    EXPECT_EQ(store->recovery().snapshot_lsn, snapshot_lsn);
    EXPECT_EQ(store->recovery().log_records, last - snapshot_lsn) << "each later record once";
    EXPECT_EQ(store->revision(), last);
    const ListResult now = store->List("ws", "", "", 1000);
    ASSERT_EQ(now.entries.size(), live.entries.size());
    for (size_t i = 0; i < now.entries.size(); ++i) {
      EXPECT_EQ(now.entries[i].key, live.entries[i].key);
      EXPECT_EQ(now.entries[i].value, live.entries[i].value);
      EXPECT_EQ(now.entries[i].version, live.entries[i].version);
      EXPECT_EQ(now.entries[i].revision, live.entries[i].revision);
    }
  }
}

}  // namespace
}  // namespace casmem
