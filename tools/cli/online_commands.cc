// The online commands' table: those that speak HTTP to a running casmemd
// (docs/tools.md "Online commands"). Each command lives in its own file;
// their shared helpers are online_common.h, the HTTP client http_client.h.
#include "tools/cli/online_commands.h"

namespace casmem::cli {

namespace {

constexpr Command kOnline[] = {
    {"get", "KEY [--entry]",
     "print a key's value (compact JSON); --entry: the whole entry", RunGet},
    {"put", "KEY VALUE|- [--file F] [--if-version V] [--ttl D]",
     "write a key (VALUE is JSON; - reads stdin); --if-version 0 creates only", RunPut},
    {"patch", "KEY PATCH|- [--file F] [--merge] [--if-version V] [--ttl D]",
     "apply a JSON Patch (or --merge: a merge patch) on the server", RunPatch},
    {"del", "KEY [--if-version V]", "delete a key", RunDel},
    {"ls", "[PREFIX] [--limit N] [--json|--keys]",
     "list live keys (a table; --json: JSON Lines), all pages", RunLs},
    {"watch", "[PREFIX] [--since R] [--count N]",
     "print changes as JSON Lines; resumes by itself after a lost connection", RunWatch},
    {"txn", "[FILE|-] [--file FILE]",
     "run a transaction ({\"ops\": [...]}) from a file or stdin", RunTxn},
    {"update", "KEY [--create] [--retries N] [--ttl D] -- COMMAND [ARGS...]",
     "pipe a key's value through COMMAND and write the output back, retrying on 409", RunUpdate},
};

}  // namespace

std::span<const Command> OnlineCommands() { return kOnline; }

}  // namespace casmem::cli
