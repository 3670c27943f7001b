// The online commands' entry points, one per command, for the table in
// online_commands.cc. Each takes the words after its name and returns an
// exit code (command.h).
#pragma once

#include <string>
#include <vector>

#include "tools/cli/command.h"

namespace casmem::cli {

int RunGet(const GlobalOptions& global, const std::vector<std::string>& args);     // kv_commands.cc
int RunPut(const GlobalOptions& global, const std::vector<std::string>& args);     // kv_commands.cc
int RunPatch(const GlobalOptions& global, const std::vector<std::string>& args);   // kv_commands.cc
int RunDel(const GlobalOptions& global, const std::vector<std::string>& args);     // kv_commands.cc
int RunLs(const GlobalOptions& global, const std::vector<std::string>& args);      // ls_command.cc
int RunWatch(const GlobalOptions& global, const std::vector<std::string>& args);   // watch_command.cc
int RunTxn(const GlobalOptions& global, const std::vector<std::string>& args);     // txn_command.cc
int RunUpdate(const GlobalOptions& global, const std::vector<std::string>& args);  // update_command.cc

}  // namespace casmem::cli
