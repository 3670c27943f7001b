// Runner implementation: one state machine per agent, all on one thread.
#include "bench/contention/runner.h"
#include "bench/contention/run_stats.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <utility>

#include "bench/contention/app_value.h"
#include "bench/contention/backoff.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// Zipfian key choice over [0, n) by inverse CDF.
class KeyChooser {
 public:
  KeyChooser(int n, bool zipf, double s) : n_(n) {
    if (!zipf || n <= 1) return;
    cdf_.resize(static_cast<size_t>(n));
    double sum = 0;
    for (int i = 0; i < n; ++i) cdf_[static_cast<size_t>(i)] = (sum += 1.0 / std::pow(i + 1, s));
    for (double& c : cdf_) c /= sum;
  }
  int Pick(std::mt19937_64& rng) const {
    if (n_ <= 1) return 0;
    if (cdf_.empty()) return static_cast<int>(rng() % static_cast<uint64_t>(n_));
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  int n_;
  std::vector<double> cdf_;
};

class Run_ {
 public:
  Run_(Driver& driver, const RunConfig& cfg)
      : driver_(driver),
        cfg_(cfg),
        chooser_(cfg.keys, cfg.zipfian, cfg.zipf_s),
        progress_timer_(io_),
        stop_timer_(io_) {}

  RunResult Go();

 private:
  struct Agent {
    int id = 0;
    std::unique_ptr<Connection> conn;
    std::mt19937_64 rng;
    std::unique_ptr<asio::steady_timer> timer;
    uint64_t commits = 0;
    // The operation in progress.
    int key = 0;
    uint64_t op_start = 0, step_start = 0;
    int retries = 0;
    uint64_t version = 0;
    AppValue value;
    int create_next = 0;
    uint64_t seq = 0;  // operations started (names Idempotency-Keys)
    bool jittered = false;  // --send-jitter: this request's pause is over
  };

  std::string KeyName(int i) const { return cfg_.key_prefix + "-" + std::to_string(i); }
  bool Measuring(uint64_t t) const { return t >= measure_start_ && (stop_at_ == 0 || t <= stop_at_); }
  bool single_key() const { return cfg_.keys == 1 && (cfg_.workload == "cas" || cfg_.workload == "lww"); }
  bool server_update() const { return cfg_.workload == "patch" || cfg_.workload == "txn"; }

  void ConnectAll(std::function<void()> then);
  void Seed(std::function<void()> then);
  void SeedNext(Agent& a);
  void SeedKey(Agent& a, int k);
  void StartOp(Agent& a);
  bool Jitter(Agent& a, void (Run_::*step)(Agent&));
  void DoRead(Agent& a);
  void DoWrite(Agent& a);
  void DoUpdate(Agent& a);
  void Fsyncs(std::function<void(std::optional<uint64_t>)> then);
  void CheckFinalValues();
  void Retry(Agent& a, bool reread);
  void Finish(Agent& a);
  void Error(Agent& a, const std::string& what, Refusal refusal = Refusal::kNone, double retry_after_s = 0);
  void RefuseAll(Refusal refusal);
  void Committed(Agent& a, uint64_t t);
  void FinalCheck(std::function<void()> then);
  void Progress();

  Driver& driver_;
  const RunConfig cfg_;
  asio::io_context io_;
  KeyChooser chooser_;
  asio::steady_timer progress_timer_;
  asio::steady_timer stop_timer_;  // ends a --seconds run
  std::vector<Agent> agents_;
  History history_;
  RunResult result_;
  uint64_t measure_start_ = 0, stop_at_ = 0, measured_commits_ = 0;
  // Requests the server answered with anything but a 401 / 403 / 429 (a
  // read, a commit, a 409): while 0, a 401 or 403 means every request is
  // being refused.
  uint64_t answered_ = 0;
  bool stopping_ = false;
  int running_ = 0;
  std::vector<double> latencies_ms_;
  std::vector<double> retries_;
  uint64_t total_commits_ = 0;            // warm-up included (for the counter check)
  std::vector<uint64_t> create_winners_;  // create: winners per key
  std::vector<int> create_tried_;         // create: agents that tried each key
  int seed_next_ = 0, seed_active_ = 0;
  std::function<void()> seed_then_;
  int64_t final_counter_sum_ = 0;
  // patch / txn bookkeeping, whole run: per key the acknowledged counter
  // change and the changes in doubt; per agent (patch) its acknowledged
  // and in-doubt updates.
  std::vector<int64_t> acked_, doubt_up_, doubt_down_;
  std::vector<int64_t> agent_acked_, agent_doubt_;
  std::vector<std::optional<AppValue>> final_values_;
  std::optional<uint64_t> fsyncs_before_;
};

void Run_::ConnectAll(std::function<void()> then) {
  agents_.resize(static_cast<size_t>(cfg_.agents));
  auto pending = std::make_shared<int>(cfg_.agents);
  auto failed = std::make_shared<std::string>();
  for (int i = 0; i < cfg_.agents; ++i) {
    Agent& a = agents_[static_cast<size_t>(i)];
    a.id = i;
    a.rng.seed(0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i + 1) ^ static_cast<uint64_t>(getpid()));
    a.timer = std::make_unique<asio::steady_timer>(io_);
    driver_.Connect(io_, [this, &a, pending, failed, then](std::unique_ptr<Connection> c, std::string err) {
      if (!c && failed->empty()) *failed = err;
      a.conn = std::move(c);
      if (--*pending == 0) {
        if (!failed->empty()) {
          result_.errors["connect: " + *failed]++;
          return;
        }
        then();
      }
    });
  }
}

// cas / lww / read / txn: every key starts as {"counter":0,"agents":[]};
// patch: {"counter":0,"agents":[-1 x 64]}.
void Run_::Seed(std::function<void()> then) {
  if (cfg_.workload == "create" || cfg_.workload == "write") return then();
  seed_then_ = std::move(then);
  seed_active_ = static_cast<int>(agents_.size());
  for (Agent& a : agents_) SeedNext(a);
}

void Run_::SeedNext(Agent& a) {
  if (seed_next_ >= cfg_.keys) {
    if (--seed_active_ == 0) seed_then_();
    return;
  }
  SeedKey(a, seed_next_++);
}

void Run_::SeedKey(Agent& a, int k) {
  const AppValue seed = cfg_.workload == "patch" ? AppValue::PatchSeed() : AppValue{};
  a.conn->Write(KeyName(k), seed.ToJson(), std::nullopt, [this, &a, k](WriteResult w) {
    if (w.kind == WriteResult::kCommitted) {
      ++answered_;
      return SeedNext(a);
    }
    result_.errors[w.refusal != Refusal::kNone ? w.error : "seed: " + w.error]++;
    if (w.refusal == Refusal::kRateLimited && !stopping_) {
      a.timer->expires_after(std::chrono::nanoseconds(static_cast<int64_t>(w.retry_after_s * 1e9)));
      a.timer->async_wait([this, &a, k](boost::system::error_code) {
        if (stopping_) return SeedNext(a);
        SeedKey(a, k);
      });
      return;
    }
    if (IsAuthRefusal(w.refusal) && answered_ == 0) RefuseAll(w.refusal);
    SeedNext(a);
  });
}

void Run_::StartOp(Agent& a) {
  if (stopping_) return Finish(a);
  a.op_start = NowNs();
  a.retries = 0;
  const std::string& w = cfg_.workload;
  if (w == "create") {
    if (a.create_next >= cfg_.keys) return Finish(a);
    a.key = a.create_next++;
    create_tried_[static_cast<size_t>(a.key)]++;
    a.value = AppValue{}.Updated(a.id);
    a.version = 0;
    return DoWrite(a);
  }
  a.key = chooser_.Pick(a.rng);
  if (server_update()) return DoUpdate(a);
  if (w == "write") {
    a.value = AppValue{}.Updated(a.id);
    return DoWrite(a);
  }
  DoRead(a);
}

// --send-jitter: instead of sending at once, the agent pauses U(0, J) µs
// and then sends; returns true when it did pause (the step runs later).
// This stands in for the scheduling of independent client processes:
// without it, the responses one fsync releases are handled in one loop
// turn, in the order epoll reports them, and each agent's next request
// leaves in that order, every time.
bool Run_::Jitter(Agent& a, void (Run_::*step)(Agent&)) {
  if (cfg_.send_jitter_us <= 0 || std::exchange(a.jittered, false)) return false;
  a.jittered = true;
  const double us = std::uniform_real_distribution<double>(0, cfg_.send_jitter_us)(a.rng);
  a.timer->expires_after(std::chrono::nanoseconds(static_cast<int64_t>(us * 1000)));
  a.timer->async_wait([this, &a, step](boost::system::error_code) {
    if (stopping_) {
      a.jittered = false;
      return Finish(a);
    }
    (this->*step)(a);
  });
  return true;
}

void Run_::DoRead(Agent& a) {
  if (Jitter(a, &Run_::DoRead)) return;
  a.step_start = NowNs();
  a.conn->Read(KeyName(a.key), [this, &a](ReadResult r) {
    const uint64_t now = NowNs();
    if (!r.ok) return Error(a, r.error, r.refusal, r.retry_after_s);
    ++answered_;
    if (cfg_.workload == "read") {
      if (r.version == 0) return Error(a, "read: key absent");
      return Committed(a, now);
    }
    if (single_key() && cfg_.workload == "cas") history_.AddRead({a.step_start, now, r.version});
    auto v = AppValue::FromJson(r.value);
    if (r.version == 0 || !v) return Error(a, r.version == 0 ? "read: key absent" : "read: value is not the benchmark's");
    a.version = r.version;
    a.value = *v;
    DoWrite(a);
  });
}

void Run_::DoWrite(Agent& a) {
  if (Jitter(a, &Run_::DoWrite)) return;
  const std::string& w = cfg_.workload;
  std::optional<uint64_t> guard;
  std::string body;
  if (w == "cas") {
    guard = a.version;
    body = a.value.Updated(a.id).ToJson();
  } else if (w == "lww") {
    body = a.value.Updated(a.id).ToJson();
  } else if (w == "create") {
    guard = 0;
    body = a.value.ToJson();
  } else {  // write
    body = a.value.ToJson();
  }
  a.step_start = NowNs();
  if (Measuring(a.step_start)) ++result_.attempts;
  a.conn->Write(KeyName(a.key), body, guard, [this, &a](WriteResult r) {
    const uint64_t now = NowNs();
    const std::string& w = cfg_.workload;
    switch (r.kind) {
      case WriteResult::kCommitted:
        if (w == "cas" && single_key()) {
          history_.AddCommit({a.step_start, now, a.version, r.version, a.id});
        }
        if (w == "create") create_winners_[static_cast<size_t>(a.key)]++;
        ++total_commits_;
        return Committed(a, now);
      case WriteResult::kConflict:
        ++answered_;
        if (Measuring(now)) ++result_.conflicts;
        if (w == "create") return StartOp(a);  // someone else seeded it: next key
        if (w != "cas") return Error(a, "write: unexpected 409");
        if (single_key() && r.has_current) history_.AddRead({a.step_start, now, r.current_version});
        ++a.retries;
        if (!cfg_.retry_read && r.has_current && r.current_version > 0) {
          auto v = AppValue::FromJson(r.current_value);
          if (v) {
            a.version = r.current_version;
            a.value = *v;
            return Retry(a, false);
          }
        }
        return Retry(a, true);
      case WriteResult::kError:
        return Error(a, r.error, r.refusal, r.retry_after_s);
    }
  });
}

// patch / txn: one driver call per operation; its retries (etcd's loop)
// count as conflicts. What was acknowledged, and what is in doubt, goes
// into the per-key and per-agent tallies the final check compares with.
void Run_::DoUpdate(Agent& a) {
  OpOptions opts;
  if (cfg_.idempotency_keys || cfg_.drop_responses > 0) {
    opts.idempotency_key = cfg_.key_prefix + "-a" + std::to_string(a.id) + "-" + std::to_string(a.seq);
  }
  ++a.seq;
  opts.drop_response =
      cfg_.drop_responses > 0 && std::uniform_real_distribution<double>(0, 1)(a.rng) < cfg_.drop_responses;
  a.step_start = NowNs();
  const bool patch = cfg_.workload == "patch";
  const int64_t delta = a.id % 2 == 0 ? 1 : -1;  // txn: from the first key to the second, or back
  auto done = [this, &a, patch, delta](WriteResult r) {
    const uint64_t now = NowNs();
    if (Measuring(now)) {
      result_.attempts += static_cast<uint64_t>(r.attempts);
      result_.conflicts += static_cast<uint64_t>(r.attempts - 1);
    }
    a.retries = r.attempts - 1;
    result_.dropped += r.dropped;
    result_.replays += r.replayed;
    result_.in_progress += static_cast<uint64_t>(r.in_progress);
    const auto k = static_cast<size_t>(a.key);
    const auto id = static_cast<size_t>(a.id);
    switch (r.kind) {
      case WriteResult::kCommitted:
        if (patch) {
          acked_[k] += 1;
          agent_acked_[id] += 1;
        } else {
          acked_[0] -= delta;
          acked_[1] += delta;
        }
        ++total_commits_;
        return Committed(a, now);
      case WriteResult::kConflict:  // refused: nothing written
        ++answered_;
        return Error(a, "unexpected 409: " + r.error);
      case WriteResult::kError:
        if (r.refused) return Error(a, r.error, r.refusal, r.retry_after_s);
        ++result_.in_doubt;
        if (patch) {
          doubt_up_[k] += 1;
          agent_doubt_[id] += 1;
        } else {
          (delta > 0 ? doubt_down_[0] : doubt_up_[0]) += 1;
          (delta > 0 ? doubt_up_[1] : doubt_down_[1]) += 1;
        }
        return Error(a, r.error);
    }
  };
  if (patch) {
    a.conn->Patch(KeyName(a.key), a.id, !cfg_.patch_grow, opts, done);
  } else {
    a.key = 0;
    a.conn->Move(KeyName(0), KeyName(1), delta, opts, done);
  }
}

// With backoff the retry always re-reads: after a sleep the 409's current
// value is as old as the sleep, and retrying from it would lose again to
// every commit made meanwhile (it did: one agent took nearly every commit,
// the others retried stale versions with ever longer sleeps). A client
// library that retries "the operation" re-runs its read-modify-write.
void Run_::Retry(Agent& a, bool reread) {
  if (stopping_) return Finish(a);
  if (!cfg_.exp_backoff) return reread ? DoRead(a) : DoWrite(a);
  const double ms = std::uniform_real_distribution<double>(
      0, BackoffCeilingMs(cfg_.backoff_base_ms, cfg_.backoff_max_ms, a.retries))(a.rng);
  a.timer->expires_after(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
  a.timer->async_wait([this, &a](boost::system::error_code) {
    if (stopping_) return Finish(a);
    DoRead(a);
  });
}

void Run_::Committed(Agent& a, uint64_t now) {
  ++answered_;
  if (Measuring(now)) {
    ++a.commits;
    ++measured_commits_;
    latencies_ms_.push_back(static_cast<double>(now - a.op_start) / 1e6);
    retries_.push_back(a.retries);
    if (cfg_.ops > 0 && measured_commits_ >= cfg_.ops && !stopping_) {
      stopping_ = true;
      stop_at_ = now;
    }
  }
  StartOp(a);
}

// A failed operation: counted by its error (a refusal by its class), then
// the agent pauses and starts the next one: 10 ms, or after a 429 the
// Retry-After the server asked for (capped, refusal.h; the end of the run
// cuts it short). A 401 or 403 before the server has answered anything
// else ends the run: it has no result (RunResult::refused).
void Run_::Error(Agent& a, const std::string& what, Refusal refusal, double retry_after_s) {
  result_.errors[what]++;
  if (IsAuthRefusal(refusal) && answered_ == 0) RefuseAll(refusal);
  if (stopping_) return Finish(a);
  // Do not hammer a failing server: pause before the next operation.
  if (refusal == Refusal::kRateLimited) {
    a.timer->expires_after(std::chrono::nanoseconds(static_cast<int64_t>(retry_after_s * 1e9)));
  } else {
    a.timer->expires_after(std::chrono::milliseconds(10));
  }
  a.timer->async_wait([this, &a](boost::system::error_code) { StartOp(a); });
}

void Run_::RefuseAll(Refusal refusal) {
  if (!result_.refused.empty()) return;
  result_.refused = RefusalName(refusal);
  seed_next_ = cfg_.keys;  // no more seeding
  if (!stopping_) {
    stopping_ = true;
    stop_at_ = NowNs();
  }
  stop_timer_.cancel();
  for (Agent& a : agents_) a.timer->cancel();
}

void Run_::Finish(Agent& a) {
  (void)a;
  if (--running_ == 0) {  // every agent is done (stopped, or out of keys to create)
    progress_timer_.cancel();
    stop_timer_.cancel();
    if (!result_.refused.empty()) return;  // no final read: it would be refused too
    Fsyncs([this](std::optional<uint64_t> after) {
      if (fsyncs_before_ && after && *after >= *fsyncs_before_) {
        result_.fsyncs_known = true;
        result_.fsyncs = *after - *fsyncs_before_;
      }
      FinalCheck([] {});
    });
  }
}

// The server's sync count, read on agent 0's connection while it is idle
// (before the agents start, after they have all finished).
void Run_::Fsyncs(std::function<void(std::optional<uint64_t>)> then) {
  if (agents_.empty() || !agents_[0].conn) return then(std::nullopt);
  agents_[0].conn->FsyncCount(std::move(then));
}

// Reads every key back: the counters must add up to the initial values
// plus the acknowledged updates (lost updates otherwise).
void Run_::FinalCheck(std::function<void()> then) {
  if (cfg_.workload != "cas" && cfg_.workload != "lww" && !server_update()) return then();
  final_values_.assign(static_cast<size_t>(cfg_.keys), std::nullopt);
  auto next = std::make_shared<int>(0);
  auto step = std::make_shared<std::function<void()>>();
  Agent& a = agents_[0];
  *step = [this, next, step, &a, then] {
    if (*next >= cfg_.keys) {
      *step = nullptr;  // break the self-reference
      return then();
    }
    const int k = (*next)++;
    a.conn->Read(KeyName(k), [this, next, step, &a, k](ReadResult r) {
      if (r.refusal == Refusal::kRateLimited) {  // wait, then read key k again
        result_.errors[r.error]++;
        --*next;
        a.timer->expires_after(std::chrono::nanoseconds(static_cast<int64_t>(r.retry_after_s * 1e9)));
        a.timer->async_wait([step](boost::system::error_code) {
          auto s = *step;
          s();
        });
        return;
      }
      auto v = r.ok ? AppValue::FromJson(r.value) : std::nullopt;
      if (!v) {
        result_.errors["final read: " + (r.ok ? std::string("unreadable value") : r.error)]++;
        result_.final_read_ok = false;
      } else {
        final_counter_sum_ += v->counter;
        final_values_[static_cast<size_t>(k)] = v;
      }
      auto s = *step;
      s();
    });
  };
  (*step)();
}

// patch / txn: the final values against the tallies (history.h).
void Run_::CheckFinalValues() {
  result_.history_checked = true;
  std::vector<std::vector<int>> lists;
  std::vector<int64_t> applied;
  for (int k = 0; k < cfg_.keys; ++k) {
    const auto i = static_cast<size_t>(k);
    const AppValue& v = *final_values_[i];
    result_.final_counters.push_back(v.counter);
    CounterCheck c;
    c.key = KeyName(k);
    c.acknowledged = acked_[i];
    c.doubt_up = doubt_up_[i];
    c.doubt_down = doubt_down_[i];
    for (auto& x : CheckCounter(c, v.counter)) result_.violations.push_back(std::move(x));
    lists.emplace_back(v.agents.begin(), v.agents.end());
    applied.push_back(v.counter);
  }
  if (cfg_.workload == "txn") {
    for (auto& x : CheckConserved(0, result_.final_counters[0] + result_.final_counters[1])) {
      result_.violations.push_back(std::move(x));
    }
    return;
  }
  AgentListCheck lc;
  lc.initial_length = AppValue::kPatchAgents;
  lc.bounded = !cfg_.patch_grow;
  lc.acknowledged = agent_acked_;
  lc.in_doubt = agent_doubt_;
  for (auto& x : CheckAgentLists(lc, lists, applied)) result_.violations.push_back(std::move(x));
}

void Run_::Progress() {
  progress_timer_.expires_after(std::chrono::seconds(1));
  progress_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || running_ == 0) return;
    const double t = static_cast<double>(NowNs() - measure_start_) / 1e9;
    std::fprintf(stderr, "\r[%6.1fs] %s %d agents: %llu commits (%.0f/s), %llu 409s   ", t,
                 cfg_.workload.c_str(), cfg_.agents, static_cast<unsigned long long>(measured_commits_),
                 t > 0 ? static_cast<double>(measured_commits_) / t : 0.0,
                 static_cast<unsigned long long>(result_.conflicts));
    Progress();
  });
}

RunResult Run_::Go() {
  result_.system = driver_.name();
  result_.workload = cfg_.workload;
  result_.agents = cfg_.agents;
  result_.keys = cfg_.keys;
  create_winners_.assign(static_cast<size_t>(cfg_.keys), 0);
  create_tried_.assign(static_cast<size_t>(cfg_.keys), 0);
  for (auto* v : {&acked_, &doubt_up_, &doubt_down_}) v->assign(static_cast<size_t>(cfg_.keys), 0);
  for (auto* v : {&agent_acked_, &agent_doubt_}) v->assign(static_cast<size_t>(cfg_.agents), 0);
  ConnectAll([&] {
    Seed([&] { Fsyncs([&](std::optional<uint64_t> before) {
      fsyncs_before_ = before;
      const uint64_t now = NowNs();
      measure_start_ = now + static_cast<uint64_t>(cfg_.warmup_seconds * 1e9);
      running_ = static_cast<int>(agents_.size());
      if (cfg_.ops == 0) {
        stop_timer_.expires_after(std::chrono::nanoseconds(
            static_cast<int64_t>((cfg_.warmup_seconds + cfg_.seconds) * 1e9)));
        stop_timer_.async_wait([&](boost::system::error_code ec) {
          if (ec || stopping_) return;
          stopping_ = true;
          stop_at_ = NowNs();
          for (Agent& a : agents_) a.timer->cancel();  // wake agents in backoff
        });
      }
      if (cfg_.progress) Progress();
      for (Agent& a : agents_) StartOp(a);
    }); });
  });
  io_.run();

  // Summaries.
  const uint64_t end = stop_at_ ? stop_at_ : NowNs();
  // measure_start_ stays 0 when the run never began (a connect failed).
  result_.seconds = measure_start_ != 0 && end > measure_start_
                        ? static_cast<double>(end - measure_start_) / 1e9
                        : 0;
  result_.commits = measured_commits_;
  const double secs = std::max(result_.seconds, 1e-9);
  result_.commits_per_s = static_cast<double>(result_.commits) / secs;
  result_.attempts_per_s = static_cast<double>(result_.attempts) / secs;
  result_.conflicts_per_s = static_cast<double>(result_.conflicts) / secs;
  if (!retries_.empty()) {
    double sum = 0;
    for (double r : retries_) sum += r;
    result_.retries_mean = sum / static_cast<double>(retries_.size());
    result_.retries_max = *std::max_element(retries_.begin(), retries_.end());
    result_.retries_p99 = Percentile(retries_, 0.99);
  }
  FillLatencies(latencies_ms_, &result_);
  std::vector<uint64_t> per_agent;
  for (const Agent& a : agents_) per_agent.push_back(a.commits);
  FillAgentSpread(std::move(per_agent), &result_);
  result_.updates = total_commits_;
  if (!result_.refused.empty()) {  // refused from the start: no verdict, no rates
    result_.final_read_ok = false;
    result_.commits_per_s = result_.attempts_per_s = result_.conflicts_per_s = 0;
    if (cfg_.progress) std::fprintf(stderr, "\n");
    return result_;
  }
  if (result_.fsyncs_known && result_.fsyncs > 0) {
    result_.updates_per_fsync = static_cast<double>(total_commits_) / static_cast<double>(result_.fsyncs);
  }
  if (server_update() && result_.final_read_ok) CheckFinalValues();
  const bool counted =
      (cfg_.workload == "cas" || cfg_.workload == "lww" || cfg_.workload == "patch") && result_.final_read_ok;
  if (counted) result_.lost_updates = static_cast<int64_t>(total_commits_) - final_counter_sum_;
  if (cfg_.workload == "cas") {
    if (single_key()) {
      result_.history_checked = true;
      result_.violations =
          history_.Check(0, counted ? std::optional<int64_t>(final_counter_sum_) : std::nullopt);
    } else if (counted && result_.lost_updates != 0) {
      result_.violations.push_back({"lost-update", std::to_string(result_.lost_updates) +
                                                       " acknowledged updates are missing"});
    }
  }
  if (cfg_.workload == "create") {
    for (int k = 0; k < cfg_.keys; ++k) {
      if (create_tried_[static_cast<size_t>(k)] != cfg_.agents) continue;  // not every agent got there
      ++result_.create_keys;
      if (create_winners_[static_cast<size_t>(k)] != 1) {
        ++result_.create_bad_keys;
        result_.violations.push_back({"create-winners", "key " + KeyName(k) + " had " +
                                                            std::to_string(create_winners_[static_cast<size_t>(k)]) +
                                                            " winners"});
      }
    }
  }
  if (cfg_.progress) std::fprintf(stderr, "\n");
  return result_;
}

}  // namespace

RunResult Run(Driver& driver, const RunConfig& config) {
  Run_ run(driver, config);
  return run.Go();
}

}  // namespace casmem::bench
