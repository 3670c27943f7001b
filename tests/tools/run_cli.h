// Test support for the casmem CLI's tests: runs the built binary
// (CASMEM_CLI_PATH) as a user's shell would, with given words, standard
// input and extra environment, and collects its exit code and output.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace casmem::testing {

struct CliRun {
  int exit_code = -1;  // the exit status, or -signal; -1000 when it timed out (killed)
  std::string out;     // standard output
  std::string err;     // standard error
};

// Runs `casmem ARGS...` with `stdin_text` on standard input. `env` is
// added to (or replaces entries of) this process's environment, except
// that CASMEM_URL, CASMEM_TOKEN, CASMEM_WORKSPACE and CASMEM_WRITER are
// cleared unless `env` sets them. Killed after `timeout_seconds`.
CliRun RunCli(const std::vector<std::string>& args, const std::string& stdin_text = "",
              const std::map<std::string, std::string>& env = {}, int timeout_seconds = 60);

// The same for any program (argv[0] is the path).
CliRun RunProgram(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                  const std::map<std::string, std::string>& env = {}, int timeout_seconds = 60);

}  // namespace casmem::testing
