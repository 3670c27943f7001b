// The offline commands' table: those that work on a stopped server's data
// directory.
#include "tools/cli/command.h"

namespace casmem::cli {

std::span<const Command> OfflineCommands() { return {}; }

}  // namespace casmem::cli
