// Crash at every step: the machine stops at each mutating file-system call
// of a snapshot and of a segment rotation in turn; then a process crash
// (nothing lost), a power loss that keeps nothing unsynced, or a seeded
// power loss that keeps some unsynced pages and directory changes. Every
// time the store must open, hold every acknowledged write, and show no
// value that its version did not write (no torn record).
#include <cinttypes>
#include <cstdio>
#include <map>
#include <thread>

#include "tests/engine/engine_helpers.h"
#include "wal/format.h"
#include "wal/record.h"

namespace casmem {
namespace {

constexpr int kKeys = 40;
constexpr size_t kValuePad = 150;

std::string KeyOf(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%02d", i);
  return buf;
}

// Fixed size, so every record of the history has the same size; the
// version is in the value, so a value that does not match its version is
// a record put together from two writes.
std::string ValueFor(const std::string& key, uint64_t version) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "[\"%s\",%06" PRIu64 ",\"", key.c_str(), version);
  return buf + std::string(kValuePad, 'v') + "\"]";
}

// What the clients were told: key -> acknowledged version.
using Acked = std::map<std::string, uint64_t>;

// LWW puts over kKeys keys, each acknowledged before the next.
void WriteAcked(Store& store, int n, int* counter, Acked* acked) {
  for (int i = 0; i < n; ++i, ++*counter) {
    const std::string key = KeyOf(*counter % kKeys);
    const uint64_t version = (*acked)[key] + 1;
    WriteResult w = Put(store, key, ValueFor(key, version));
    ASSERT_EQ(w.outcome, Outcome::kOk);
    ASSERT_EQ(w.version, version);
    (*acked)[key] = version;
  }
}

// How the machine went down after it stopped.
enum class Loss { kProcessCrash, kDropUnsynced, kSeed1, kSeed2, kSeed3 };
constexpr Loss kLosses[] = {Loss::kProcessCrash, Loss::kDropUnsynced, Loss::kSeed1, Loss::kSeed2,
                            Loss::kSeed3};
const char* LossName(Loss l) {
  switch (l) {
    case Loss::kProcessCrash: return "process crash";
    case Loss::kDropUnsynced: return "power loss, nothing unsynced kept";
    case Loss::kSeed1: return "power loss, seed 1";
    case Loss::kSeed2: return "power loss, seed 2";
    case Loss::kSeed3: return "power loss, seed 3";
  }
  return "?";
}
void GoDown(testing::MemFs& fs, Loss l) {
  switch (l) {
    case Loss::kProcessCrash: fs.ProcessCrash(); break;
    case Loss::kDropUnsynced: fs.PowerLoss(); break;
    case Loss::kSeed1: fs.PowerLoss(1); break;
    case Loss::kSeed2: fs.PowerLoss(2); break;
    case Loss::kSeed3: fs.PowerLoss(3); break;
  }
}

// Steps of the spare-segment pipeline run on their own thread at their own
// pace; they are not counted, so step n is the same call on every run. (A
// spare is not part of the log; its rename into the log is counted.)
bool CountedStep(std::string_view op, const std::string& path) {
  return op == "rename" || path.find("spare-") == std::string::npos;
}

void ExpectRecovered(testing::MemFs& fs, const StoreOptions& opts, const Acked& acked) {
  std::unique_ptr<Store> store;
  Status s = Store::Open(opts, &store);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const auto& [key, version] : acked) {
    GetResult g = store->Get("ws", key);
    ASSERT_EQ(g.outcome, Outcome::kOk) << key << " (acknowledged at version " << version << ")";
    EXPECT_GE(g.entry.version, version) << key << ": acknowledged write lost";
  }
  for (const Entry& e : store->List("ws", "", "", 100000).entries) {
    EXPECT_EQ(e.value, ValueFor(e.key, e.version)) << "torn or mixed record";
  }
  // The recovered log takes writes that survive the next power loss.
  const std::string key = KeyOf(0);
  WriteResult w = Put(*store, key, ValueFor(key, store->Get("ws", key).entry.version + 1));
  ASSERT_EQ(w.outcome, Outcome::kOk);
  fs.Freeze();
  store.reset();
  fs.PowerLoss();
  s = Store::Open(opts, &store);
  ASSERT_TRUE(s.ok()) << "after a second power loss: " << s.ToString();
  EXPECT_EQ(store->Get("ws", key).entry.version, w.version);
}

TEST(CrashSteps, EveryStepOfASnapshot) {
  int completed_at = 0;
  for (int step = 1; step < 200 && completed_at == 0; ++step) {
    for (Loss loss : kLosses) {
      SCOPED_TRACE("crash at step " + std::to_string(step) + ", " + LossName(loss));
      testing::MemFs fs;
      ManualClock clock{kT0};
      StoreOptions opts = DurableOptions(&fs, &clock);
      opts.watch_history_bytes = 0;  // no change history to keep: the covered segment goes
      auto store = MustOpen(opts);
      ASSERT_TRUE(store);
      Acked acked;
      int counter = 0;
      // A first snapshot, then enough log for two segments: the snapshot
      // under test replaces a snapshot and removes a segment.
      WriteAcked(*store, 100, &counter, &acked);
      ASSERT_TRUE(store->Snapshot().ok());
      WriteAcked(*store, 350, &counter, &acked);
      ASSERT_GE(store->wal()->segment_count(), 2u);
      fs.CrashAtStep(step, CountedStep);
      const Status snap = store->Snapshot();
      const bool crashed = fs.frozen();
      if (!crashed) {
        ASSERT_TRUE(snap.ok()) << snap.ToString();
        if (loss == kLosses[0]) completed_at = step;
      }
      fs.Freeze();  // the crash (at the latest: now)
      store.reset();
      GoDown(fs, loss);
      ExpectRecovered(fs, opts, acked);
      if (HasFatalFailure()) return;
    }
  }
  // A snapshot takes more than a dozen mutating calls; all were crashed at.
  EXPECT_GT(completed_at, 12);
  RecordProperty("steps", completed_at - 1);
}

TEST(CrashSteps, EveryStepOfASegmentRotation) {
  // Puts that fill the first segment exactly: the next one rotates.
  const size_t batch = wal::kBatchHeaderSize +
                       wal::EncodedSize(2, KeyOf(0).size(), ValueFor(KeyOf(0), 1).size());
  const int fill = static_cast<int>((64 * 1024 - wal::kSegmentHeaderSize) / batch);
  int completed_at = 0;
  for (int step = 1; step < 100 && completed_at == 0; ++step) {
    for (Loss loss : kLosses) {
      SCOPED_TRACE("crash at step " + std::to_string(step) + ", " + LossName(loss));
      testing::MemFs fs;
      ManualClock clock{kT0};
      const StoreOptions opts = DurableOptions(&fs, &clock);
      auto store = MustOpen(opts);
      ASSERT_TRUE(store);
      Acked acked;
      int counter = 0;
      WriteAcked(*store, fill, &counter, &acked);
      ASSERT_EQ(store->wal()->segment_count(), 1u);
      fs.CrashAtStep(step, CountedStep);
      const std::string key = KeyOf(counter % kKeys);
      const uint64_t version = acked[key] + 1;
      WriteResult w = store->Put(PutRequest{"ws", key, ValueFor(key, version), std::nullopt, 0, {}, nullptr});
      ASSERT_EQ(w.outcome, Outcome::kOk);
      const bool acknowledged = store->WaitVisible(w.visible_lsn).ok();
      const bool crashed = fs.frozen();
      if (acknowledged) acked[key] = version;
      if (!crashed) {
        ASSERT_TRUE(acknowledged);
        ASSERT_EQ(store->wal()->segment_count(), 2u) << "the put did not rotate";
        if (loss == kLosses[0]) completed_at = step;
      }
      fs.Freeze();
      store.reset();
      GoDown(fs, loss);
      ExpectRecovered(fs, opts, acked);
      if (HasFatalFailure()) return;
    }
  }
  // Sync the full segment, rename the spare, write the header, sync the
  // directory, write the batch, sync it: all crashed at.
  EXPECT_GT(completed_at, 6);
  RecordProperty("steps", completed_at - 1);
}

// The first start on an empty disk: DATA, DATA/snap, DATA/wal and the
// first segment. A crash anywhere leaves a disk the next start accepts,
// and what that start acknowledges survives a power loss.
TEST(CrashSteps, EveryStepOfAFirstStart) {
  int completed_at = 0;
  for (int step = 1; step < 100 && completed_at == 0; ++step) {
    for (Loss loss : kLosses) {
      SCOPED_TRACE("crash at step " + std::to_string(step) + ", " + LossName(loss));
      testing::MemFs fs;
      ManualClock clock{kT0};
      const StoreOptions opts = DurableOptions(&fs, &clock);
      fs.CrashAtStep(step, CountedStep);
      std::unique_ptr<Store> store;
      const Status open = Store::Open(opts, &store);
      if (!fs.frozen()) {
        ASSERT_TRUE(open.ok()) << open.ToString();
        if (loss == kLosses[0]) completed_at = step;
      }
      fs.Freeze();
      store.reset();
      GoDown(fs, loss);
      ExpectRecovered(fs, opts, {});
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_GT(completed_at, 5);
  RecordProperty("steps", completed_at - 1);
}

// A directory made by the store must survive a power loss once anything
// in it was acknowledged: CreateDirs syncs the parent of what it creates.
TEST(CrashSteps, DataDirectoriesSurviveAPowerLossRightAfterTheFirstWrite) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  const StoreOptions opts = DurableOptions(&fs, &clock);
  auto store = MustOpen(opts);
  Acked acked;
  int counter = 0;
  WriteAcked(*store, 1, &counter, &acked);
  fs.Freeze();
  store.reset();
  fs.PowerLoss();
  ExpectRecovered(fs, opts, acked);
}

}  // namespace
}  // namespace casmem
