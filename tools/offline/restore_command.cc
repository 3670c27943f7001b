// `casmem restore`: loads a dump (json_lines.h; a file or standard input)
// into an empty or absent data directory with Store::Load, keeping each
// key's version, times, TTL and writer, and tombstones, so guards agents
// hold still match. Every line is validated before anything is written;
// the store is built in a temporary directory inside the target and moved
// into place only when complete and closed (snapshot written), so a
// failure leaves the target as it was.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include "common/logger.h"
#include "engine/store.h"
#include "tools/cli/command.h"
#include "tools/offline/data_dir.h"
#include "tools/offline/json_lines.h"
#include "tools/offline/offline.h"

namespace casmem::offline {
namespace {

using cli::Fail;
namespace fsys = std::filesystem;

bool ReadInput(const std::string& source, std::string* out) {
  if (source == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    *out = ss.str();
    return !std::cin.bad();
  }
  std::ifstream in(source, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

bool IsRestoreLeftover(const fsys::path& p) {
  const std::string name = p.filename().string();
  return name == "LOCK" || name.starts_with(".restore-");
}

// Loads every line into a new store at `dir`; closes it (snapshot).
int Load(const std::string& dir, const std::vector<DumpLine>& lines, uint64_t* revision) {
  // The store's progress lines would be noise on a script's stderr;
  // warnings and errors still show.
  SetLogLevel(LogLevel::kWarn);
  StoreOptions o;
  o.data_dir = dir;
  o.sweep_interval = std::chrono::milliseconds(0);
  o.max_value_bytes = wal::kMaxRecordValueBytes;
  std::unique_ptr<Store> store;
  Status s = Store::Open(o, &store);
  if (!s.ok()) return Fail(cli::kExitFailed, "cannot create " + dir + ": " + s.ToString());
  for (size_t i = 0; i < lines.size(); ++i) {
    const DumpLine& l = lines[i];
    LoadRequest req{l.workspace, l.key, l.value, l.version, l.updated_at_ms, l.expires_at_ms,
                    l.writer};
    WriteResult r = store->Load(req);
    while (r.outcome == Outcome::kBusy) {  // the log is behind the disk: let it catch up
      (void)store->WaitVisible(store->revision());
      r = store->Load(req);
    }
    if (r.outcome != Outcome::kOk) {
      return Fail(cli::kExitFailed, "restoring " + l.workspace + "/" + l.key + " failed: " +
                                        (r.error.empty() ? "conflict" : r.error));
    }
  }
  *revision = store->revision();
  s = store->WaitVisible(*revision);
  if (s.ok()) s = store->Close();
  if (!s.ok()) return Fail(cli::kExitFailed, "restore not durable: " + s.ToString());
  return cli::kExitOk;
}

}  // namespace

int RunRestore(const cli::GlobalOptions&, const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  std::string dir, error;
  if (!TakeDataDir(&args, &dir, &error)) return Fail(cli::kExitUsage, error);
  if (args.size() > 1) return Fail(cli::kExitUsage, "restore: one input file (or - for stdin)");
  if (!args.empty() && args[0].starts_with("--") ) {
    return Fail(cli::kExitUsage, "restore: unknown option " + args[0]);
  }
  const std::string source = args.empty() ? "-" : args[0];

  std::error_code ec;
  if (fsys::exists(dir, ec)) {
    bool empty = fsys::is_directory(dir, ec);
    // What a restore that died left (its LOCK, DATA/.restore-PID) does not
    // count; it is removed once this one holds the LOCK.
    for (fsys::directory_iterator it(dir, ec), end; empty && !ec && it != end; it.increment(ec)) {
      empty = IsRestoreLeftover(it->path());
    }
    if (!empty || ec) {
      return Fail(cli::kExitUsage, dir + " is not empty: restore only into an empty or absent "
                                         "data directory (nothing was written)");
    }
  }
  std::string text;
  if (!ReadInput(source, &text)) return Fail(cli::kExitNotFound, "cannot read " + source);

  // Every line validated before anything is written.
  std::vector<DumpLine> lines;
  std::map<std::pair<std::string, std::string>, size_t> seen;
  size_t line_no = 0, live = 0, tombstones = 0;
  std::set<std::string> workspaces;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    DumpLine l;
    if (!ParseDumpLine(line, &l, &error)) {
      return Fail(cli::kExitUsage, source + " line " + std::to_string(line_no) + ": " + error +
                                       " (nothing was written)");
    }
    auto [it, fresh] = seen.emplace(std::make_pair(l.workspace, l.key), line_no);
    if (!fresh) {
      return Fail(cli::kExitUsage, source + " line " + std::to_string(line_no) +
                                       ": the key was already given on line " +
                                       std::to_string(it->second) + " (nothing was written)");
    }
    (l.tombstone ? tombstones : live)++;
    workspaces.insert(l.workspace);
    lines.push_back(std::move(l));
  }

  // Built inside the target (DATA/.restore-PID), under the target's LOCK,
  // then its snap/ and wal/ renamed into DATA: on DATA's own file system
  // even when DATA is a mount point (a container's volume), and a DATA
  // that is a symlink is filled where it points. snap/ goes first: a crash
  // between the two renames leaves a directory that opens to the whole
  // restore from its snapshot (the snapshot Close wrote holds every line).
  const bool created = !fsys::exists(dir, ec);
  if (created) {
    fsys::create_directories(dir, ec);
    if (ec) return Fail(cli::kExitFailed, "cannot create " + dir + ": " + ec.message());
  }
  const fsys::path target = fsys::canonical(dir, ec);
  if (ec) return Fail(cli::kExitFailed, "cannot resolve " + dir + ": " + ec.message());
  std::unique_ptr<wal::FileLock> lock;
  const std::string tmp = (target / (".restore-" + std::to_string(::getpid()))).string();
  // Leaves the target as it was found (absent, or empty). The LOCK file
  // goes only while this restore holds it: another process's LOCK, once
  // unlinked, would no longer keep a casmemd out.
  auto undo = [&] {
    std::error_code ignored;
    fsys::remove_all(tmp, ignored);
    if (lock) fsys::remove(target / "LOCK", ignored);
    lock.reset();
    if (created) fsys::remove(target, ignored);
  };
  if (int rc = LockDataDir(target.string(), &lock)) {
    undo();
    return rc;
  }
  std::vector<fsys::path> leftovers;  // an older restore's DATA/.restore-PID
  for (const auto& e : fsys::directory_iterator(target, ec)) {
    if (e.path().filename() != "LOCK" && IsRestoreLeftover(e.path())) leftovers.push_back(e.path());
  }
  for (const fsys::path& p : leftovers) fsys::remove_all(p, ec);
  uint64_t revision = 0;
  if (int rc = Load(tmp, lines, &revision)) {
    undo();
    return rc;
  }
  for (const char* sub : {"snap", "wal"}) {
    const fsys::path from = fsys::path(tmp) / sub;
    if (!fsys::exists(from, ec)) continue;
    fsys::rename(from, target / sub, ec);
    if (ec) {
      return Fail(cli::kExitFailed, "cannot move " + from.string() + " into " + dir + ": " +
                                        ec.message() + " (the restored data is in " + tmp + ")");
    }
  }
  fsys::remove_all(tmp, ec);
  (void)wal::PosixFileSystem()->SyncDir(target.string());
  std::printf("restored %zu keys and %zu tombstones in %zu workspaces into %s (revision %" PRIu64
              ")\n",
              live, tombstones, workspaces.size(), dir.c_str(), revision);
  return cli::kExitOk;
}

}  // namespace casmem::offline
