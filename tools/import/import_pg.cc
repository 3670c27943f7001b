// `casmem import-pg CONNINFO`: copies the original handler's PostgreSQL
// table into a casmemd (POST /admin/import) or a stopped server's data
// directory (--data-dir), keeping versions and TTLs, never over the same
// or a newer version. The report (stdout), one "name: count" per line:
//   read        rows read
//   imported    live rows written with their version
//   kept_newer  live rows whose key is at the same or a newer version here
//   expired     rows past expires_at: loaded as a tombstone keeping the
//               version (absent, as in PostgreSQL; a re-created key
//               continues after it), unless the key is newer here
//   invalid     rows skipped (the first reasons on standard error)
// Exit: 0 every row imported, kept or expired; 2 some rows invalid (the
// rest imported); 3 usage (or no such table); 4 PostgreSQL, the server
// or the disk failed (what was counted as imported is applied; running
// the import again is safe).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/names.h"
#include "tools/cli/command.h"
#include "tools/import/import_row.h"
#include "tools/import/import_target.h"
#include "tools/import/pg_source.h"

namespace casmem::importer {

namespace {

constexpr size_t kPageRows = 256;
constexpr int kReportedReasons = 10;
constexpr uint64_t kMaxValueBytes = 1ULL << 20;  // casmemd's default --max-value-bytes

int g_invalid_reported = 0;

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string Shorten(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 80) + "..."; }

void PrintCounts(uint64_t read, const ImportCounts& c, bool dry_run, uint64_t valid) {
  std::printf("read: %llu\n", static_cast<unsigned long long>(read));
  if (dry_run) {
    std::printf("valid: %llu\n", static_cast<unsigned long long>(valid));
  } else {
    std::printf("imported: %llu\nkept_newer: %llu\n", static_cast<unsigned long long>(c.imported),
                static_cast<unsigned long long>(c.kept_newer));
  }
  std::printf("expired: %llu\ninvalid: %llu\n", static_cast<unsigned long long>(c.expired),
              static_cast<unsigned long long>(c.invalid));
  std::fflush(stdout);
}

struct Args {
  std::string conninfo, data_dir, table = "workspace_memory";
  WorkspaceMap map;
  bool dry_run = false;
};

// False with *error (a usage error).
bool ParseArgs(const std::vector<std::string>& args, Args* a, std::string* error) {
  bool have_conninfo = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string w = args[i], value;
    const bool takes = w == "--data-dir" || w == "--table" || w == "--workspace-map" ||
                       w.starts_with("--data-dir=") || w.starts_with("--table=") ||
                       w.starts_with("--workspace-map=");
    if (takes) {
      if (const size_t eq = w.find('='); eq != std::string::npos) {
        value = w.substr(eq + 1);
        w.resize(eq);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        *error = w + " needs a value";
        return false;
      }
    }
    if (w == "--data-dir") {
      a->data_dir = value;
    } else if (w == "--table") {
      if (value.empty()) {
        *error = "--table needs a name";
        return false;
      }
      a->table = value;
    } else if (w == "--workspace-map") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        *error = "--workspace-map takes PG_WORKSPACE_ID=CASMEM_WORKSPACE";
        return false;
      }
      a->map[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (w == "--dry-run") {
      a->dry_run = true;
    } else if (w.starts_with("--") || have_conninfo) {
      *error = "unexpected argument '" + Shorten(w) + "'";
      return false;
    } else {
      a->conninfo = w;
      have_conninfo = true;
    }
  }
  if (!have_conninfo) {
    *error = "import-pg needs a PostgreSQL connection string (e.g. 'host=/run/postgresql dbname=app')";
    return false;
  }
  for (const auto& [from, to] : a->map) {
    if (const char* p = WorkspaceProblem(to)) {
      *error = "--workspace-map " + from + "=" + to + ": " + p;
      return false;
    }
  }
  return true;
}

int RunImportPg(const cli::GlobalOptions& global, const std::vector<std::string>& words) {
  Args a;
  std::string error;
  if (!ParseArgs(words, &a, &error)) return cli::Fail(cli::kExitUsage, "import-pg: " + error);

  PgSource src;
  if (!src.Connect(a.conninfo, &error)) return cli::Fail(cli::kExitFailed, "import-pg: " + error);
  bool missing = false;
  if (!src.Open(a.table, &error, &missing)) {
    return cli::Fail(missing ? cli::kExitUsage : cli::kExitFailed, "import-pg: " + error);
  }
  std::unique_ptr<ImportTarget> target;
  if (!a.dry_run) {
    int code = cli::kExitFailed;
    target = a.data_dir.empty() ? OpenHttpTarget(global)
                                : OpenDirTarget(a.data_dir, kMaxValueBytes, &error, &code);
    if (!target) return cli::Fail(code, "import-pg: " + error);
  }

  uint64_t read = 0, valid = 0;
  ImportCounts counts;
  std::vector<PgRow> page;
  bool failed = false;
  while (!failed) {
    if (!src.Next(kPageRows, &page, &error)) {
      failed = true;
      error = "reading " + a.table + ": " + error;
      break;
    }
    if (page.empty()) break;
    for (const PgRow& row : page) {
      ++read;
      ImportItem item;
      std::string reason;
      const RowVerdict v = CheckRow(row, a.map, NowMs(), kMaxValueBytes, &item, &reason);
      if (v == RowVerdict::kInvalid) {
        ++counts.invalid;
        ReportInvalid(Shorten(row.workspace_id.value_or("NULL")) + "/" + Shorten(row.key.value_or("NULL")),
                      reason);
        continue;
      }
      if (a.dry_run) {
        if (v == RowVerdict::kExpired) {
          ++counts.expired;
        } else {
          ++valid;
        }
        continue;
      }
      if (!target->Add(item, v == RowVerdict::kExpired, &counts, &error)) {
        failed = true;
        break;
      }
    }
  }
  if (!failed && target && !target->Finish(&counts, &error)) failed = true;
  if (g_invalid_reported > kReportedReasons) {
    cli::Fail(0, "import-pg: " + std::to_string(g_invalid_reported - kReportedReasons) +
                     " more invalid rows not shown");
  }
  PrintCounts(read, counts, a.dry_run, valid);
  if (failed) return cli::Fail(cli::kExitFailed, "import-pg: " + error);
  return counts.invalid > 0 ? cli::kExitConflict : cli::kExitOk;
}

}  // namespace

void ReportInvalid(const std::string& where, const std::string& reason) {
  if (++g_invalid_reported <= kReportedReasons) {
    cli::Fail(0, "import-pg: skipped " + where + ": " + reason);
  }
}

}  // namespace casmem::importer

namespace casmem::cli {

int RunImportPgCommand(const GlobalOptions& global, const std::vector<std::string>& args) {
  return importer::RunImportPg(global, args);
}

}  // namespace casmem::cli
