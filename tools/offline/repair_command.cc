// `casmem repair`: makes a damaged data directory open again by cutting
// the log at its first damage (log_check.h decides where), after keeping
// every byte it cuts or removes in DATA/repair-backup-<UTC time>/:
// removed files are moved there whole (same file system: a rename), a
// cut segment is copied there whole before the cut, and MANIFEST.txt
// there says what came from where, with offsets. --dry-run prints the
// same plan and changes nothing.
//
// The plan, in order: damaged snapshots are moved out (recovery starts
// from the newest that verifies, as casmemd would); stale segments up to
// the last damaged one are moved out (the snapshot covers them); the
// first damage in the log recovery reads is cut (the bytes from its
// offset zeroed, or the whole segment moved out when the damage is its
// header or a missing predecessor) and every later segment moved out; a
// torn tail of the last segment is cut as casmemd would cut it. When what
// is left would end before the snapshot's lsn, every segment up to the cut
// goes too (casmemd appends to the last segment, which must end just
// before the lsn it writes next). Last, a segment whose records continue
// the snapshot but whose name is older (written after an older repair) is
// renamed, nothing cut. A log gap after the snapshot cannot be cut away:
// repair refuses (exit 2). So it does, unless --force, when the cut
// would drop records past the snapshot that verify only because the
// damage lies in records the snapshot holds (a segment cannot be kept
// from the middle; salvaging those batches into a new segment is not
// built).
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>

#include "tools/cli/command.h"
#include "tools/offline/data_dir.h"
#include "tools/offline/log_check.h"
#include "tools/offline/offline.h"
#include "wal/repair.h"
#include "wal/segment.h"

namespace casmem::offline {
namespace {

using cli::Fail;
namespace fsys = std::filesystem;

struct Action {
  enum class Kind { kMove, kCut, kRename } kind = Kind::kMove;
  std::string path;      // in the data directory
  std::string sub;       // "wal" or "snap": where its backup goes
  uint64_t offset = 0;   // kCut: zero [offset, end)
  uint64_t end = 0;
  bool restore_header = false;  // kCut: write the segment header again (seq)
  uint64_t seq = 0;
  std::string why;
  std::string to;  // kRename: the new path (same directory)
};

std::string Describe(const Action& a, bool dry) {
  char buf[160];
  if (a.kind == Action::Kind::kRename) {
    return std::string(dry ? "would rename " : "renamed ") + a.path + " to " + a.to + " (" + a.why + ")";
  }
  if (a.kind == Action::Kind::kMove) {
    return std::string(dry ? "would move " : "moved ") + a.path + " to the backup (" + a.why + ")";
  }
  std::snprintf(buf, sizeof buf, " bytes %" PRIu64 "..%" PRIu64 " (%" PRIu64 " bytes) of ",
                a.offset, a.end, a.end - a.offset);
  return std::string(dry ? "would cut" : "cut") + buf + a.path + ", a copy of it in the backup (" +
         a.why + ")";
}

// *needless: the plan drops records past the snapshot only because damage
// lies in records the snapshot already holds (they verify; casmemd would
// need none of the damaged bytes but refuses the segment).
std::vector<Action> Plan(const LogCheck& c, bool* needless) {
  *needless = false;
  std::vector<Action> plan;
  for (const SnapshotCheck& s : c.snapshots) {
    if (!s.damage.empty()) plan.push_back({Action::Kind::kMove, s.path, "snap", 0, 0, false, 0, "damaged", ""});
  }
  const auto& segs = c.segments;
  std::vector<bool> moved(segs.size(), false);
  auto move = [&](size_t i, const std::string& why) {
    if (moved[i]) return;
    moved[i] = true;
    plan.push_back({Action::Kind::kMove, segs[i].path, "wal", 0, 0, false, 0, why, ""});
  };
  if (c.stale_remove_through) {
    for (size_t i = 0; i <= *c.stale_remove_through; ++i) {
      move(i, "covered by the snapshot, and damaged or before damage");
    }
  }
  if (c.cut) {
    const CutPoint& cut = *c.cut;
    const SegmentCheck& seg = segs[cut.segment];
    // casmemd appends to the last segment left with lsn recovery's last + 1,
    // and refuses on its next start a segment whose first record is not
    // the lsn its name says or a record that does not follow the one
    // before. The lsn the log left after the cut takes next: the cut
    // segment's last record + 1, or its name's lsn when the cut leaves it
    // no record; with the whole segment cut, the same of the segment
    // before (none: casmemd starts a new log at the snapshot's lsn + 1).
    // At or below the snapshot's lsn, every segment up to the cut goes
    // (the snapshot holds all they held).
    std::optional<uint64_t> tail_next;
    if (cut.offset > 0) {
      tail_next = seg.last_lsn ? seg.last_lsn + 1 : seg.name_first_lsn;
    } else if (cut.segment > 0 && !moved[cut.segment - 1]) {
      const SegmentCheck& prev = segs[cut.segment - 1];
      tail_next = prev.last_lsn ? prev.last_lsn + 1 : prev.name_first_lsn;
    }
    if (tail_next && *tail_next <= c.base_lsn) {
      *needless = c.lost_records > 0;
      for (size_t i = 0; i <= cut.segment; ++i) {
        move(i, "the log after the cut would end before the snapshot, which holds all of it");
      }
    } else if (cut.offset == 0) {
      move(cut.segment, cut.why);
    } else {
      plan.push_back({Action::Kind::kCut, seg.path, "wal", cut.offset,
                      std::max(seg.data_end, cut.offset), false, seg.seq,
                      "damage at offset " + std::to_string(cut.offset) + ": " + seg.damage, ""});
    }
    for (size_t i = cut.segment + 1; i < segs.size(); ++i) move(i, "after the damage");
  } else if (c.torn_tail && !segs.empty() && !moved.back()) {
    const SegmentCheck& last = segs.back();
    plan.push_back({Action::Kind::kCut, last.path, "wal", last.damage_offset, last.data_end,
                    last.header_missing, last.seq, "torn tail: " + last.damage, ""});
  }
  // Last: a cut in the misnamed segment names it as it was.
  if (c.rename && !moved[*c.rename]) {
    const SegmentCheck& seg = segs[*c.rename];
    const std::string to =
        wal::JoinPath(wal::ParentDir(seg.path), wal::FormatSegmentName(seg.seq, seg.first_lsn));
    Action a{Action::Kind::kRename, seg.path, "wal", 0, 0, false, seg.seq,
             "its records start at lsn " + std::to_string(seg.first_lsn) + " (the snapshot reaches " +
                 std::to_string(c.base_lsn) + ") but its name says " +
                 std::to_string(seg.name_first_lsn),
             to};
    plan.push_back(std::move(a));
  }
  return plan;
}

std::string BackupName() {
  const time_t t = std::time(nullptr);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "repair-backup-%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Status Execute(const std::string& backup, const std::vector<Action>& plan, std::string* manifest) {
  wal::FileSystem* fs = wal::PosixFileSystem();
  for (const Action& a : plan) {
    if (a.kind == Action::Kind::kRename) {
      Status s = fs->Rename(a.path, a.to);
      if (s.ok()) s = fs->SyncDir(wal::ParentDir(a.path));
      if (!s.ok()) return s;
      *manifest += "renamed " + a.path + " to " + a.to + " (" + a.why + ")\n";
      continue;
    }
    const std::string dir = wal::JoinPath(backup, a.sub);
    Status s = fs->CreateDirs(dir);
    if (!s.ok()) return s;
    const std::string name = fsys::path(a.path).filename().string();
    const std::string to = wal::JoinPath(dir, name);
    if (a.kind == Action::Kind::kMove) {
      s = fs->Rename(a.path, to);
      if (s.ok()) s = fs->SyncDir(dir);
      if (s.ok()) s = fs->SyncDir(wal::ParentDir(a.path));
      if (!s.ok()) return s;
      *manifest += a.sub + "/" + name + ": moved whole from " + a.path + " (" + a.why + ")\n";
      continue;
    }
    // A cut: the whole original file first, durable, then the zeros.
    std::string bytes;
    s = ReadFile(a.path, &bytes);
    std::unique_ptr<wal::File> f;
    if (s.ok()) s = fs->Open(to, wal::OpenMode::kCreateTrunc, &f);
    if (s.ok()) s = f->WriteAt(0, bytes);
    if (s.ok()) s = f->Sync();
    if (s.ok()) s = fs->SyncDir(dir);
    if (!s.ok()) return s;
    f.reset();
    s = fs->Open(a.path, wal::OpenMode::kReadWrite, &f);
    if (s.ok() && a.end > a.offset) s = f->WriteAt(a.offset, std::string(a.end - a.offset, '\0'));
    if (s.ok()) s = f->Sync();
    if (!s.ok()) return s;
    f.reset();
    if (a.restore_header) {
      s = wal::RestoreSegmentHeader(fs, a.path, a.seq);
      if (!s.ok()) return s;
    }
    *manifest += a.sub + "/" + name + ": copy of " + a.path + " before bytes " +
                 std::to_string(a.offset) + ".." + std::to_string(a.end) + " were zeroed (" +
                 a.why + ")\n";
  }
  return Status::OK();
}

}  // namespace

int RunRepair(const cli::GlobalOptions&, const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  std::string dir, error;
  if (!TakeDataDir(&args, &dir, &error)) return Fail(cli::kExitUsage, error);
  const bool dry = TakeFlag(&args, "--dry-run");
  const bool force = TakeFlag(&args, "--force");
  if (!args.empty()) return Fail(cli::kExitUsage, "repair: unexpected argument " + args[0]);
  std::unique_ptr<wal::FileLock> lock;
  LogCheck c;
  if (int rc = LockAndCheck(dir, &lock, &c)) return rc;
  if (!c.fatal.empty()) {
    return Fail(cli::kExitConflict, "cannot repair " + dir + ": " + c.fatal +
                                        "; the records between are gone. Nothing was changed");
  }
  bool needless = false;
  const std::vector<Action> plan = Plan(c, &needless);
  if (needless && !force) {
    for (const std::string& d : c.damage) std::printf("damage: %s\n", d.c_str());
    return Fail(cli::kExitConflict,
                "cannot repair " + dir + " without dropping " + std::to_string(c.lost_records) +
                    " acknowledged records up to lsn " + std::to_string(c.lost_last_lsn) +
                    " that verify: the damage is in records the snapshot (lsn " +
                    std::to_string(c.base_lsn) +
                    ") already holds, but the log after it cannot be kept without them. Nothing "
                    "was changed. Keep a copy of the directory; --force cuts anyway (what it "
                    "drops stays in the backup)");
  }
  if (plan.empty()) {
    std::printf("nothing to repair in %s\n", dir.c_str());
    return cli::kExitOk;
  }
  for (const std::string& d : c.damage) std::printf("damage: %s\n", d.c_str());
  const std::string backup = wal::JoinPath(dir, BackupName());
  std::printf("%s %s\n", dry ? "would keep what is cut or removed in" : "backup:", backup.c_str());
  for (const Action& a : plan) std::printf("%s\n", Describe(a, dry).c_str());
  if (c.cut) {
    std::printf("lost: every record after lsn %" PRIu64 " (%" PRIu64
                " readable records up to lsn %" PRIu64 " lie beyond the damage)\n",
                c.last_lsn, c.lost_records, c.lost_last_lsn);
  } else {
    std::printf("lost: no acknowledged record (recovery reaches lsn %" PRIu64 " as before)\n",
                c.last_lsn);
  }
  if (dry) {
    std::printf("dry run: nothing was changed\n");
    return cli::kExitOk;
  }
  std::string manifest = "casmem repair of " + dir + "\n";
  for (const std::string& d : c.damage) manifest += "damage: " + d + "\n";
  Status s = Execute(backup, plan, &manifest);
  // The manifest is written even after a failure midway: it says what moved.
  std::unique_ptr<wal::File> f;
  Status ms = wal::PosixFileSystem()->CreateDirs(backup);
  if (ms.ok()) ms = wal::PosixFileSystem()->Open(wal::JoinPath(backup, "MANIFEST.txt"),
                                                 wal::OpenMode::kCreateTrunc, &f);
  if (ms.ok()) ms = f->WriteAt(0, manifest);
  if (ms.ok()) ms = f->Sync();
  if (!s.ok()) return Fail(cli::kExitFailed, "repair stopped: " + s.ToString() + " (see " + backup + "/MANIFEST.txt)");
  if (!ms.ok()) return Fail(cli::kExitFailed, "cannot write " + backup + "/MANIFEST.txt: " + ms.ToString());
  LogCheck after;
  s = CheckLog(dir, &after);
  if (!s.ok()) return Fail(cli::kExitFailed, s.ToString());
  if (after.damaged() || after.torn_tail) {
    return Fail(cli::kExitConflict, "still damaged after repair: " +
                                        (after.damage.empty() ? std::string("torn tail") : after.damage.front()));
  }
  std::printf("repaired: recovery reaches lsn %" PRIu64 "; %" PRIu64 " live keys, %" PRIu64
              " tombstones\n",
              after.last_lsn, after.keys.live(), after.keys.tombstones());
  return cli::kExitOk;
}

}  // namespace casmem::offline
