// casmem watch: prints a workspace's changes as JSON Lines (the event's
// data plus "event") and keeps watching across lost connections, `lagged`
// and server restarts, resuming after the last revision it printed.
//
// Without --since it first lists one key to learn the current revision
// (Casmem-Revision) and watches from there, so that no change is missed
// even if the first stream is cut before any event arrived. The changes of
// one transaction share a revision and only the last carries an id; a
// stream cut inside one is resumed from the previous id and the changes
// already printed are skipped, so each change is printed once.
// `compacted` (the history asked for is gone) ends it with exit code 1.
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tools/cli/online_commands.h"
#include "tools/cli/online_common.h"

namespace casmem::cli {

namespace {

constexpr int kMaxBackoffMs = 5000;

std::string EventLine(std::string_view event, const std::string& data) {
  std::string line = "{\"event\":" + JsonQuote(event);
  if (data.size() >= 2 && data.front() == '{') {
    const std::string_view inner = std::string_view(data).substr(1);
    line += inner == "}" ? "}" : "," + std::string(inner);
  } else {
    line += ",\"data\":" + (data.empty() ? std::string("null") : data) + "}";
  }
  return line;
}

}  // namespace

int RunWatch(const GlobalOptions& global, const std::vector<std::string>& args) {
  Flags f;
  std::string error;
  if (!ParseFlags(args, {"--since", "--count"}, {}, &f, &error) ||
      !CheckPositional(f, 0, 1, "casmem watch [PREFIX] [--since R] [--count N]", &error)) {
    return Fail(kExitUsage, error);
  }
  uint64_t since = 0, count = 0;
  if (f.Has("--since") && !ParseCount(f.Value("--since"), &since)) {
    return Fail(kExitUsage, "--since needs a revision (an integer >= 0)");
  }
  if (f.Has("--count") && (!ParseCount(f.Value("--count"), &count) || count < 1)) {
    return Fail(kExitUsage, "--count needs a number of changes >= 1");
  }
  const std::string prefix_query =
      f.positional.empty() ? "" : "&prefix=" + EncodePathSegment(f.positional[0]);
  HttpClient client(global);
  if (!client.UrlError().empty()) return Fail(kExitUsage, client.UrlError());
  if (!f.Has("--since")) {
    Response r;
    if (!client.Request("GET", WorkspacePath(global) + "/memory?limit=1" + prefix_query, "", {}, &r,
                        &error)) {
      return Fail(kExitFailed, error);
    }
    if (r.status != 200) return FailStatus(r, "workspace \"" + global.workspace + "\"");
    if (!ParseCount(r.Header("casmem-revision"), &since)) {
      return Fail(kExitFailed, "bad answer: no Casmem-Revision header");
    }
  }

  uint64_t printed = 0;
  std::optional<uint64_t> partial_rev;  // nullopt: none
  long long partial_n = 0;  // printed changes of a transaction not yet closed by an id
  int backoff_ms = 0;
  bool told = false;  // the current outage was reported on stderr
  std::mt19937 rng(std::random_device{}());
  while (true) {
    long long skip = partial_n;
    bool done = false, compacted = false, lagged = false;
    std::string compact_data, stream_error, error_body;
    int status = 0;
    const std::string target = WorkspacePath(global) + "/watch?since=" + std::to_string(since) + prefix_query;
    const bool ok = client.Watch(
        target, {},
        [&](std::string_view event, std::string_view id, std::string_view data) {
          backoff_ms = 0;
          told = false;
          if (event == "compacted") {
            compacted = true;
            compact_data = data;
            return false;
          }
          if (event == "lagged") {
            lagged = true;
            return false;
          }
          if (event != "put" && event != "delete" && event != "expire") return true;
          Json j;
          std::string ignored;
          const std::string text(data);
          const std::optional<uint64_t> rev =
              ParseJson(text, &j, &ignored) ? IntMember(j, "revision") : std::nullopt;
          std::optional<uint64_t> id_rev;
          if (uint64_t parsed = 0; !id.empty() && ParseCount(id, &parsed)) id_rev = parsed;
          if (skip > 0 && rev == partial_rev) {
            --skip;  // printed before the stream was cut inside this transaction
          } else {
            PrintLine(EventLine(event, text));
            ++printed;
            if (!id_rev) {
              if (rev != partial_rev) partial_n = 0;
              partial_rev = rev;
              ++partial_n;
            }
          }
          if (id_rev) {
            since = *id_rev;
            partial_n = 0;
            partial_rev.reset();
            skip = 0;
          }
          if (count > 0 && printed >= count) {
            done = true;
            return false;
          }
          return true;
        },
        &status, &stream_error, &error_body);
    if (done) return kExitOk;
    if (compacted) {
      Json j;
      std::string ignored;
      std::string c = ParseJson(compact_data, &j, &ignored) && j.Member("compact_revision")
                          ? *j.Member("compact_revision")
                          : "?";
      return Fail(kExitNotFound, "watch history compacted: changes after revision " +
                                     std::to_string(since) + " are no longer kept (compact revision " +
                                     c + "); list again and watch --since the list's Casmem-Revision");
    }
    if (ok && status != 200 && status != 0) {
      Response r;
      r.status = status;
      r.body = error_body;
      if (status < 500) return FailStatus(r, "workspace \"" + global.workspace + "\"");
      stream_error = "server error (" + std::to_string(status) + ")";
    }
    if (!ok || status != 200) {
      if (!told) {
        std::fprintf(stderr, "casmem: watch: %s; reconnecting from revision %llu\n",
                     stream_error.c_str(), static_cast<unsigned long long>(since));
        told = true;
      }
      backoff_ms = std::min(kMaxBackoffMs, std::max(100, backoff_ms * 2));
    } else if (!lagged) {
      backoff_ms = std::min(kMaxBackoffMs, std::max(100, backoff_ms * 2));  // ended without lagged
    }
    if (backoff_ms > 0) {
      const int wait = backoff_ms / 2 + static_cast<int>(rng() % (backoff_ms / 2 + 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
  }
}

}  // namespace casmem::cli
