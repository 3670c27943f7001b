// `casmemd token ...` (token_cli.h): opens the store on the data directory
// (its lock keeps a running casmemd out), changes or lists the tokens
// through TokenRegistry, makes the change durable and closes.
#include "net/token_cli.h"

#include <cstdio>
#include <map>
#include <memory>

#include "common/logger.h"
#include "engine/store.h"
#include "net/json_out.h"
#include "net/token_json.h"
#include "net/token_registry.h"
#include "wal/file_ops.h"

namespace casmem::net {

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "casmemd token: %s\n", message.c_str());
  return 1;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "casmemd token: %s (see casmemd token --help)\n", message.c_str());
  return 2;
}

// Who made a change offline (the record's writer).
constexpr const char* kOfflineWriter = "casmemd token";

// Opens the store of `dir`; `create`: a missing directory is made (a token
// may be created before casmemd first starts).
int OpenStore(const std::string& dir, bool create, std::unique_ptr<Store>* out) {
  if (!create && !wal::PosixFileSystem()->Exists(wal::JoinPath(dir, "wal"))) {
    return Fail(wal::PosixFileSystem()->Exists(dir) ? dir + " is not a casmem data directory (no wal/)"
                                                    : "no data directory " + dir);
  }
  Status s = Store::Open(ToolStoreOptions(dir), out);
  if (!s.ok()) {
    std::string why = s.ToString();
    if (why.find("is locked") != std::string::npos) {
      why = "casmemd is serving " + dir + ": stop it, or use /admin/tokens with an admin token";
    }
    return Fail("cannot open data directory " + dir + ": " + why);
  }
  return 0;
}

int Close(Store& store, uint64_t lsn) {
  Status s = store.WaitVisible(lsn);
  if (s.ok()) s = store.Close();
  return s.ok() ? 0 : Fail("the change may not be durable: " + s.ToString());
}

}  // namespace

std::string TokenUsageText() {
  return "usage:\n"
         "  casmemd token create --data-dir DIR --name N --workspace WS|'*' --role read|write|admin\n"
         "      print a new token's secret, once, alone on one line (only its SHA-256 is kept)\n"
         "  casmemd token list --data-dir DIR [--json]\n"
         "  casmemd token revoke N --data-dir DIR\n"
         "casmemd must not be serving DIR (use /admin/tokens then). An admin token is always for\n"
         "workspace '*'. read may GET, list and watch; write also writes; admin does everything,\n"
         "/admin and /metrics included.\n";
}

int RunTokenCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(TokenUsageText().c_str(), stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string verb = args[0];
  if (verb != "create" && verb != "list" && verb != "revoke") return Usage("unknown command '" + verb + "'");
  std::map<std::string, std::string> opts;
  std::vector<std::string> positional;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--json") {
      json = true;
      continue;
    }
    if (!a.starts_with("--")) {
      positional.push_back(a);
      continue;
    }
    std::string value;
    if (const size_t eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage(a + " needs a value");
    }
    if (a != "--data-dir" && a != "--name" && a != "--workspace" && a != "--role") {
      return Usage("unknown option " + a);
    }
    opts[a] = value;
  }
  if (!opts.count("--data-dir")) return Usage("--data-dir DIR is required");
  const std::string dir = opts["--data-dir"];
  SetLogLevel(LogLevel::kWarn);  // standard output is the secret's; recovery chatter is not wanted

  if (verb == "create") {
    if (!positional.empty()) return Usage("unexpected argument '" + positional[0] + "'");
    for (const char* need : {"--name", "--workspace", "--role"}) {
      if (!opts.count(need)) return Usage(std::string(need) + " is required");
    }
    if (json) return Usage("--json is for list");
    // Checked before the directory is opened (or made).
    if (const char* problem = TokenRegistry::CreateProblem(opts["--name"], opts["--workspace"], opts["--role"])) {
      return Usage(problem);
    }
    std::unique_ptr<Store> store;
    if (int rc = OpenStore(dir, true, &store)) return rc;
    TokenRegistry tokens(store.get());
    Status s = tokens.Load();
    if (!s.ok()) return Fail(s.ToString());
    auto c = tokens.Create(opts["--name"], opts["--workspace"], opts["--role"], kOfflineWriter);
    if (c.outcome != Outcome::kOk) {
      (void)store->Close();
      return c.outcome == Outcome::kInvalid ? Usage(c.error) : Fail(c.error);
    }
    if (int rc = Close(*store, c.visible_lsn)) return rc;
    std::printf("%s\n", c.secret.c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "created token '%s' (%s on %s); the secret above is shown only now\n",
                 c.token->name.c_str(), RoleName(c.token->role), c.token->workspace.c_str());
    return 0;
  }

  if (verb == "revoke") {
    std::string name = opts.count("--name") ? opts["--name"] : "";
    if (positional.size() > 1 || (positional.size() == 1 && !name.empty())) {
      return Usage("revoke takes one token name");
    }
    if (positional.size() == 1) name = positional[0];
    if (name.empty()) return Usage("revoke needs the token's name");
    if (json) return Usage("--json is for list");
    if (opts.count("--workspace") || opts.count("--role")) return Usage("revoke takes a name only");
    std::unique_ptr<Store> store;
    if (int rc = OpenStore(dir, false, &store)) return rc;
    TokenRegistry tokens(store.get());
    Status s = tokens.Load();
    if (!s.ok()) return Fail(s.ToString());
    auto rv = tokens.Revoke(name, kOfflineWriter);
    if (rv.outcome != Outcome::kOk) {
      (void)store->Close();
      return Fail(rv.error);
    }
    if (int rc = Close(*store, rv.visible_lsn)) return rc;
    std::fprintf(stderr, "revoked token '%s'\n", name.c_str());
    return 0;
  }

  // list
  if (!positional.empty()) return Usage("unexpected argument '" + positional[0] + "'");
  std::unique_ptr<Store> store;
  if (int rc = OpenStore(dir, false, &store)) return rc;
  TokenRegistry tokens(store.get());
  Status s = tokens.Load();
  if (!s.ok()) return Fail(s.ToString());
  const auto all = tokens.List();
  if (json) {
    std::printf("%s\n", TokensJson(all).c_str());
  } else {
    std::printf("%-24s %-24s %-6s %-25s %s\n", "NAME", "WORKSPACE", "ROLE", "CREATED", "BY");
    for (const auto& t : all) {
      std::printf("%-24s %-24s %-6s %-25s %s\n", t->name.c_str(), t->workspace.c_str(), RoleName(t->role),
                  FormatRfc3339(t->created_at_ms).c_str(), t->created_by.c_str());
    }
  }
  (void)store->Close();
  return 0;
}

}  // namespace casmem::net
