// `casmem check`: verifies every snapshot and segment of a stopped
// server's data directory (log_check.h) and reports per file, totals and
// keys, as text or --json. Changes nothing.
//
// Exit codes: 0 clean; 0 with a warning when the only finding is a torn
// tail of the last segment (a write a crash interrupted, never
// acknowledged: memory-api.md §2, casmemd cuts it on its next start);
// 2 on any other damage (kExitConflict doubles as "damage found");
// 1 no data directory; 4 a file cannot be read or casmemd holds the directory.
#include <cinttypes>
#include <cstdio>

#include "tools/cli/command.h"
#include "tools/cli/online_common.h"
#include "tools/offline/data_dir.h"
#include "tools/offline/log_check.h"
#include "tools/offline/offline.h"

namespace casmem::offline {
namespace {

using cli::Fail;

using cli::JsonQuote;

std::string Num(uint64_t v) { return std::to_string(v); }

void PrintText(const LogCheck& c) {
  std::printf("data directory %s\n", c.data_dir.c_str());
  if (c.snapshots.empty()) std::printf("no snapshot: recovery replays the log from lsn 1\n");
  for (const SnapshotCheck& s : c.snapshots) {
    if (s.damage.empty()) {
      std::printf("snapshot %s: lsn %" PRIu64 ", %" PRIu64 " records, %" PRIu64 " bytes: ok%s\n",
                  s.path.c_str(), s.start_lsn, s.records, s.bytes,
                  s.used ? " (recovery starts here)" : "");
    } else {
      std::printf("snapshot %s: DAMAGED: %s\n", s.path.c_str(), s.damage.c_str());
    }
  }
  uint64_t records = 0, bytes = 0;
  for (const SegmentCheck& s : c.segments) {
    records += s.records;
    bytes += s.data_bytes;
    std::printf("segment %s: ", s.path.c_str());
    if (s.records) {
      std::printf("%" PRIu64 " records in %" PRIu64 " batches, lsn %" PRIu64 "..%" PRIu64,
                  s.records, s.batches, s.first_lsn, s.last_lsn);
    } else {
      std::printf("no records");
    }
    std::printf(", %" PRIu64 " bytes of data in a %" PRIu64 "-byte file", s.data_bytes, s.bytes);
    if (s.stale) std::printf(", covered by the snapshot");
    if (s.damage.empty()) {
      std::printf(": ok\n");
    } else if (s.torn_tail) {
      std::printf(": torn tail at offset %" PRIu64 " (%s; %" PRIu64
                  " bytes that casmemd cuts on its next start)\n",
                  s.damage_offset, s.damage.c_str(), s.data_end - s.damage_offset);
    } else {
      std::printf(": DAMAGED at offset %" PRIu64 ": %s\n", s.damage_offset, s.damage.c_str());
    }
  }
  std::printf("totals: %zu snapshots, %zu segments, %" PRIu64 " records, %" PRIu64
              " bytes of log; recovery reaches lsn %" PRIu64 "\n",
              c.snapshots.size(), c.segments.size(), records, bytes, c.last_lsn);
  std::printf("keys: %" PRIu64 " live, %" PRIu64 " tombstones, %zu workspaces%s\n", c.keys.live(),
              c.keys.tombstones(), c.keys.workspaces().size(),
              c.cut ? " (up to the first damage)" : "");
  for (const std::string& d : c.damage) std::printf("damage: %s\n", d.c_str());
  if (c.damaged()) {
    std::printf("result: DAMAGED (%zu problems; `casmem repair --dry-run` shows what repair would do)\n",
                c.damage.size());
  } else if (c.torn_tail) {
    std::printf("result: ok, with a torn tail (an interrupted write; casmemd cuts it on start)\n");
  } else {
    std::printf("result: ok\n");
  }
}

void PrintJson(const LogCheck& c) {
  std::string o = "{\"data_dir\":" + JsonQuote(c.data_dir) + ",\"snapshots\":[";
  for (size_t i = 0; i < c.snapshots.size(); ++i) {
    const SnapshotCheck& s = c.snapshots[i];
    if (i) o += ',';
    o += "{\"path\":" + JsonQuote(s.path) + ",\"lsn\":" + Num(s.start_lsn) +
         ",\"records\":" + Num(s.records) + ",\"bytes\":" + Num(s.bytes) +
         ",\"used\":" + (s.used ? "true" : "false");
    if (!s.damage.empty()) o += ",\"damage\":" + JsonQuote(s.damage);
    o += '}';
  }
  o += "],\"segments\":[";
  uint64_t records = 0, bytes = 0;
  for (size_t i = 0; i < c.segments.size(); ++i) {
    const SegmentCheck& s = c.segments[i];
    records += s.records;
    bytes += s.data_bytes;
    if (i) o += ',';
    o += "{\"path\":" + JsonQuote(s.path) + ",\"seq\":" + Num(s.seq) +
         ",\"records\":" + Num(s.records) + ",\"batches\":" + Num(s.batches) +
         ",\"first_lsn\":" + Num(s.first_lsn) + ",\"last_lsn\":" + Num(s.last_lsn) +
         ",\"data_bytes\":" + Num(s.data_bytes) + ",\"file_bytes\":" + Num(s.bytes) +
         ",\"stale\":" + (s.stale ? "true" : "false");
    if (!s.damage.empty()) {
      o += std::string(",\"") + (s.torn_tail ? "torn_tail" : "damage") + "\":{\"offset\":" +
           Num(s.damage_offset) + ",\"why\":" + JsonQuote(s.damage) + "}";
    }
    o += '}';
  }
  o += "],\"records\":" + Num(records) + ",\"log_bytes\":" + Num(bytes) +
       ",\"last_lsn\":" + Num(c.last_lsn) + ",\"live_keys\":" + Num(c.keys.live()) +
       ",\"tombstones\":" + Num(c.keys.tombstones()) +
       ",\"workspaces\":" + Num(c.keys.workspaces().size()) +
       ",\"torn_tail\":" + (c.torn_tail ? "true" : "false") + ",\"damage\":[";
  for (size_t i = 0; i < c.damage.size(); ++i) o += (i ? "," : "") + JsonQuote(c.damage[i]);
  o += std::string("],\"ok\":") + (c.damaged() ? "false" : "true") + "}\n";
  std::fputs(o.c_str(), stdout);
}

}  // namespace

int RunCheck(const cli::GlobalOptions&, const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  std::string dir, error;
  if (!TakeDataDir(&args, &dir, &error)) return Fail(cli::kExitUsage, error);
  const bool json = TakeFlag(&args, "--json");
  if (!args.empty()) return Fail(cli::kExitUsage, "check: unexpected argument " + args[0]);
  std::unique_ptr<wal::FileLock> lock;
  LogCheck c;
  if (int rc = LockAndCheck(dir, &lock, &c)) return rc;
  json ? PrintJson(c) : PrintText(c);
  std::fflush(stdout);
  if (c.damaged()) {
    return Fail(cli::kExitConflict, "damage found: " + c.damage.front() +
                                        (c.damage.size() > 1
                                             ? " (and " + std::to_string(c.damage.size() - 1) + " more)"
                                             : ""));
  }
  if (c.torn_tail) {
    const SegmentCheck& last = c.segments.back();
    Fail(cli::kExitOk, "warning: torn tail in " + last.path + " at offset " +
                           std::to_string(last.damage_offset) +
                           " (an interrupted write; casmemd cuts it on its next start)");
  }
  return cli::kExitOk;
}

}  // namespace casmem::offline
