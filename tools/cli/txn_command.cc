// casmem txn: sends a transaction (spec section 6: {"ops": [...]}) read
// from a file or standard input, and prints the server's answer.
#include <string>
#include <vector>

#include "tools/cli/online_commands.h"
#include "tools/cli/online_common.h"

namespace casmem::cli {

int RunTxn(const GlobalOptions& global, const std::vector<std::string>& args) {
  Flags f;
  std::string error, text;
  if (!ParseFlags(args, {"--file"}, {}, &f, &error) ||
      !CheckPositional(f, 0, 1, "casmem txn [FILE|-] (or --file FILE)", &error)) {
    return Fail(kExitUsage, error);
  }
  std::string file = f.Value("--file");
  if (!f.positional.empty()) {
    if (!file.empty()) return Fail(kExitUsage, "give the file as an argument or with --file, not both");
    if (f.positional[0] != "-") file = f.positional[0];
  }
  Json body;
  if (!ReadSource("-", file, &text, &error)) return Fail(kExitUsage, error);
  if (!ParseJson(text, &body, &error)) return Fail(kExitUsage, "the transaction is " + error);
  if (body.kind != '{' || !body.Member("ops")) {
    return Fail(kExitUsage, "a transaction is an object {\"ops\": [...]} (docs/api.md)");
  }
  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  Response r;
  if (!SendWrite(client, "POST", WorkspacePath(global) + "/txn", body.compact,
                 {{"Content-Type", "application/json"}}, &r, &error)) {
    return Fail(kExitFailed, error);
  }
  if (r.status / 100 == 2) {
    PrintLine(r.body);
    return kExitOk;
  }
  return FailStatus(r, "transaction target");
}

}  // namespace casmem::cli
