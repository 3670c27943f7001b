// RunCli / RunProgram: fork, exec, standard streams through temporary
// files (no pipe can fill and deadlock), a deadline, then the results.
#include "tests/tools/run_cli.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace casmem::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TempPath(const char* what) {
  static int counter = 0;
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/casmem-cli-" + std::to_string(::getpid()) +
         "-" + std::to_string(++counter) + "." + what;
}

}  // namespace

CliRun RunProgram(const std::vector<std::string>& argv, const std::string& stdin_text,
                  const std::map<std::string, std::string>& env, int timeout_seconds) {
  const std::string in_path = TempPath("in"), out_path = TempPath("out"),
                    err_path = TempPath("err");
  { std::ofstream(in_path, std::ios::binary) << stdin_text; }
  CliRun run;
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const char* name : {"CASMEM_URL", "CASMEM_TOKEN", "CASMEM_WORKSPACE", "CASMEM_WRITER"}) {
      ::unsetenv(name);
    }
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    const int in = ::open(in_path.c_str(), O_RDONLY);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool timed_out = false;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  run.exit_code = timed_out               ? -1000
                  : WIFEXITED(status)     ? WEXITSTATUS(status)
                  : WIFSIGNALED(status)   ? -WTERMSIG(status)
                                          : -1;
  run.out = ReadAll(out_path);
  run.err = ReadAll(err_path);
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return run;
}

CliRun RunCli(const std::vector<std::string>& args, const std::string& stdin_text,
              const std::map<std::string, std::string>& env, int timeout_seconds) {
  std::vector<std::string> argv{CASMEM_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, stdin_text, env, timeout_seconds);
}

}  // namespace casmem::testing
