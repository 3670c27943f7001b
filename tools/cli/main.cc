// casmem: the command-line tool for people and shell scripts. Owns the
// global options, the dispatch to a command, and --help; the commands
// live in their areas' tables (tools/cli/command.h).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tools/cli/command.h"
#include "tools/cli/online_common.h"

namespace casmem::cli {

int Fail(int code, std::string_view message) {
  std::string line = "casmem: ";
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  return code;
}

namespace {

std::string EnvOr(const char* name, std::string_view fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(fallback);
}

const Command* Find(std::string_view name) {
  for (auto table : {OnlineCommands(), OfflineCommands(), ImportCommands()}) {
    for (const Command& c : table) {
      if (c.name == name) return &c;
    }
  }
  return nullptr;
}

void PrintUsage(FILE* out) {
  std::fputs(
      "usage: casmem [GLOBAL OPTIONS] COMMAND [ARGS]\n"
      "\n"
      "Global options (also accepted after the command, before a lone --):\n"
      "  --url URL          casmemd to talk to ($CASMEM_URL, default http://127.0.0.1:7070)\n"
      "  --workspace WS     workspace ($CASMEM_WORKSPACE, default \"default\")\n"
      "  --token SECRET     bearer token ($CASMEM_TOKEN)\n"
      "  --writer NAME      Casmem-Writer of writes ($CASMEM_WRITER)\n"
      "  --cacert FILE      trust this CA certificate for https://\n"
      "  --insecure         do not verify the server's certificate\n"
      "  --timeout D        the longest one request may take ($CASMEM_TIMEOUT, default 30s)\n"
      "\n"
      "Commands:\n",
      out);
  for (auto table : {OnlineCommands(), OfflineCommands(), ImportCommands()}) {
    for (const Command& c : table) {
      std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                   static_cast<int>(c.summary.size()), c.summary.data());
    }
  }
  std::fputs(
      "\n"
      "`casmem COMMAND --help` shows a command's arguments.\n"
      "Exit codes: 0 ok, 1 not found, 2 conflict (or damage found), 3 usage,\n"
      "4 server, network or disk failure. Errors are one line on standard error.\n",
      out);
}

// Takes the value of a global option given as "--name VALUE" or
// "--name=VALUE" at args[*i]; false when this word is not that option.
bool TakeValue(const std::vector<std::string>& args, size_t* i, std::string_view name,
               std::string* value, std::string* error) {
  const std::string& a = args[*i];
  if (a == name) {
    if (*i + 1 >= args.size()) {
      *error = std::string(name) + " needs a value";
      return true;
    }
    *value = args[++*i];
    return true;
  }
  if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=') {
    *value = a.substr(name.size() + 1);
    return true;
  }
  return false;
}

}  // namespace

int Main(int argc, char** argv) {
  GlobalOptions global;
  global.url = EnvOr("CASMEM_URL", "http://127.0.0.1:7070");
  global.workspace = EnvOr("CASMEM_WORKSPACE", "default");
  global.token = EnvOr("CASMEM_TOKEN", "");
  global.writer = EnvOr("CASMEM_WRITER", "");

  std::string timeout = EnvOr("CASMEM_TIMEOUT", "");

  std::vector<std::string> all(argv + 1, argv + argc);
  std::vector<std::string> rest;  // the command and its own words
  bool help = false;
  std::string error;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == "--") {
      rest.insert(rest.end(), all.begin() + i, all.end());
      break;
    }
    if (TakeValue(all, &i, "--workspace", &global.workspace, &error)) {
      if (!error.empty()) return Fail(kExitUsage, error);
      global.workspace_flag = true;
      continue;
    }
    if (TakeValue(all, &i, "--url", &global.url, &error) ||
        TakeValue(all, &i, "--token", &global.token, &error) ||
        TakeValue(all, &i, "--writer", &global.writer, &error) ||
        TakeValue(all, &i, "--cacert", &global.cacert, &error) ||
        TakeValue(all, &i, "--timeout", &timeout, &error)) {
      if (!error.empty()) return Fail(kExitUsage, error);
      continue;
    }
    if (all[i] == "--insecure") {
      global.insecure = true;
    } else if (all[i] == "--help" || all[i] == "-h") {
      help = true;
    } else {
      rest.push_back(all[i]);
    }
  }
  if (!timeout.empty()) {
    long long ms = 0;
    if (!ParseDurationMs(timeout, &ms, &error) || ms == 0) {
      return Fail(kExitUsage, "--timeout: " + (error.empty() ? "must be more than 0" : error));
    }
    global.timeout_ms = ms;
  }
  if (rest.empty() || rest[0] == "--") {
    PrintUsage(help ? stdout : stderr);
    return help ? kExitOk : kExitUsage;
  }
  const Command* cmd = Find(rest[0]);
  if (!cmd) {
    return Fail(kExitUsage, "unknown command \"" + rest[0] + "\" (casmem --help lists them)");
  }
  if (help) {
    std::printf("usage: casmem %.*s %.*s\n%.*s\n", static_cast<int>(cmd->name.size()),
                cmd->name.data(), static_cast<int>(cmd->usage.size()), cmd->usage.data(),
                static_cast<int>(cmd->summary.size()), cmd->summary.data());
    return kExitOk;
  }
  return cmd->run(global, std::vector<std::string>(rest.begin() + 1, rest.end()));
}

}  // namespace casmem::cli

int main(int argc, char** argv) { return casmem::cli::Main(argc, argv); }
