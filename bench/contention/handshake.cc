// The handshake workload (handshake.h): one state machine per agent, all
// on one io_context thread, like the runner's.
#include "bench/contention/handshake.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <vector>

#include "bench/contention/http_conn.h"
#include "bench/contention/refusal.h"
#include "bench/contention/run_stats.h"
#include "bench/latency.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

class HandshakeRun {
 public:
  HandshakeRun(std::string host, uint16_t port, std::shared_ptr<const ConnSecurity> security, const RunConfig& cfg)
      : host_(std::move(host)), port_(port), security_(std::move(security)), cfg_(cfg), stop_timer_(io_) {}

  RunResult Go();

 private:
  struct Agent {
    std::unique_ptr<HttpConn> conn;  // the connection being made (or the last one)
    std::unique_ptr<asio::steady_timer> timer;
    uint64_t start = 0;
    uint64_t done = 0;  // connections completed in the measured window
  };

  bool Measuring(uint64_t t) const { return t >= measure_start_ && !stopping_; }
  void Next(Agent& a);
  void Completed(Agent& a);
  void Failed(Agent& a, const std::string& what, Refusal refusal = Refusal::kNone, double retry_after_s = 0);
  void Finish();

  const std::string host_;
  const uint16_t port_;
  const std::shared_ptr<const ConnSecurity> security_;
  const RunConfig cfg_;
  asio::io_context io_;
  asio::steady_timer stop_timer_;
  std::vector<Agent> agents_;
  RunResult result_;
  uint64_t measure_start_ = 0, stop_at_ = 0, measured_ = 0;
  bool stopping_ = false;
  int running_ = 0;
  std::vector<double> latencies_ms_;
};

// One connection: the previous one is dropped first (from a fresh handler,
// never inside its own completion), then connect (+ handshake) and the
// request.
void HandshakeRun::Next(Agent& a) {
  a.conn.reset();
  if (stopping_) return Finish();
  a.start = NowNs();
  if (Measuring(a.start)) ++result_.attempts;
  a.conn = std::make_unique<HttpConn>(io_, security_);
  a.conn->Open(host_, port_, [this, &a](std::string err) {
    if (!err.empty()) return Failed(a, err);
    a.conn->Send(http::verb::get, "/healthz", "", [this, &a](std::string err) {
      if (!err.empty()) return Failed(a, err);
      const auto& res = a.conn->response();
      if (const Refusal f = RefusalOf(res.result_int()); f != Refusal::kNone) {
        return Failed(a, RefusalName(f), f,
                      f == Refusal::kRateLimited ? RetryAfterSeconds(res[http::field::retry_after]) : 0);
      }
      if (res.result_int() != 200) return Failed(a, "healthz: HTTP " + std::to_string(res.result_int()));
      Completed(a);
    });
  });
}

void HandshakeRun::Completed(Agent& a) {
  const uint64_t now = NowNs();
  ++result_.updates;  // every completed connection, warm-up included
  if (Measuring(now)) {
    ++a.done;
    ++measured_;
    latencies_ms_.push_back(static_cast<double>(now - a.start) / 1e6);
    if (cfg_.ops > 0 && measured_ >= cfg_.ops && !stopping_) {
      stopping_ = true;
      stop_at_ = now;
    }
  }
  asio::post(io_, [this, &a] { Next(a); });
}

void HandshakeRun::Failed(Agent& a, const std::string& what, Refusal refusal, double retry_after_s) {
  result_.errors[what]++;
  if (IsAuthRefusal(refusal) && result_.updates == 0 && result_.refused.empty()) {
    result_.refused = RefusalName(refusal);  // /healthz refused from the start: no result
    if (!stopping_) {
      stopping_ = true;
      stop_at_ = NowNs();
    }
    stop_timer_.cancel();
    for (Agent& b : agents_) b.timer->cancel();
  }
  if (stopping_) {
    return asio::post(io_, [this, &a] {
      a.conn.reset();
      Finish();
    });
  }
  const double pause_s = refusal == Refusal::kRateLimited ? retry_after_s : 0.01;
  a.timer->expires_after(std::chrono::nanoseconds(static_cast<int64_t>(pause_s * 1e9)));
  a.timer->async_wait([this, &a](boost::system::error_code) { Next(a); });
}

void HandshakeRun::Finish() {
  if (--running_ == 0) stop_timer_.cancel();
}

RunResult HandshakeRun::Go() {
  result_.system = "casmem";
  result_.workload = "handshake";
  result_.agents = cfg_.agents;
  result_.keys = 0;
  agents_.resize(static_cast<size_t>(cfg_.agents));
  for (Agent& a : agents_) a.timer = std::make_unique<asio::steady_timer>(io_);
  const uint64_t start = NowNs();
  measure_start_ = start + static_cast<uint64_t>(cfg_.warmup_seconds * 1e9);
  running_ = cfg_.agents;
  if (cfg_.ops == 0) {
    stop_timer_.expires_after(
        std::chrono::nanoseconds(static_cast<int64_t>((cfg_.warmup_seconds + cfg_.seconds) * 1e9)));
    stop_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      stopping_ = true;
      stop_at_ = NowNs();
      for (Agent& a : agents_) a.timer->cancel();  // wake agents pausing after an error
    });
  }
  for (Agent& a : agents_) Next(a);
  io_.run();

  const uint64_t end = stop_at_ ? stop_at_ : NowNs();
  result_.seconds = end > measure_start_ ? static_cast<double>(end - measure_start_) / 1e9 : 0;
  result_.commits = measured_;
  const double secs = std::max(result_.seconds, 1e-9);
  result_.commits_per_s = static_cast<double>(measured_) / secs;
  result_.attempts_per_s = static_cast<double>(result_.attempts) / secs;
  FillLatencies(latencies_ms_, &result_);
  std::vector<uint64_t> per_agent;
  for (const Agent& a : agents_) per_agent.push_back(a.done);
  FillAgentSpread(std::move(per_agent), &result_);
  // No value is read back: there is nothing to verify.
  result_.final_read_ok = result_.refused.empty();
  return result_;
}

}  // namespace

RunResult RunHandshake(const std::string& host, uint16_t port, std::shared_ptr<const ConnSecurity> security,
                       const RunConfig& config) {
  HandshakeRun run(host, port, std::move(security), config);
  return run.Go();
}

}  // namespace casmem::bench
