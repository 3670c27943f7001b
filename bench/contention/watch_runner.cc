// The watch workload: setup, the writers' and watchers' loops, the drain
// and the verdict (see watch_runner.h for the threads).
#include "bench/contention/watch_runner.h"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <thread>

#include "bench/contention/watch_check.h"
#include "bench/latency.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
using Guard = asio::executor_work_guard<asio::io_context::executor_type>;

struct Watcher {
  bool idle = false;
  std::unique_ptr<WatchStream> stream;
  bool opened = false, ended = false, disconnected = false;
  std::vector<Delivery> seen;
  std::atomic<uint64_t> last{0};      // highest revision delivered (read by the drain)
  std::atomic<bool> finished{false};  // ended (read by the drain)
};

struct Writer {
  int id = 0;
  std::unique_ptr<WatchWriter> conn;
  std::unique_ptr<asio::steady_timer> timer;
  uint64_t sent = 0;
};

class WatchRun {
 public:
  WatchRun(WatchTarget& target, const WatchConfig& cfg) : target_(target), cfg_(cfg) {
    if (cfg_.keys <= 0) cfg_.keys = cfg_.writers;
    if (cfg_.watch_prefix.empty()) cfg_.watch_prefix = cfg_.key_prefix + "/";
    if (cfg_.idle_prefix.empty()) cfg_.idle_prefix = cfg_.key_prefix + "-idle/";
    for (int k = 0; k < cfg_.keys; ++k) {
      keys_.push_back(cfg_.key_prefix + "/k" + std::to_string(k));
      expected_.push_back(keys_.back().rfind(cfg_.watch_prefix, 0) == 0);
    }
  }
  WatchResult Go();

 private:
  // Runs `fn(done)` on `io` and waits (up to `limit`) for done(); false on timeout.
  template <class Fn>
  bool OnAndWait(asio::io_context& io, Fn fn, std::chrono::seconds limit) {
    auto p = std::make_shared<std::promise<void>>();
    auto f = p->get_future();
    auto once = std::make_shared<std::atomic<bool>>(false);
    asio::post(io, [fn, p, once] {
      fn([p, once] {
        if (!once->exchange(true)) p->set_value();
      });
    });
    return f.wait_for(limit) == std::future_status::ready;
  }

  void OpenWatchers(std::function<void()> done);
  void OpenNext();
  void ConnectWriters(std::function<void()> done);
  void Next(Writer& w);
  void Send(Writer& w);
  void Drain(WatchResult& r);
  void Verdict(WatchResult& r);

  WatchTarget& target_;
  WatchConfig cfg_;
  std::vector<std::string> keys_;
  std::vector<bool> expected_;
  asio::io_context io_watch_, io_write_;
  // Watchers' side (io_watch_).
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::optional<uint64_t> since_;
  size_t open_next_ = 0;
  int open_pending_ = 0;  // watches not yet opened or failed
  std::function<void()> opened_;
  int close_pending_ = 0;
  std::function<void()> closed_;
  // Writers' side (io_write_).
  std::vector<Writer> writers_;
  std::vector<Ack> acks_;
  uint64_t measure_start_ = 0, end_ = 0, start_ = 0;
  uint64_t interval_ns_ = 0;  // per writer, with a rate
  int writers_running_ = 0;
  std::function<void()> writers_done_;
  WatchResult result_;  // writers' counters
};

void WatchRun::OpenWatchers(std::function<void()> done) {
  const int total = cfg_.watchers + cfg_.idle_watchers;
  open_pending_ = total;
  opened_ = std::move(done);
  if (total == 0) return opened_();
  for (int i = 0; i < total; ++i) {
    auto w = std::make_unique<Watcher>();
    w->idle = i >= cfg_.watchers;
    watchers_.push_back(std::move(w));
  }
  for (int i = 0; i < cfg_.open_parallel; ++i) OpenNext();
}

// Opens the next watch; each one that opens (or fails) starts the next, so
// at most open_parallel connections are being set up at a time.
void WatchRun::OpenNext() {
  if (open_next_ >= watchers_.size()) return;
  Watcher& w = *watchers_[open_next_++];
  auto settled = std::make_shared<bool>(false);
  auto settle = [this, settled] {
    if (std::exchange(*settled, true)) return;
    if (--open_pending_ == 0) opened_();
    OpenNext();
  };
  WatchEvents ev;
  ev.on_open = [&w, settle] {
    w.opened = true;
    settle();
  };
  ev.on_delivery = [&w](uint64_t rev, uint64_t now) {
    w.seen.push_back({rev, now});
    if (rev > w.last.load(std::memory_order_relaxed)) w.last.store(rev, std::memory_order_release);
  };
  ev.on_notice = [this](const std::string& what) { result_.notices[what.substr(0, what.find(' '))]++; };
  ev.on_end = [this, &w, settle](const std::string& why, bool stopped) {
    w.ended = true;
    w.disconnected = !stopped;
    if (!stopped) result_.notices[(w.opened ? "ended: " : "not opened: ") + why]++;
    w.finished.store(true, std::memory_order_release);
    settle();
    if (stopped && --close_pending_ == 0 && closed_) closed_();
  };
  w.stream = target_.Watch(io_watch_, w.idle ? cfg_.idle_prefix : cfg_.watch_prefix, since_, std::move(ev),
                           w.idle ? cfg_.idle_workspace : "");
}

void WatchRun::ConnectWriters(std::function<void()> done) {
  writers_.resize(static_cast<size_t>(cfg_.writers));
  auto pending = std::make_shared<int>(cfg_.writers);
  for (int i = 0; i < cfg_.writers; ++i) {
    Writer& w = writers_[static_cast<size_t>(i)];
    w.id = i;
    w.timer = std::make_unique<asio::steady_timer>(io_write_);
    target_.OpenWriter(io_write_, [this, &w, pending, done](std::unique_ptr<WatchWriter> c, std::string err) {
      if (!c) result_.errors["connect: " + err]++;
      w.conn = std::move(c);
      if (--*pending == 0) done();
    });
  }
}

void WatchRun::Next(Writer& w) {
  const uint64_t now = NowNs();
  if (now >= end_) {
    if (--writers_running_ == 0) writers_done_();
    return;
  }
  if (interval_ns_ > 0) {
    // Writer w's k-th write is due at start + (k + w/N) * interval: the
    // writers' schedules are spread evenly. A late write goes at once.
    const uint64_t due = start_ + w.sent * interval_ns_ +
                         interval_ns_ * static_cast<uint64_t>(w.id) / static_cast<uint64_t>(cfg_.writers);
    if (due > now) {
      w.timer->expires_after(std::chrono::nanoseconds(due - now));
      w.timer->async_wait([this, &w](boost::system::error_code) { Send(w); });
      return;
    }
  }
  Send(w);
}

void WatchRun::Send(Writer& w) {
  const auto n = static_cast<uint64_t>(cfg_.writers);
  const size_t k = static_cast<size_t>((static_cast<uint64_t>(w.id) + w.sent * n) % keys_.size());
  const std::string value = "{\"w\":" + std::to_string(w.id) + ",\"n\":" + std::to_string(w.sent) + "}";
  ++w.sent;
  w.conn->Put(keys_[k], value, [this, &w, k](PutResult r) {
    const uint64_t now = NowNs();
    if (!r.ok) {
      result_.errors[r.error]++;
      if (r.refusal == Refusal::kRateLimited) {
        // Nothing written: wait what the server asked, then go on.
        w.timer->expires_after(std::chrono::nanoseconds(static_cast<int64_t>(r.retry_after_s * 1e9)));
        w.timer->async_wait([this, &w](boost::system::error_code) { Next(w); });
        return;
      }
      // The connection is closed after an error (or refused for good: 401,
      // 403, nothing written): this writer stops.
      if (r.refusal == Refusal::kNone) ++result_.in_doubt;
      if (--writers_running_ == 0) writers_done_();
      return;
    }
    const bool measured = now >= measure_start_ && now <= end_;
    acks_.push_back({r.revision, now, expected_[k], measured});
    result_.writes += measured;
    Next(w);
  });
}

// Waits until every open watcher on the prefix has delivered the highest
// expected revision (or ended), at most drain_seconds.
void WatchRun::Drain(WatchResult& r) {
  uint64_t target = 0;
  for (const Ack& a : acks_) {
    if (a.expected) target = std::max(target, a.revision);
  }
  const uint64_t t0 = NowNs();
  const auto limit = static_cast<uint64_t>(cfg_.drain_seconds * 1e9);
  for (;;) {
    bool all = true;
    for (const auto& w : watchers_) {
      if (w->idle || w->finished.load(std::memory_order_acquire)) continue;
      if (w->last.load(std::memory_order_acquire) < target) all = false;
    }
    if (all) break;
    if (NowNs() - t0 > limit) {
      r.drained = false;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r.drain_ms = static_cast<double>(NowNs() - t0) / 1e6;
}

void WatchRun::Verdict(WatchResult& r) {
  r.repeated_revisions = SortAcks(&acks_);
  std::vector<uint32_t> lat;
  for (const auto& w : watchers_) {
    r.heartbeats += w->stream ? w->stream->heartbeats() : 0;
    if (!w->opened) {
      ++r.open_failures;
      continue;
    }
    if (w->idle) {
      r.idle_disconnects += w->disconnected;
      r.idle_deliveries += w->seen.size();
      continue;
    }
    r.watch_disconnects += w->disconnected;
    const WatcherVerdict v = CheckWatcher(acks_, w->seen, &lat);
    r.deliveries += v.received;
    r.early += v.early;
    r.missing += v.missing;
    r.duplicated += v.duplicated;
    r.out_of_order += v.out_of_order;
    r.unacked += v.unacked;
    r.watchers_unclean += !v.clean();
  }
  r.p50_ms = QuantileMs(lat, 0.5);
  r.p90_ms = QuantileMs(lat, 0.9);
  r.p99_ms = QuantileMs(lat, 0.99);
  r.p999_ms = QuantileMs(lat, 0.999);
  r.max_ms = QuantileMs(lat, 1.0);
}

WatchResult WatchRun::Go() {
  WatchResult& r = result_;
  r.system = target_.name();
  r.writers = cfg_.writers;
  r.watchers = cfg_.watchers;
  r.idle_watchers = cfg_.idle_watchers;
  r.rate_target = cfg_.rate;
  r.seconds = cfg_.seconds;
  Guard gw(io_watch_.get_executor()), gx(io_write_.get_executor());
  std::thread tw([this] { io_watch_.run(); }), tx([this] { io_write_.run(); });
  auto finish = [&] {
    gw.reset();
    gx.reset();
    io_watch_.stop();
    io_write_.stop();
    tw.join();
    tx.join();
  };
  const auto kSetup = std::chrono::seconds(120);
  // 1. Where the watches start: the current revision, so that they miss
  // nothing the writers acknowledge later.
  std::string rev_error;
  bool ok = OnAndWait(io_write_, [this, &rev_error](std::function<void()> done) {
    target_.CurrentRevision(io_write_, cfg_.key_prefix, [this, &rev_error, done](std::optional<uint64_t> rev, std::string err) {
      since_ = rev;
      rev_error = err;
      done();
    });
  }, kSetup);
  if (!ok || !rev_error.empty()) {
    r.errors["start revision: " + (ok ? rev_error : "no answer")]++;
    r.verdict = false;
    finish();
    return r;
  }
  r.since_known = since_.has_value();
  // 2. The watchers, every one open before the first write.
  ok = OnAndWait(io_watch_, [this](std::function<void()> done) { OpenWatchers(done); }, kSetup);
  int not_open = 0;
  if (ok) {
    ok = OnAndWait(io_watch_, [this, &not_open](std::function<void()> done) {
      for (const auto& w : watchers_) not_open += !w->opened;
      done();
    }, kSetup);
  }
  if (!ok || not_open > 0) {
    r.errors["watches not opened: " + std::to_string(not_open) + " of " + std::to_string(watchers_.size())]++;
  }
  // 3. The writers.
  ok = ok && OnAndWait(io_write_, [this](std::function<void()> done) { ConnectWriters(done); }, kSetup);
  bool connected = ok;
  for (const Writer& w : writers_) connected = connected && w.conn != nullptr;
  if (!connected || not_open > 0) {
    r.verdict = false;
    OnAndWait(io_watch_, [this](std::function<void()> done) {
      for (auto& w : watchers_) w->stream->Close();
      done();
    }, kSetup);
    finish();
    return r;
  }
  // 4. The measured run.
  if (cfg_.rate > 0) interval_ns_ = static_cast<uint64_t>(1e9 * cfg_.writers / cfg_.rate);
  const double run_s = cfg_.warmup_seconds + cfg_.seconds;
  OnAndWait(io_write_, [this](std::function<void()> done) {
    start_ = NowNs();
    measure_start_ = start_ + static_cast<uint64_t>(cfg_.warmup_seconds * 1e9);
    end_ = measure_start_ + static_cast<uint64_t>(cfg_.seconds * 1e9);
    writers_running_ = cfg_.writers;
    writers_done_ = done;
    for (Writer& w : writers_) Next(w);
  }, std::chrono::seconds(static_cast<long>(run_s) + 120));
  // Every writer has stopped: acks_ is no longer written.
  r.writes_total = acks_.size();
  r.writes_per_s = cfg_.seconds > 0 ? static_cast<double>(r.writes) / cfg_.seconds : 0;
  // 5. Let the watchers catch up, then close them all.
  Drain(r);
  OnAndWait(io_watch_, [this](std::function<void()> done) {
    closed_ = done;
    close_pending_ = 0;
    for (auto& w : watchers_) close_pending_ += !w->ended;
    if (close_pending_ == 0) return done();
    for (auto& w : watchers_) {
      if (!w->ended) w->stream->Close();
    }
  }, std::chrono::seconds(30));
  finish();
  Verdict(r);
  return r;
}

std::string MapText(const std::map<std::string, uint64_t>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : "; ") + k + " x" + std::to_string(v);
  return out.empty() ? "none" : out;
}

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

}  // namespace

WatchResult RunWatch(WatchTarget& target, const WatchConfig& config) {
  WatchRun run(target, config);
  return run.Go();
}

void PrintWatch(const WatchResult& r, const std::string& format, bool header) {
  const std::string rate = r.rate_target > 0 ? std::to_string(static_cast<long long>(r.rate_target)) : "max";
  if (format == "csv") {
    if (header) {
      std::printf("system,workload,writers,watchers,idle_watchers,rate,seconds,writes_per_s,writes,deliveries,"
                  "lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_max_ms,early,missing,duplicated,out_of_order,"
                  "unacked,watchers_unclean,watch_disconnects,idle_disconnects,open_failures,in_doubt,"
                  "drain_ms,clean,errors,notices\n");
    }
    std::printf("%s,watch,%d,%d,%d,%s,%.3f,%.1f,%llu,%llu,%.3f,%.3f,%.3f,%.3f,%.3f,%llu,%llu,%llu,%llu,%llu,%d,%d,"
                "%d,%d,%llu,%.1f,%s,%s,%s\n",
                r.system.c_str(), r.writers, r.watchers, r.idle_watchers, rate.c_str(), r.seconds, r.writes_per_s,
                static_cast<unsigned long long>(r.writes), static_cast<unsigned long long>(r.deliveries), r.p50_ms,
                r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms, static_cast<unsigned long long>(r.early),
                static_cast<unsigned long long>(r.missing), static_cast<unsigned long long>(r.duplicated),
                static_cast<unsigned long long>(r.out_of_order), static_cast<unsigned long long>(r.unacked),
                r.watchers_unclean, r.watch_disconnects, r.idle_disconnects, r.open_failures,
                static_cast<unsigned long long>(r.in_doubt), r.drain_ms,
                r.verdict ? (r.clean() ? "yes" : "no") : "unknown", Quoted(MapText(r.errors)).c_str(),
                Quoted(MapText(r.notices)).c_str());
    return;
  }
  if (format == "json") {
    std::printf(
        "{\"system\":%s,\"workload\":\"watch\",\"writers\":%d,\"watchers\":%d,\"idle_watchers\":%d,"
        "\"rate\":%s,\"seconds\":%.3f,\"writes_per_s\":%.1f,\"writes\":%llu,\"writes_total\":%llu,"
        "\"deliveries\":%llu,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},"
        "\"early\":%llu,\"missing\":%llu,\"duplicated\":%llu,\"out_of_order\":%llu,\"unacked\":%llu,"
        "\"watchers_unclean\":%d,\"repeated_revisions\":%llu,\"watch_disconnects\":%d,\"idle_disconnects\":%d,"
        "\"idle_deliveries\":%llu,"
        "\"open_failures\":%d,\"in_doubt\":%llu,\"heartbeats\":%llu,\"since_known\":%s,\"drain_ms\":%.1f,"
        "\"drained\":%s,\"verdict\":%s,\"clean\":%s,\"errors\":%s,\"notices\":%s}\n",
        Quoted(r.system).c_str(), r.writers, r.watchers, r.idle_watchers,
        r.rate_target > 0 ? rate.c_str() : "null", r.seconds, r.writes_per_s,
        static_cast<unsigned long long>(r.writes), static_cast<unsigned long long>(r.writes_total),
        static_cast<unsigned long long>(r.deliveries), r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms,
        static_cast<unsigned long long>(r.early), static_cast<unsigned long long>(r.missing),
        static_cast<unsigned long long>(r.duplicated), static_cast<unsigned long long>(r.out_of_order),
        static_cast<unsigned long long>(r.unacked), r.watchers_unclean,
        static_cast<unsigned long long>(r.repeated_revisions), r.watch_disconnects, r.idle_disconnects,
        static_cast<unsigned long long>(r.idle_deliveries), r.open_failures,
        static_cast<unsigned long long>(r.in_doubt), static_cast<unsigned long long>(r.heartbeats),
        r.since_known ? "true" : "false", r.drain_ms, r.drained ? "true" : "false", r.verdict ? "true" : "false",
        r.clean() ? "true" : "false", Quoted(MapText(r.errors)).c_str(), Quoted(MapText(r.notices)).c_str());
    return;
  }
  std::printf("system %s  workload watch  writers %d  watchers %d  idle watchers %d  rate %s/s  measured %.1f s\n",
              r.system.c_str(), r.writers, r.watchers, r.idle_watchers, rate.c_str(), r.seconds);
  std::printf("  durable writes %10.0f /s   (%llu measured, %llu in all)\n", r.writes_per_s,
              static_cast<unsigned long long>(r.writes), static_cast<unsigned long long>(r.writes_total));
  if (r.watchers > 0) {
    std::printf("  delivery       p50 %.3f ms  p90 %.3f  p99 %.3f  p999 %.3f  max %.3f  (%llu deliveries)\n",
                r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms, static_cast<unsigned long long>(r.deliveries));
    std::printf("  early          %llu deliveries arrived before their writer read the 200 (counted as 0 ms)\n",
                static_cast<unsigned long long>(r.early));
    std::printf("  exactly once   missing %llu  duplicated %llu  out of order %llu  not acknowledged %llu"
                "  (%d of %d watchers unclean)\n",
                static_cast<unsigned long long>(r.missing), static_cast<unsigned long long>(r.duplicated),
                static_cast<unsigned long long>(r.out_of_order), static_cast<unsigned long long>(r.unacked),
                r.watchers_unclean, r.watchers);
    std::printf("  drain          %.1f ms after the last write%s\n", r.drain_ms,
                r.drained ? "" : " (gave up: some watchers never caught up)");
  }
  std::printf("  disconnects    %d of %d watchers, %d of %d idle watchers; %d watches never opened\n",
              r.watch_disconnects, r.watchers, r.idle_disconnects, r.idle_watchers, r.open_failures);
  std::printf("  start          %s\n", r.since_known ? "since the current revision" : "when each watch opened");
  if (r.idle_deliveries) {
    std::printf("  VIOLATION      idle watchers received %llu changes of a prefix nobody wrote\n",
                static_cast<unsigned long long>(r.idle_deliveries));
  }
  if (r.in_doubt) std::printf("  in doubt       %llu writes failed after sending\n", static_cast<unsigned long long>(r.in_doubt));
  if (r.repeated_revisions) std::printf("  VIOLATION      %llu revisions acknowledged twice\n", static_cast<unsigned long long>(r.repeated_revisions));
  std::printf("  errors         %s\n", MapText(r.errors).c_str());
  std::printf("  notices        %s\n", MapText(r.notices).c_str());
  std::printf("  verdict        %s\n", !r.verdict ? "none (the run could not start, or was refused)" : r.clean() ? "clean" : "VIOLATIONS");
}

}  // namespace casmem::bench
