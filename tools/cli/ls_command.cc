// casmem ls: lists a workspace's live keys page by page, following the
// server's Link rel="next" headers, as a table, JSON Lines or bare keys.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/cli/online_commands.h"
#include "tools/cli/online_common.h"

namespace casmem::cli {

namespace {

// The target of the rel="next" link of a Link header; "" when none.
std::string NextLink(const std::string& link) {
  size_t pos = 0;
  while (pos < link.size()) {
    const size_t open = link.find('<', pos);
    if (open == std::string::npos) break;
    const size_t close = link.find('>', open);
    if (close == std::string::npos) break;
    const size_t end = link.find(',', close);
    const std::string params = link.substr(close + 1, end == std::string::npos ? std::string::npos : end - close - 1);
    if (params.find("rel=\"next\"") != std::string::npos || params.find("rel=next") != std::string::npos) {
      return link.substr(open + 1, close - open - 1);
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "";
}

std::string Field(const Json& entry, std::string_view name) {
  auto m = entry.Member(name);
  if (!m || *m == "null") return "-";
  if (!m->empty() && m->front() == '"') return JsonStringValue(*m);
  return *m;
}

}  // namespace

int RunLs(const GlobalOptions& global, const std::vector<std::string>& args) {
  Flags f;
  std::string error;
  if (!ParseFlags(args, {"--limit"}, {"--json", "--keys"}, &f, &error) ||
      !CheckPositional(f, 0, 1, "casmem ls [PREFIX] [--limit N] [--json|--keys]", &error)) {
    return Fail(kExitUsage, error);
  }
  long long limit = 1000;
  if (f.Has("--limit") && (!ParseCount(f.Value("--limit"), &limit) || limit < 1 || limit > 10000)) {
    return Fail(kExitUsage, "--limit needs a page size from 1 to 10000");
  }
  if (f.Has("--json") && f.Has("--keys")) return Fail(kExitUsage, "--json or --keys, not both");
  std::string target = WorkspacePath(global) + "/memory?limit=" + std::to_string(limit);
  if (!f.positional.empty()) target += "&prefix=" + EncodePathSegment(f.positional[0]);

  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  std::vector<std::vector<std::string>> rows;  // the table, printed at the end (aligned)
  while (!target.empty()) {
    Response r;
    if (!client.Request("GET", target, "", {}, &r, &error)) return Fail(kExitFailed, error);
    if (r.status != 200) return FailStatus(r, "workspace \"" + global.workspace + "\"");
    Json page;
    if (!ParseJson(r.body, &page, &error) || page.kind != '[') {
      return Fail(kExitFailed, "bad answer: not a JSON array");
    }
    for (const auto& [ignored, text] : page.members) {
      if (f.Has("--json")) {
        PrintLine(text);
        continue;
      }
      Json entry;
      if (!ParseJson(text, &entry, &error)) return Fail(kExitFailed, "bad answer: " + error);
      if (f.Has("--keys")) {
        PrintLine(Field(entry, "key"));
        continue;
      }
      rows.push_back({Field(entry, "key"), Field(entry, "version"), Field(entry, "revision"),
                      Field(entry, "updated_at"), Field(entry, "expires_at"), Field(entry, "writer")});
    }
    target = NextLink(r.Header("link"));
  }
  if (f.Has("--json") || f.Has("--keys")) return kExitOk;
  const std::vector<std::string> head = {"KEY", "VERSION", "REVISION", "UPDATED", "EXPIRES", "WRITER"};
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    PrintLine(line);
  };
  print(head);
  for (const auto& row : rows) print(row);
  return kExitOk;
}

}  // namespace casmem::cli
