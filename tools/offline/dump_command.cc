// `casmem dump`: JSON Lines of every live key of a stopped server's data
// directory (json_lines.h), rebuilt from its snapshot and log by reading
// them (log_check.h), so nothing in the directory changes, not even a
// torn tail (which is not part of the state: casmemd cuts it on start).
// With --log, the records themselves (log_dump.h).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/names.h"
#include "engine/snapshot.h"
#include "tools/cli/command.h"
#include "tools/offline/data_dir.h"
#include "tools/offline/json_lines.h"
#include "tools/offline/log_check.h"
#include "tools/offline/log_dump.h"
#include "tools/offline/offline.h"
#include "wal/segment.h"

namespace casmem::offline {
namespace {

using cli::Fail;

// The data directory's snapshots (oldest first), then its segments.
std::vector<std::string> LogFiles(const std::string& dir) {
  std::vector<std::string> out;
  wal::FileSystem* fs = wal::PosixFileSystem();
  std::vector<SnapshotFile> snaps;
  if (ListSnapshots(fs, wal::JoinPath(dir, "snap"), &snaps).ok()) {
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) out.push_back(it->path);
  }
  std::vector<std::string> names;
  if (fs->List(wal::JoinPath(dir, "wal"), &names).ok()) {
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      if (wal::ParseSegmentName(n)) out.push_back(wal::JoinPath(wal::JoinPath(dir, "wal"), n));
    }
  }
  return out;
}

int RunDumpLog(std::vector<std::string> args, const std::string& dir, bool dir_given) {
  const bool hex = TakeFlag(&args, "--hex");
  for (const auto& a : args) {
    if (a.starts_with("--")) return Fail(cli::kExitUsage, "dump --log: unknown option " + a);
  }
  std::unique_ptr<wal::FileLock> lock;
  if (args.empty() || dir_given) {
    if (int rc = RequireDataDir(dir)) return rc;
    if (int rc = LockDataDir(dir, &lock)) return rc;
    if (args.empty()) args = LogFiles(dir);
  }
  return DumpLog(args, hex);
}

}  // namespace

int RunDump(const cli::GlobalOptions& global, const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  std::string dir, error;
  const bool dir_given = std::find_if(args.begin(), args.end(), [](const std::string& a) {
                           return a.starts_with("--data-dir");
                         }) != args.end();
  if (!TakeDataDir(&args, &dir, &error)) return Fail(cli::kExitUsage, error);
  if (TakeFlag(&args, "--log")) return RunDumpLog(std::move(args), dir, dir_given);
  const bool tombstones = TakeFlag(&args, "--tombstones");
  const bool tokens = TakeFlag(&args, "--include-tokens");
  if (!args.empty()) return Fail(cli::kExitUsage, "dump: unexpected argument " + args[0]);
  std::unique_ptr<wal::FileLock> lock;
  LogCheck check;
  if (int rc = LockAndCheck(dir, &lock, &check)) return rc;
  if (check.cut || !check.fatal.empty()) {
    return Fail(cli::kExitConflict,
                "damage in " + dir + ": " + (check.cut ? check.cut->why : check.fatal) +
                    " (casmem check shows it all; casmem repair cuts it)");
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string out;
  for (const auto& [ws, keys] : check.keys.workspaces()) {
    if (ws == kTokensWorkspace && !tokens) continue;
    if (global.workspace_flag && ws != global.workspace) continue;
    for (const auto& [key, state] : keys) {
      const bool expired = !state.tombstone && state.expires_at_ms != 0 && state.expires_at_ms <= now;
      if ((state.tombstone || expired) && !tombstones) continue;
      AppendDumpLine(ws, key, state, expired, &out);
      if (out.size() >= (1 << 20)) {
        if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) {
          return Fail(cli::kExitFailed, "cannot write the dump to standard output");
        }
        out.clear();
      }
    }
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return Fail(cli::kExitFailed, "cannot write the dump to standard output");
  }
  return cli::kExitOk;
}

}  // namespace casmem::offline
