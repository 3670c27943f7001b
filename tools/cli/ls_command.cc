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

// The decoded value of the after= parameter of a next-page target; ""
// when it has none.
std::string AfterCursor(const std::string& target) {
  const size_t q = target.find('?');
  if (q == std::string::npos) return "";
  size_t pos = q + 1;
  while (pos <= target.size()) {
    size_t end = target.find('&', pos);
    if (end == std::string::npos) end = target.size();
    const std::string_view param(target.data() + pos, end - pos);
    if (param.substr(0, 6) == "after=") {
      std::string out;
      for (size_t i = 6; i < param.size(); ++i) {
        auto hex = [](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          return -1;
        };
        if (param[i] == '%' && i + 2 < param.size() && hex(param[i + 1]) >= 0 && hex(param[i + 2]) >= 0) {
          out.push_back(static_cast<char>(hex(param[i + 1]) * 16 + hex(param[i + 2])));
          i += 2;
        } else {
          out.push_back(param[i] == '+' ? ' ' : param[i]);
        }
      }
      return out;
    }
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
  uint64_t limit = 1000;
  if (f.Has("--limit") && (!ParseCount(f.Value("--limit"), &limit) || limit < 1 || limit > 10000)) {
    return Fail(kExitUsage, "--limit needs a page size from 1 to 10000");
  }
  if (f.Has("--json") && f.Has("--keys")) return Fail(kExitUsage, "--json or --keys, not both");
  std::string target = WorkspacePath(global) + "/memory?limit=" + std::to_string(limit);
  if (!f.positional.empty()) target += "&prefix=" + EncodePathSegment(f.positional[0]);

  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  std::vector<std::vector<std::string>> rows;  // the table, printed at the end (aligned)
  std::string last_after;  // the cursor of the page just asked for
  bool have_after = false;
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
    // Keys are listed in byte order, so each page's cursor is beyond the
    // last: a next link whose after= does not move forward (the same
    // page again, from a broken or hostile server) would loop forever.
    if (!target.empty()) {
      std::string after = AfterCursor(target);
      if (after.empty() || (have_after && after <= last_after)) {
        return Fail(kExitFailed, "bad answer: the next-page link does not move forward (" + target + ")");
      }
      last_after = std::move(after);
      have_after = true;
    }
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
