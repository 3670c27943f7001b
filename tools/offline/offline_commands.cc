// The offline commands' table: those that work on a stopped server's data
// directory (docs/tools.md "Offline commands").
#include "tools/cli/command.h"
#include "tools/offline/offline.h"

namespace casmem::cli {

namespace {
constexpr Command kOffline[] = {
    {"check", "[--data-dir DIR] [--json]",
     "verify every segment and snapshot of a stopped server's data directory", offline::RunCheck},
    {"repair", "[--data-dir DIR] [--dry-run] [--force]",
     "cut the log at its first damage (after a backup) so casmemd opens it", offline::RunRepair},
    {"dump",
     "[--data-dir DIR] [--workspace WS] [--tombstones] [--include-tokens] | --log [--hex] [FILE...]",
     "JSON Lines of every live key (--log: the log's records)", offline::RunDump},
    {"restore", "[--data-dir DIR] [FILE|-]",
     "load a dump into an empty data directory, keeping versions", offline::RunRestore},
};
}  // namespace

std::span<const Command> OfflineCommands() { return kOffline; }

}  // namespace casmem::cli
