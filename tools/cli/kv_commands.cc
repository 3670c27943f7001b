// The single-key online commands: get, put, patch, del.
#include <string>
#include <vector>

#include "tools/cli/online_commands.h"
#include "tools/cli/online_common.h"

namespace casmem::cli {

namespace {

// Reads a JSON argument (argument, "-" = stdin, or --file) and checks it.
bool ReadJsonArg(const Flags& f, size_t index, std::string_view what, Json* out, std::string* error) {
  const std::string file = f.Value("--file");
  if (!file.empty() && f.positional.size() > index) {
    *error = "give the " + std::string(what) + " as an argument or with --file, not both";
    return false;
  }
  if (file.empty() && f.positional.size() <= index) {
    *error = "missing the " + std::string(what) + " (an argument, - for standard input, or --file F)";
    return false;
  }
  std::string text;
  if (!ReadSource(file.empty() ? f.positional[index] : "", file, &text, error)) return false;
  if (!ParseJson(text, out, error)) {
    *error = "the " + std::string(what) + " is " + *error +
             (std::string(what) == "value" ? " (a string needs quotes: '\"text\"')" : "");
    return false;
  }
  return true;
}

// "?if_match_version=V&ttl_seconds=N" from the flags (either may be absent).
bool GuardQuery(const Flags& f, bool with_ttl, std::string* query, std::string* error) {
  std::string q;
  if (f.Has("--if-version")) {
    uint64_t v = 0;
    if (!ParseCount(f.Value("--if-version"), &v)) {
      *error = "--if-version needs a version (an integer >= 0)";
      return false;
    }
    q += "if_match_version=" + std::to_string(v);
  }
  if (with_ttl && f.Has("--ttl")) {
    long long s = 0;
    if (!ParseTtlSeconds(f.Value("--ttl"), &s, error)) return false;
    q += (q.empty() ? "" : "&") + std::string("ttl_seconds=") + std::to_string(s);
  }
  *query = q.empty() ? "" : "?" + q;
  return true;
}

int Answer(const Response& r, std::string_view key) {
  if (r.status / 100 == 2) {
    PrintLine(r.body);
    return kExitOk;
  }
  return FailStatus(r, "key \"" + std::string(key) + "\"");
}

}  // namespace

int RunGet(const GlobalOptions& global, const std::vector<std::string>& args) {
  Flags f;
  std::string error;
  if (!ParseFlags(args, {}, {"--entry", "--json"}, &f, &error) ||
      !CheckPositional(f, 1, 1, "casmem get KEY [--entry]", &error)) {
    return Fail(kExitUsage, error);
  }
  const std::string& key = f.positional[0];
  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  Response r;
  if (!client.Request("GET", KeyPath(global, key), "", {}, &r, &error)) {
    return Fail(kExitFailed, error);
  }
  if (r.status != 200) return FailStatus(r, "key \"" + key + "\"");
  Json entry;
  if (!ParseJson(r.body, &entry, &error)) return Fail(kExitFailed, "bad answer: " + error);
  if (f.Has("--entry") || f.Has("--json")) {
    PrintLine(entry.compact);
  } else {
    auto value = entry.Member("value");
    if (!value) return Fail(kExitFailed, "bad answer: an entry without a value");
    PrintLine(*value);
  }
  return kExitOk;
}

int RunPut(const GlobalOptions& global, const std::vector<std::string>& args) {
  Flags f;
  std::string error, query;
  Json value;
  if (!ParseFlags(args, {"--if-version", "--ttl", "--file"}, {}, &f, &error) ||
      !CheckPositional(f, 1, 2, "casmem put KEY VALUE|- [--file F] [--if-version V] [--ttl D]",
                       &error) ||
      !ReadJsonArg(f, 1, "value", &value, &error) || !GuardQuery(f, false, &query, &error)) {
    return Fail(kExitUsage, error);
  }
  const std::string& key = f.positional[0];
  std::string body = "{\"key\":" + JsonQuote(key) + ",\"value\":" + value.compact;
  if (f.Has("--if-version")) {
    uint64_t v = 0;
    ParseCount(f.Value("--if-version"), &v);  // checked by GuardQuery
    body += ",\"if_match_version\":" + std::to_string(v);
  }
  if (f.Has("--ttl")) {
    long long s = 0;
    if (!ParseTtlSeconds(f.Value("--ttl"), &s, &error)) return Fail(kExitUsage, error);
    body += ",\"ttl_seconds\":" + std::to_string(s);
  }
  body += "}";
  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  Response r;
  if (!SendWrite(client, "POST", WorkspacePath(global) + "/memory", body,
                 {{"Content-Type", "application/json"}}, &r, &error)) {
    return Fail(kExitFailed, error);
  }
  return Answer(r, key);
}

int RunPatch(const GlobalOptions& global, const std::vector<std::string>& args) {
  Flags f;
  std::string error, query;
  Json patch;
  if (!ParseFlags(args, {"--if-version", "--ttl", "--file"}, {"--merge"}, &f, &error) ||
      !CheckPositional(f, 1, 2,
                       "casmem patch KEY PATCH|- [--file F] [--merge] [--if-version V] [--ttl D]",
                       &error) ||
      !ReadJsonArg(f, 1, "patch", &patch, &error) || !GuardQuery(f, true, &query, &error)) {
    return Fail(kExitUsage, error);
  }
  const bool merge = f.Has("--merge");
  if (!merge && patch.kind != '[') {
    return Fail(kExitUsage, "a JSON Patch is an array of operations (--merge for a merge patch)");
  }
  const std::string& key = f.positional[0];
  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  Response r;
  const char* type = merge ? "application/merge-patch+json" : "application/json-patch+json";
  if (!SendWrite(client, "PATCH", KeyPath(global, key) + query, patch.compact,
                 {{"Content-Type", type}}, &r, &error)) {
    return Fail(kExitFailed, error);
  }
  return Answer(r, key);
}

int RunDel(const GlobalOptions& global, const std::vector<std::string>& args) {
  Flags f;
  std::string error, query;
  if (!ParseFlags(args, {"--if-version"}, {}, &f, &error) ||
      !CheckPositional(f, 1, 1, "casmem del KEY [--if-version V]", &error) ||
      !GuardQuery(f, false, &query, &error)) {
    return Fail(kExitUsage, error);
  }
  const std::string& key = f.positional[0];
  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  Response r;
  if (!SendWrite(client, "DELETE", KeyPath(global, key) + query, "", {}, &r, &error)) {
    return Fail(kExitFailed, error);
  }
  return Answer(r, key);
}

}  // namespace casmem::cli
