// The watch workload end to end (casmem's watch client, the runner, the
// check) against a small in-process stand-in for casmemd's change feed
// (FakeFeed below) that can be made to misbehave: the verdict must be
// clean on a feed that keeps its promises, with either framing of the
// stream (chunked, or ended by closing), events cut across writes, a
// transaction's un-id'd changes and heartbeats; and must name the fault
// when the feed drops a change, repeats one, or cuts off an idle watcher.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "bench/contention/watch_runner.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A thread per connection, one mutex over a log of changes. POST
// /workspaces/bench/memory appends a change (the next revision) and
// answers {"revision":R}; GET …/memory answers [] with Casmem-Revision;
// GET …/watch?prefix=P&since=R streams the log's changes after R under P,
// each as an SSE event cut in two writes, with a comment every 20 ms
// (which is also how a watcher's thread learns its client has gone).
class FakeFeed {
 public:
  enum class Fault { kNone, kDropOne, kRepeatOne, kCloseIdle, kIgnorePrefix };
  enum class Framing { kChunked, kClose };

  FakeFeed(Fault fault, Framing framing)
      : fault_(fault), framing_(framing), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeFeed() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    beast::error_code ec;
    tcp::socket s(io_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    accept_thread_.join();
    acceptor_.close(ec);
    for (auto& t : sessions_) t.join();
  }
  uint16_t port() const { return port_; }

 private:
  struct Change {
    uint64_t revision;
    std::string key;
  };

  void AcceptLoop() {
    for (;;) {
      tcp::socket s(io_);
      beast::error_code ec;
      acceptor_.accept(s, ec);
      if (stopping_ || ec) return;
      sessions_.emplace_back([this, s = std::move(s)]() mutable { Session(std::move(s)); });
    }
  }

  void Session(tcp::socket s) {
    beast::flat_buffer buf;
    beast::error_code ec;
    for (;;) {
      http::request<http::string_body> req;
      http::read(s, buf, req, ec);
      if (ec) return;
      const std::string target(req.target());
      if (target.rfind("/workspaces/bench/watch?", 0) == 0) return Watch(s, target);
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      if (req.method() == http::verb::post) {
        const std::string& body = req.body();
        const size_t k = body.find("\"key\":\"") + 7;
        const std::string key = body.substr(k, body.find('"', k) - k);
        uint64_t rev;
        {
          std::lock_guard<std::mutex> l(mu_);
          rev = ++revision_;
          // Every fifth write is a transaction: a change without an id
          // first, then the one with it: one delivery all the same.
          if (rev % 5 == 0) log_.push_back({0, key});
          log_.push_back({rev, key});
        }
        cv_.notify_all();
        res.body() = "{\"status\":\"ok\",\"key\":\"" + key + "\",\"version\":1,\"revision\":" + std::to_string(rev) + "}";
      } else {
        std::lock_guard<std::mutex> l(mu_);
        res.set("Casmem-Revision", std::to_string(revision_));
        res.body() = "[]";
      }
      res.prepare_payload();
      http::write(s, res, ec);
      if (ec) return;
    }
  }

  static std::string Param(const std::string& target, const std::string& name) {
    const size_t at = target.find(name + "=");
    if (at == std::string::npos) return "";
    const size_t from = at + name.size() + 1;
    return target.substr(from, target.find('&', from) - from);
  }

  void Watch(tcp::socket& s, const std::string& target) {
    std::string prefix = Param(target, "prefix");
    for (size_t p; (p = prefix.find("%2F")) != std::string::npos;) prefix.replace(p, 3, "/");
    const std::string since = Param(target, "since");
    uint64_t cursor = since.empty() ? revision_ : std::stoull(since);
    const bool idle = prefix.find("-idle/") != std::string::npos;
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n";
    head += framing_ == Framing::kChunked ? "Transfer-Encoding: chunked\r\n\r\n" : "Connection: close\r\n\r\n";
    beast::error_code ec;
    asio::write(s, asio::buffer(head), ec);
    if (ec || !Send(s, ": open\n\n")) return;
    size_t next = 0;  // index in log_
    std::unique_lock<std::mutex> l(mu_);
    while (!stopping_) {
      if (idle && fault_ == Fault::kCloseIdle && !log_.empty()) return;  // cut off once writes start
      std::vector<std::string> out;
      for (; next < log_.size(); ++next) {
        const Change& c = log_[next];
        if (c.key.rfind(prefix, 0) != 0 && fault_ != Fault::kIgnorePrefix) continue;
        if (c.revision != 0 && c.revision <= cursor) continue;
        if (fault_ == Fault::kDropOne && c.revision == 107) continue;
        std::string ev = (c.revision ? "id: " + std::to_string(c.revision) + "\n" : "") + "event: put\ndata: {\"key\":\"" +
                         c.key + "\"}\n\n";
        out.push_back(ev);
        if (fault_ == Fault::kRepeatOne && c.revision == 104) out.push_back(ev);
      }
      l.unlock();
      bool ok = true;
      for (const std::string& ev : out) {
        const size_t half = ev.size() / 2;
        ok = ok && Send(s, ev.substr(0, half)) && Send(s, ev.substr(half));
      }
      if (out.empty()) ok = Send(s, ": hb\n\n");
      l.lock();
      if (!ok) return;
      cv_.wait_for(l, std::chrono::milliseconds(20));
    }
  }

  bool Send(tcp::socket& s, const std::string& data) {
    beast::error_code ec;
    if (framing_ == Framing::kChunked) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      asio::write(s, asio::buffer(std::string(size) + data + "\r\n"), ec);
    } else {
      asio::write(s, asio::buffer(data), ec);
    }
    return !ec;
  }

  const Fault fault_;
  const Framing framing_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> sessions_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t revision_ = 100;
  std::vector<Change> log_;
};

WatchResult RunAgainst(FakeFeed& feed) {
  auto target = MakeCasmemWatchTarget("127.0.0.1", feed.port(), "bench");
  WatchConfig cfg;
  cfg.writers = 2;
  cfg.watchers = 3;
  cfg.idle_watchers = 2;
  cfg.rate = 200;
  cfg.warmup_seconds = 0.1;
  cfg.seconds = 0.4;
  cfg.drain_seconds = 30;  // generous: a slow sanitizer run still catches up
  cfg.key_prefix = "t";
  return RunWatch(*target, cfg);
}

TEST(WatchRunner, CleanFeedChunked) {
  FakeFeed feed(FakeFeed::Fault::kNone, FakeFeed::Framing::kChunked);
  const WatchResult r = RunAgainst(feed);
  ASSERT_TRUE(r.verdict) << r.errors.size();
  EXPECT_TRUE(r.clean());
  EXPECT_TRUE(r.since_known);
  EXPECT_GT(r.writes_total, 10u);
  EXPECT_EQ(r.deliveries, 3 * r.writes_total);
  EXPECT_EQ(r.missing + r.duplicated + r.out_of_order + r.unacked, 0u);
  EXPECT_EQ(r.idle_disconnects, 0);
  EXPECT_GE(r.heartbeats, 5u);  // every watcher's ": open"
  EXPECT_TRUE(r.drained);
}

TEST(WatchRunner, CleanFeedEndedByClose) {
  FakeFeed feed(FakeFeed::Fault::kNone, FakeFeed::Framing::kClose);
  const WatchResult r = RunAgainst(feed);
  ASSERT_TRUE(r.verdict);
  EXPECT_TRUE(r.clean());
  EXPECT_EQ(r.deliveries, 3 * r.writes_total);
}

TEST(WatchRunner, DroppedChangeIsMissingForEveryWatcher) {
  FakeFeed feed(FakeFeed::Fault::kDropOne, FakeFeed::Framing::kChunked);
  const WatchResult r = RunAgainst(feed);
  ASSERT_TRUE(r.verdict);
  EXPECT_FALSE(r.clean());
  EXPECT_EQ(r.missing, 3u);
  EXPECT_EQ(r.watchers_unclean, 3);
  EXPECT_TRUE(r.drained);  // the last revision still arrives
}

TEST(WatchRunner, RepeatedChangeIsDuplicated) {
  FakeFeed feed(FakeFeed::Fault::kRepeatOne, FakeFeed::Framing::kClose);
  const WatchResult r = RunAgainst(feed);
  ASSERT_TRUE(r.verdict);
  EXPECT_FALSE(r.clean());
  EXPECT_EQ(r.duplicated, 3u);
  EXPECT_EQ(r.missing, 0u);
}

TEST(WatchRunner, IdleWatcherCutOffIsADisconnect) {
  FakeFeed feed(FakeFeed::Fault::kCloseIdle, FakeFeed::Framing::kChunked);
  const WatchResult r = RunAgainst(feed);
  ASSERT_TRUE(r.verdict);
  EXPECT_FALSE(r.clean());
  EXPECT_EQ(r.idle_disconnects, 2);
  EXPECT_EQ(r.watch_disconnects, 0);
  EXPECT_EQ(r.missing, 0u);
}

TEST(WatchRunner, ChangesSentToIdleWatchersAreAViolation) {
  FakeFeed feed(FakeFeed::Fault::kIgnorePrefix, FakeFeed::Framing::kChunked);
  const WatchResult r = RunAgainst(feed);
  ASSERT_TRUE(r.verdict);
  EXPECT_FALSE(r.clean());
  EXPECT_EQ(r.idle_deliveries, 2 * r.writes_total);
  EXPECT_EQ(r.missing + r.duplicated + r.unacked, 0u);  // the watchers on the prefix are fine
}

}  // namespace
}  // namespace casmem::bench
