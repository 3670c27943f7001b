// The change feed's requests (memory-api.md §8): GET …/watch (validated
// here, served by the session's watch stream), GET …/changes (the
// long-poll) and the blocking read GET …/memory/{key}?wait_version=V.
// A request with nothing to answer yet returns HandlerResult::wait; the
// session runs it again when a matching change is dispatched or its time
// is up, so each run answers from the state at that moment.
#include "engine/names.h"
#include "net/change_json.h"
#include "net/duration.h"
#include "net/handler.h"
#include "net/handler_internal.h"
#include "net/json_body.h"
#include "net/json_out.h"
#include "net/url.h"

namespace casmem::net {

namespace {

using SteadyClock = std::chrono::steady_clock;

// The most a long-poll or a blocking read waits (Consul's blocking queries
// cap theirs too), and the default wait of a blocking read.
constexpr std::chrono::milliseconds kMaxWait{300'000};
// A `changes` page holds at most this many bytes of values (and always at
// least one whole record).
constexpr size_t kChangesMaxBytes = 8u << 20;

constexpr const char* kBadWait =
    "wait must be a duration: an integer with a unit, ms, s, m or h (\"250ms\", \"10s\"), or of seconds";

// A revision (`since`, Last-Event-ID) or a version.
std::optional<uint64_t> ParseCount(const std::string* text) {
  if (text == nullptr) return std::nullopt;
  return ParseUnsigned(*text);
}

// When a waiting request's time is up: its first run's deadline, kept by
// the session across runs.
SteadyClock::time_point DeadlineOf(const HttpRequest& req, std::chrono::milliseconds wait) {
  return req.wait_deadline ? *req.wait_deadline : SteadyClock::now() + wait;
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseWait(std::string_view text) {
  std::chrono::milliseconds d;
  if (!ParseDuration(text, &d)) return std::nullopt;
  return std::min(d, kMaxWait);  // longer asks are served as the longest (Consul's cap)
}

std::optional<HttpResponse> Handler::FutureRevision(uint64_t since) const {
  // No revision above the newest was ever handed out (a client gets one
  // only from a reply, a listing or an event), so such a `since` is not
  // from this server's history: a data directory replaced, or changes lost
  // (--fsync batch or never, after a power loss). Waiting for it would
  // skip every change up to it silently; the client must list again.
  const uint64_t head = store_->revision();
  if (since <= head) return std::nullopt;
  return Error(400, "since " + std::to_string(since) + " is ahead of this server's newest revision " +
                        std::to_string(head) + ": list again and watch from the listing's Casmem-Revision");
}

HandlerResult Handler::Watch(const std::string& ws, const Target& t, const HttpRequest& req) {
  const std::string* prefix = QueryParam(t, "prefix");
  const std::string* since_text = QueryParam(t, "since");
  std::optional<uint64_t> since = ParseCount(since_text);
  if (since_text != nullptr && !since) return ResultOf(Error(400, "since must be a revision (an unsigned integer)"));
  // A reconnecting EventSource sends the last id it received; it is newer
  // than the URL's `since`, which the browser repeats unchanged.
  if (req.last_event_id) {
    const std::string id(*req.last_event_id);
    since = ParseUnsigned(id);
    if (!since) return ResultOf(Error(400, "Last-Event-ID must be a revision (an unsigned integer)"));
  }
  if (prefix != nullptr && !ValidUtf8(*prefix)) return ResultOf(Error(400, "prefix is not valid UTF-8"));
  if (since) {
    if (auto future = FutureRevision(*since)) return ResultOf(std::move(*future));
  }
  HandlerResult r;
  r.watch = WatchStart{ChangeFilter{ws, prefix ? *prefix : "", false},
                       // Without a resume point: the changes after it opened.
                       since ? *since : store_->revision(), nullptr};
  return r;
}

HandlerResult Handler::Changes(const std::string& ws, const Target& t, const HttpRequest& req) {
  const std::string* prefix = QueryParam(t, "prefix");
  const std::string* since_text = QueryParam(t, "since");
  const std::string* limit_text = QueryParam(t, "limit");
  const std::string* wait_text = QueryParam(t, "wait");
  const std::optional<uint64_t> since = since_text ? ParseCount(since_text) : std::optional<uint64_t>(0);
  if (!since) return ResultOf(Error(400, "since must be a revision (an unsigned integer)"));
  size_t limit = 1000;
  if (limit_text != nullptr) {
    auto n = ParseUnsigned(*limit_text);
    if (!n || *n < 1 || *n > 10000) return ResultOf(Error(400, "limit must be an integer from 1 to 10000"));
    limit = static_cast<size_t>(*n);
  }
  std::chrono::milliseconds wait{0};
  if (wait_text != nullptr) {
    auto w = ParseWait(*wait_text);
    if (!w) return ResultOf(Error(400, kBadWait));
    wait = *w;
  }
  if (prefix != nullptr && !ValidUtf8(*prefix)) return ResultOf(Error(400, "prefix is not valid UTF-8"));
  if (auto future = FutureRevision(*since)) return ResultOf(std::move(*future));
  const auto deadline = DeadlineOf(req, wait);

  ChangeHistory::Query q;
  q.filter = ChangeFilter{ws, prefix ? *prefix : "", false};
  q.since = *since;
  q.max_events = limit;
  q.max_bytes = kChangesMaxBytes;
  ChangeHistory::Page page;
  ChangeHistory* history = store_->history();
  const uint64_t head = history->head();
  const Status s = history->Read(q, &page);
  if (!s.ok()) return ResultOf(Error(500, "change history unreadable: " + s.ToString()));
  if (page.compacted) {
    metrics_->CountCompacted();
    return ResultOf(Json(410, CompactedJson(page.compact_revision)));
  }
  // Nothing yet: wait for a change after what was looked at, unless the
  // scan stopped short of the head (a busy log: answer, the client asks
  // again from next_since) or the time is up.
  if (page.events.empty() && page.next_since >= std::min(head, history->head()) &&
      SteadyClock::now() < deadline) {
    HandlerResult r;
    r.wait = WaitFor{q.filter, std::max(page.next_since, *since), deadline, deadline};
    return r;
  }
  return ResultOf(Json(200, ChangesJson(page.events, std::max(page.next_since, *since))));
}

HandlerResult Handler::BlockingGet(const std::string& ws, const std::string& key, const Target& t,
                                   const HttpRequest& req) {
  const std::optional<uint64_t> version = ParseCount(QueryParam(t, "wait_version"));
  if (!version) return ResultOf(Error(400, "wait_version must be a version (an unsigned integer)"));
  std::chrono::milliseconds wait = kMaxWait;
  if (const std::string* wait_text = QueryParam(t, "wait")) {
    auto w = ParseWait(*wait_text);
    if (!w) return ResultOf(Error(400, kBadWait));
    wait = *w;
  }
  const auto deadline = DeadlineOf(req, wait);
  // Every write of the key after this revision wakes the wait; the read
  // below sees every write up to it (applied under the key's shard lock
  // before the revision was handed out), so no change falls in between.
  const uint64_t since = store_->revision();
  const GetResult g = store_->Get(ws, key);
  const uint64_t current = g.outcome == Outcome::kOk ? g.entry.version : 0;  // absent counts as 0
  const auto now = SteadyClock::now();
  if (current != *version || now >= deadline) return Get(ws, key, g);
  HandlerResult r;
  auto wake_at = deadline;
  if (g.outcome == Outcome::kOk && g.entry.expires_at_ms != 0) {
    // Expiry changes the answer (the key turns absent) without a write
    // of its own at that instant: look again just after it.
    const int64_t left_ms = g.entry.expires_at_ms - store_->options().clock->NowMs();
    wake_at = std::min(wake_at, now + std::chrono::milliseconds(std::max<int64_t>(left_ms, 0) + 1));
  }
  r.wait = WaitFor{ChangeFilter{ws, key, true}, since, deadline, wake_at};
  return r;
}

}  // namespace casmem::net
