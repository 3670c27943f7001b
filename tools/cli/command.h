// The casmem CLI's command table and the options every command shares.
//
// main.cc parses the global options (anywhere before a lone "--"), then
// runs the command named by the first other word with the remaining
// words. Each area of the CLI lists its commands in its own table:
// online commands that speak HTTP to a casmemd (tools/cli/), offline
// commands on a stopped server's data directory (tools/offline/), and
// importers (tools/import/).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace casmem::cli {

// Exit codes, part of the CLI's contract with scripts (docs/tools.md).
enum Exit : int {
  kExitOk = 0,
  kExitNotFound = 1,  // the key (or data) is absent
  kExitConflict = 2,  // a guard did not match (409), or a check found damage
  kExitUsage = 3,     // bad arguments: nothing was sent or changed
  kExitFailed = 4,    // the server, the network or the disk failed
};

struct GlobalOptions {
  std::string url;        // --url, else $CASMEM_URL, else http://127.0.0.1:7070
  std::string workspace;  // --workspace, else $CASMEM_WORKSPACE, else "default"
  // True when --workspace was given on the command line (not from the
  // environment): `dump` then dumps only that workspace, else all.
  bool workspace_flag = false;
  std::string token;      // --token, else $CASMEM_TOKEN; empty = none
  std::string writer;     // --writer, else $CASMEM_WRITER; empty = none (Casmem-Writer)
  std::string cacert;     // --cacert FILE: trust this CA for https:// (else the system's)
  bool insecure = false;  // --insecure: do not verify the server's certificate
  // --timeout, else $CASMEM_TIMEOUT, else 30 s: the longest one request may
  // take whole (connecting, sending, and the complete answer), however
  // slowly the answer trickles in. A watch stream is bounded by silence
  // instead (http_client.h).
  long long timeout_ms = 30'000;
};

struct Command {
  std::string_view name;
  std::string_view usage;    // the arguments after the name, e.g. "KEY [--if-version V]"
  std::string_view summary;  // one line for `casmem --help`
  // The words after the command name (global options already removed,
  // a lone "--" and what follows it kept). Returns an Exit code.
  int (*run)(const GlobalOptions& global, const std::vector<std::string>& args);
};

std::span<const Command> OnlineCommands();   // tools/cli/online_commands.cc
std::span<const Command> OfflineCommands();  // tools/offline/offline_commands.cc
std::span<const Command> ImportCommands();   // tools/import/import_commands.cc

// Prints "casmem: <message>" as one line on standard error (newlines in
// the message become spaces) and returns `code`.
int Fail(int code, std::string_view message);

}  // namespace casmem::cli
