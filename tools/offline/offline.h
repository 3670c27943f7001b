// The offline commands' entry points (the table is offline_commands.cc).
#pragma once

#include <string>
#include <vector>

#include "tools/cli/command.h"

namespace casmem::offline {

int RunCheck(const cli::GlobalOptions& global, const std::vector<std::string>& args);
int RunRepair(const cli::GlobalOptions& global, const std::vector<std::string>& args);
int RunDump(const cli::GlobalOptions& global, const std::vector<std::string>& args);
int RunRestore(const cli::GlobalOptions& global, const std::vector<std::string>& args);

}  // namespace casmem::offline
