// casmem update KEY -- COMMAND ARGS...: read-modify-write with the version
// guard. Reads the key, pipes its value (compact JSON and a newline) into
// COMMAND (execvp, no shell), and writes COMMAND's standard output (JSON)
// back only if the key is still at the version read. On 409 it runs
// COMMAND again on the 409's current_value/current_version (no extra GET),
// up to --retries times with jittered exponential backoff.
//
// The write is a JSON Patch replacing the whole document
// (`[{"op":"replace","path":"","value":NEW}]`, ?if_match_version=V), so
// an update keeps the key's TTL unless --ttl sets a new one (a POST would
// clear it). Each attempt carries its own Idempotency-Key (SendWrite).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tools/cli/online_commands.h"
#include "tools/cli/online_common.h"

namespace casmem::cli {

namespace {

struct ChildResult {
  int wait_status = 0;
  std::string out;
};

// Runs argv with `input` on its standard input and collects its standard
// output (its standard error is ours). False with *error when it could
// not be started.
bool RunFilter(const std::vector<std::string>& argv, const std::string& input, ChildResult* result,
               std::string* error) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    ::close(in[0]);
    ::close(in[1]);
    return false;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return false;
  }
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    const std::string msg = "casmem: cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  int to_child = in[1];
  if (input.empty()) {
    ::close(to_child);
    to_child = -1;
  }
  char buf[16 * 1024];
  while (true) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {to_child, POLLOUT, 0}};
    if (::poll(fds, to_child >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (to_child >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(to_child, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
        ::close(to_child);  // done, or the command does not read its input (EPIPE)
        to_child = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n > 0) {
        result->out.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;  // EOF
      }
    }
  }
  if (to_child >= 0) ::close(to_child);
  ::close(out[0]);
  while (::waitpid(pid, &result->wait_status, 0) < 0 && errno == EINTR) {
  }
  return true;
}

}  // namespace

int RunUpdate(const GlobalOptions& global, const std::vector<std::string>& args) {
  static constexpr std::string_view kUsage =
      "casmem update KEY [--create] [--retries N] [--ttl D] -- COMMAND [ARGS...]";
  Flags f;
  std::string error;
  if (!ParseFlags(args, {"--retries", "--ttl"}, {"--create"}, &f, &error, /*rest_is_command=*/true) ||
      !CheckPositional(f, 1, 1, kUsage, &error)) {
    return Fail(kExitUsage, error);
  }
  if (!f.has_rest || f.rest.empty()) {
    return Fail(kExitUsage, "missing the command after --; usage: " + std::string(kUsage));
  }
  uint64_t retries = 20;
  long long ttl = 0;
  if (f.Has("--retries") && !ParseCount(f.Value("--retries"), &retries)) {
    return Fail(kExitUsage, "--retries needs a number >= 0");
  }
  if (f.Has("--ttl") && !ParseTtlSeconds(f.Value("--ttl"), &ttl, &error)) return Fail(kExitUsage, error);
  const std::string& key = f.positional[0];
  const bool create = f.Has("--create");
  ::signal(SIGPIPE, SIG_IGN);  // a command that does not read its input

  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  Response r;
  if (!client.Request("GET", KeyPath(global, key), "", {}, &r, &error)) return Fail(kExitFailed, error);
  std::string value;
  uint64_t version = 0;
  if (r.status == 404) {
    if (!create) return Fail(kExitNotFound, "key \"" + key + "\" not found (--create starts from null)");
    value = "null";
  } else if (r.status == 200) {
    Json entry;
    if (!ParseJson(r.body, &entry, &error) || !entry.Member("value") || !IntMember(entry, "version")) {
      return Fail(kExitFailed, "bad answer: not an entry");
    }
    value = *entry.Member("value");
    version = *IntMember(entry, "version");
  } else {
    return FailStatus(r, "key \"" + key + "\"");
  }

  std::mt19937 rng(std::random_device{}());
  for (uint64_t attempt = 0;; ++attempt) {
    ChildResult child;
    if (!RunFilter(f.rest, value + "\n", &child, &error)) return Fail(kExitCommandFailed, error);
    if (!WIFEXITED(child.wait_status) || WEXITSTATUS(child.wait_status) != 0) {
      const std::string how = WIFEXITED(child.wait_status)
                                  ? "exited with status " + std::to_string(WEXITSTATUS(child.wait_status))
                                  : "was killed by signal " + std::to_string(WTERMSIG(child.wait_status));
      return Fail(kExitCommandFailed, "the command " + how + "; nothing written");
    }
    Json out;
    if (!ParseJson(child.out, &out, &error)) {
      return Fail(kExitCommandFailed, "the command's output is " + error + "; nothing written");
    }
    std::string target = KeyPath(global, key) + "?if_match_version=" + std::to_string(version);
    if (ttl > 0) target += "&ttl_seconds=" + std::to_string(ttl);
    const std::string body = "[{\"op\":\"replace\",\"path\":\"\",\"value\":" + out.compact + "}]";
    if (!SendWrite(client, "PATCH", target, body, {{"Content-Type", "application/json-patch+json"}}, &r,
                   &error)) {
      return Fail(kExitFailed, error);
    }
    if (r.status == 200) {
      PrintLine(r.body);
      return kExitOk;
    }
    Json conflict;
    std::string ignored;
    if (r.status != 409 || !ParseJson(r.body, &conflict, &ignored) || !conflict.Member("current_version")) {
      return FailStatus(r, "key \"" + key + "\"");
    }
    if (attempt >= retries) {
      PrintLine(r.body);
      return Fail(kExitConflict, "key \"" + key + "\" still changing after " + std::to_string(retries) +
                                     " retries; nothing written");
    }
    if (*conflict.Member("current_version") == "null") {  // deleted (or expired) meanwhile
      if (!create) {
        return Fail(kExitNotFound, "key \"" + key + "\" was deleted while updating (--create starts from null)");
      }
      value = "null";
      version = 0;
    } else {
      auto current = conflict.Member("current_value");
      auto current_version = IntMember(conflict, "current_version");
      if (!current || !current_version) return Fail(kExitFailed, "bad answer: a 409 without current_value");
      value = *current;
      version = *current_version;
    }
    const int cap_ms = static_cast<int>(std::min<long long>(1000, 5LL << std::min<uint64_t>(attempt, 8)));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (cap_ms + 1)));
  }
}

}  // namespace casmem::cli
