// The importers' table: commands that copy data from other systems.
#include "tools/cli/command.h"

namespace casmem::cli {

std::span<const Command> ImportCommands() { return {}; }

}  // namespace casmem::cli
