// The online commands' table: those that speak HTTP to a running casmemd.
#include "tools/cli/command.h"

namespace casmem::cli {

std::span<const Command> OnlineCommands() { return {}; }

}  // namespace casmem::cli
