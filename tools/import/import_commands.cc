// The importers' table: commands that copy data from other systems.
#include "tools/cli/command.h"

namespace casmem::cli {

int RunImportPgCommand(const GlobalOptions& global, const std::vector<std::string>& args);  // import_pg.cc

namespace {

constexpr Command kImportCommands[] = {
    {"import-pg",
     "CONNINFO [--data-dir DIR] [--table NAME] [--workspace-map ID=WS]... [--dry-run]",
     "copy the original PostgreSQL workspace_memory table in, keeping versions and TTLs",
     RunImportPgCommand},
};

}  // namespace

std::span<const Command> ImportCommands() { return kImportCommands; }

}  // namespace casmem::cli
