// casmem-bench: N agents contending on K keys of casmem (or a peer), with
// a history check on single-key runs; or (--workload watch) writers and
// watchers of the change feed (watch_runner.h). Exit status: 0 clean; 1
// usage error, or no verdict (a connection could not be opened, or the
// final values could not be read back); 2 a correctness violation (watch:
// a change missing, duplicated, out of order or never acknowledged, or a
// watcher disconnected).
//
// A run whose requests were refused with 401 or 403 from the first on
// ends at once with a message and status 1 (no verdict).
//
//   casmem-bench --target casmem://127.0.0.1:7070 --workload cas --agents 64 --keys 1
//   casmem-bench --workload watch --agents 16 --watchers 100 --rate 5000 --seconds 10
//   CASMEM_TOKEN=... casmem-bench --target https://db.example:7443 --workload read
//   casmem-bench --target https://127.0.0.1:7443 --cacert cert.pem --workload handshake
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/contention/driver.h"
#include "bench/contention/handshake.h"
#include "bench/contention/options.h"
#include "bench/contention/peers.h"
#include "bench/contention/runner.h"
#include "bench/contention/watch_runner.h"
#include "net/json_body.h"

using namespace casmem::bench;

namespace {

std::string ErrorsText(const RunResult& r) {
  std::string out;
  for (const auto& [k, v] : r.errors) out += (out.empty() ? "" : "; ") + k + " x" + std::to_string(v);
  return out.empty() ? "none" : out;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

void PrintTable(const RunResult& r) {
  std::printf("system %s  workload %s  agents %d  keys %d  measured %.1f s\n", r.system.c_str(),
              r.workload.c_str(), r.agents, r.keys, r.seconds);
  if (!r.refused.empty()) {
    std::printf("  refused        every request: %s\n  errors         %s\n", r.refused.c_str(), ErrorsText(r).c_str());
    return;
  }
  if (r.workload == "handshake") {
    std::printf("  connections    %10.0f /s   (%llu; each a connect%s + GET /healthz)\n", r.commits_per_s,
                static_cast<unsigned long long>(r.commits), r.system == "casmem-tls" ? " + TLS handshake" : "");
    std::printf("  latency        p50 %.2f ms  p90 %.2f  p99 %.2f  p999 %.2f  max %.2f\n", r.lat_p50_ms, r.lat_p90_ms,
                r.lat_p99_ms, r.lat_p999_ms, r.lat_max_ms);
    std::printf("  errors         %s\n", ErrorsText(r).c_str());
    return;
  }
  std::printf("  committed      %10.0f /s   (%llu)\n", r.commits_per_s, static_cast<unsigned long long>(r.commits));
  std::printf("  attempts       %10.0f /s\n", r.attempts_per_s);
  std::printf("  409s           %10.0f /s\n", r.conflicts_per_s);
  std::printf("  retries/commit mean %.2f  p99 %.0f  max %.0f\n", r.retries_mean, r.retries_p99, r.retries_max);
  std::printf("  commit latency p50 %.2f ms  p90 %.2f  p99 %.2f  p999 %.2f  max %.2f\n", r.lat_p50_ms,
              r.lat_p90_ms, r.lat_p99_ms, r.lat_p999_ms, r.lat_max_ms);
  std::printf("  per agent      min %llu  median %llu  max %llu commits; %d of %d agents with none\n",
              static_cast<unsigned long long>(r.agent_min), static_cast<unsigned long long>(r.agent_median),
              static_cast<unsigned long long>(r.agent_max), r.agents_zero, r.agents);
  if (r.workload == "cas" || r.workload == "lww") {
    if (r.final_read_ok) {
      std::printf("  lost updates   %lld\n", static_cast<long long>(r.lost_updates));
    } else {
      std::printf("  lost updates   unknown: the final values could not be read\n");
    }
  }
  if (r.workload == "create") {
    std::printf("  create         %llu keys raced, %llu without exactly one winner\n",
                static_cast<unsigned long long>(r.create_keys), static_cast<unsigned long long>(r.create_bad_keys));
  }
  if (r.workload == "patch" || r.workload == "txn") {
    if (r.final_read_ok) {
      std::printf("  final counters");
      for (int64_t c : r.final_counters) std::printf(" %lld", static_cast<long long>(c));
      std::printf("  (%llu updates acknowledged, %llu in doubt)\n", static_cast<unsigned long long>(r.updates),
                  static_cast<unsigned long long>(r.in_doubt));
    } else {
      std::printf("  final counters unknown: the final values could not be read\n");
    }
    if (r.dropped || r.replays || r.in_progress) {
      std::printf("  retries        %llu answers dropped, %llu replays, %llu \"request in progress\"\n",
                  static_cast<unsigned long long>(r.dropped), static_cast<unsigned long long>(r.replays),
                  static_cast<unsigned long long>(r.in_progress));
    }
  }
  if (r.fsyncs_known) {
    std::printf("  fsyncs         %llu for %llu updates (warm-up included): %.1f updates per fsync\n",
                static_cast<unsigned long long>(r.fsyncs), static_cast<unsigned long long>(r.updates),
                r.updates_per_fsync);
  }
  std::printf("  errors         %s\n", ErrorsText(r).c_str());
  if (r.history_checked) std::printf("  history        checked: %zu violations\n", r.violations.size());
  for (const auto& v : r.violations) std::printf("  VIOLATION %s: %s\n", v.rule.c_str(), v.detail.c_str());
}

// The lost-update count, or `unknown` when the final values were not read.
std::string LostUpdatesText(const RunResult& r, const char* unknown) {
  return r.final_read_ok ? std::to_string(r.lost_updates) : unknown;
}

std::string UpdatesPerFsync(const RunResult& r, const char* unknown) {
  if (!r.fsyncs_known || r.fsyncs == 0) return unknown;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", r.updates_per_fsync);
  return buf;
}

std::string FinalCounters(const RunResult& r) {
  if (!r.final_read_ok || r.final_counters.empty()) return "null";
  std::string out = "[";
  for (size_t i = 0; i < r.final_counters.size(); ++i) {
    out += (i ? "," : "") + std::to_string(r.final_counters[i]);
  }
  return out + "]";
}

void PrintJson(const RunResult& r) {
  std::printf(
      "{\"system\":%s,\"workload\":%s,\"agents\":%d,\"keys\":%d,\"seconds\":%.3f,"
      "\"commits\":%llu,\"commits_per_s\":%.1f,\"attempts_per_s\":%.1f,\"conflicts_per_s\":%.1f,"
      "\"retries_mean\":%.3f,\"retries_p99\":%.0f,\"retries_max\":%.0f,"
      "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},"
      "\"agent_commits\":{\"min\":%llu,\"median\":%llu,\"max\":%llu,\"zero\":%d},\"lost_updates\":%s,"
      "\"create_keys\":%llu,\"create_bad_keys\":%llu,\"history_checked\":%s,\"errors\":%s,"
      "\"updates\":%llu,\"fsyncs\":%s,\"updates_per_fsync\":%s,\"dropped\":%llu,\"replays\":%llu,"
      "\"in_progress\":%llu,\"in_doubt\":%llu,\"final_counters\":%s,\"refused\":%s,\"violations\":[",
      JsonString(r.system).c_str(), JsonString(r.workload).c_str(), r.agents, r.keys, r.seconds,
      static_cast<unsigned long long>(r.commits), r.commits_per_s, r.attempts_per_s, r.conflicts_per_s,
      r.retries_mean, r.retries_p99, r.retries_max, r.lat_p50_ms, r.lat_p90_ms, r.lat_p99_ms,
      r.lat_p999_ms, r.lat_max_ms, static_cast<unsigned long long>(r.agent_min),
      static_cast<unsigned long long>(r.agent_median), static_cast<unsigned long long>(r.agent_max),
      r.agents_zero, LostUpdatesText(r, "null").c_str(), static_cast<unsigned long long>(r.create_keys),
      static_cast<unsigned long long>(r.create_bad_keys), r.history_checked ? "true" : "false",
      JsonString(ErrorsText(r)).c_str(), static_cast<unsigned long long>(r.updates),
      r.fsyncs_known ? std::to_string(r.fsyncs).c_str() : "null", UpdatesPerFsync(r, "null").c_str(),
      static_cast<unsigned long long>(r.dropped), static_cast<unsigned long long>(r.replays),
      static_cast<unsigned long long>(r.in_progress), static_cast<unsigned long long>(r.in_doubt),
      FinalCounters(r).c_str(), r.refused.empty() ? "null" : JsonString(r.refused).c_str());
  for (size_t i = 0; i < r.violations.size(); ++i) {
    std::printf("%s{\"rule\":%s,\"detail\":%s}", i ? "," : "", JsonString(r.violations[i].rule).c_str(),
                JsonString(r.violations[i].detail).c_str());
  }
  std::printf("]}\n");
}

void PrintCsv(const RunResult& r, bool header) {
  if (header) {
    std::printf("system,workload,agents,keys,seconds,commits_per_s,attempts_per_s,conflicts_per_s,"
                "retries_mean,retries_p99,lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_max_ms,"
                "agent_min,agent_median,agent_max,lost_updates,violations,errors,updates_per_fsync,agents_zero\n");
  }
  std::printf("%s,%s,%d,%d,%.3f,%.1f,%.1f,%.1f,%.3f,%.0f,%.3f,%.3f,%.3f,%.3f,%.3f,%llu,%llu,%llu,%s,%zu,%s,%s,%d\n",
              r.system.c_str(), r.workload.c_str(), r.agents, r.keys, r.seconds, r.commits_per_s,
              r.attempts_per_s, r.conflicts_per_s, r.retries_mean, r.retries_p99, r.lat_p50_ms, r.lat_p90_ms,
              r.lat_p99_ms, r.lat_p999_ms, r.lat_max_ms, static_cast<unsigned long long>(r.agent_min),
              static_cast<unsigned long long>(r.agent_median), static_cast<unsigned long long>(r.agent_max),
              LostUpdatesText(r, "").c_str(), r.violations.size(),
              JsonString(ErrorsText(r)).c_str(), UpdatesPerFsync(r, "").c_str(), r.agents_zero);
}

void RaiseFdLimit() {
  rlimit fds;
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    setrlimit(RLIMIT_NOFILE, &fds);
  }
}

// Says so on stderr when access control refused requests (the error and
// notice counts carry the refusal classes, refusal.h); true when a 401 or
// 403 did.
bool RefusedMessage(const std::map<std::string, uint64_t>& errors,
                    const std::map<std::string, uint64_t>& notices = {}) {
  bool unauthorized = false, forbidden = false;
  for (const auto* m : {&errors, &notices}) {
    for (const auto& [k, v] : *m) {
      unauthorized = unauthorized || k.find("unauthorized") != std::string::npos;
      forbidden = forbidden || k.find("forbidden") != std::string::npos;
    }
  }
  if (unauthorized) {
    std::fprintf(stderr, "casmem-bench: the server refused the requests: 401 unauthorized (no token, or an "
                         "unknown or revoked one): pass a valid token with --token or CASMEM_TOKEN\n");
  }
  if (forbidden) {
    std::fprintf(stderr, "casmem-bench: the server refused the requests: 403 forbidden (the token's workspace "
                         "or role does not allow them)\n");
  }
  return unauthorized || forbidden;
}

// --workload watch: exit 0 clean, 1 no verdict, 2 violations (see the top).
int RunWatchMain(const std::string& target, const std::string& workspace, const ClientOptions& client,
                 const RunConfig& cfg, WatchConfig w, bool keys_given, const std::string& format, bool header) {
  std::string error;
  std::unique_ptr<WatchTarget> t = MakeWatchTarget(target, workspace, &error, client);
  if (!t) {
    std::fprintf(stderr, "casmem-bench: %s\n", error.c_str());
    return 1;
  }
  // One descriptor per watcher and writer.
  RaiseFdLimit();
  rlimit fds;
  const auto need = static_cast<rlim_t>(w.watchers + w.idle_watchers + cfg.agents + 64);
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < need) {
    std::fprintf(stderr, "casmem-bench: %d connections need an open-file limit of %llu (ulimit -n is %llu)\n",
                 w.watchers + w.idle_watchers + cfg.agents, static_cast<unsigned long long>(need),
                 static_cast<unsigned long long>(fds.rlim_cur));
    return 1;
  }
  w.writers = cfg.agents;
  w.keys = keys_given ? cfg.keys : 0;
  w.seconds = cfg.seconds;
  w.warmup_seconds = cfg.warmup_seconds;
  w.key_prefix = "watch-" + std::to_string(getpid()) + "-" +
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count());
  WatchResult r = RunWatch(*t, w);
  // Writers refused (401 / 403) before any write: nothing was tested.
  bool refused = false;
  for (const auto& [k, v] : r.errors) refused = refused || k == "unauthorized" || k == "forbidden";
  if (refused && r.writes_total == 0) r.verdict = false;
  PrintWatch(r, format, header);
  if (RefusedMessage(r.errors, r.notices)) return 1;
  if (!r.verdict) return 1;
  return r.clean() ? 0 : 2;
}

void PrintResult(const RunResult& r, const std::string& format, bool header) {
  if (format == "json") PrintJson(r);
  else if (format == "csv") PrintCsv(r, header);
  else PrintTable(r);
}

// --workload handshake: exit 0 when connections completed, 1 otherwise.
int RunHandshakeMain(BenchOptions& o) {
  if (o.cfg.agents < 1 || o.cfg.agents > 1024) {
    std::fprintf(stderr, "casmem-bench: --agents is 1-1024\n");
    return 1;
  }
  std::string error;
  const auto url = ParseTargetUrl(o.target, &error);
  std::optional<std::string> host;
  std::shared_ptr<const ConnSecurity> security;
  if (url) host = ResolveHost(url->host, &error);
  if (host) security = MakeConnSecurity(*url, o.client.token, o.client.tls, &error);
  if (!security) {
    std::fprintf(stderr, "casmem-bench: %s\n", error.c_str());
    return 1;
  }
  RaiseFdLimit();
  RunResult r = RunHandshake(*host, url->port, security, o.cfg);
  if (url->tls) r.system = "casmem-tls";
  PrintResult(r, o.format, o.header);
  if (!r.refused.empty()) {
    RefusedMessage(r.errors);
    return 1;
  }
  if (r.commits == 0) {
    std::fprintf(stderr, "casmem-bench: no connection completed (errors: %s)\n", ErrorsText(r).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  std::string usage_error;
  if (!ParseBenchArgs(argc, argv, std::getenv("CASMEM_TOKEN"), &o, &usage_error)) {
    const bool unknown = usage_error.rfind("unknown option", 0) == 0;
    std::fprintf(stderr, "casmem-bench: %s\n%s", usage_error.c_str(), unknown ? kUsage : "");
    return 1;
  }
  if (o.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  RunConfig& cfg = o.cfg;
  const std::string& format = o.format;
  const bool header = o.header;
  if (cfg.workload == "handshake") return RunHandshakeMain(o);
  if (cfg.workload == "watch") {
    const WatchConfig& wcfg = o.wcfg;
    if (cfg.agents < 1 || cfg.agents > 1024 || wcfg.watchers < 0 || wcfg.idle_watchers < 0 ||
        wcfg.watchers + wcfg.idle_watchers > 100000) {
      std::fprintf(stderr, "casmem-bench: --agents is 1-1024, --watchers + --idle-watchers at most 100000\n");
      return 1;
    }
    return RunWatchMain(o.target, o.workspace, o.client, cfg, o.wcfg, o.keys_given, format, header);
  }
  const std::vector<std::string> workloads = {"cas", "lww", "create", "read", "write", "patch", "txn"};
  if (std::find(workloads.begin(), workloads.end(), cfg.workload) == workloads.end()) {
    std::fprintf(stderr, "casmem-bench: unknown workload %s\n", cfg.workload.c_str());
    return 1;
  }
  if (cfg.agents < 1 || cfg.agents > 1024 || cfg.keys < 1) {
    std::fprintf(stderr, "casmem-bench: --agents is 1-1024 and --keys at least 1\n");
    return 1;
  }
  // `create` is a race for correctness, not a throughput figure: measure
  // from the first request.
  if (cfg.workload == "create") cfg.warmup_seconds = 0;
  if (cfg.workload == "txn") cfg.keys = 2;  // one pair
  // One connection per agent: lift the open-file soft limit.
  RaiseFdLimit();
  std::string error;
  std::unique_ptr<Driver> driver = MakeDriver(o.target, o.workspace, &error, o.client);
  if (!driver) {
    std::fprintf(stderr, "casmem-bench: %s\n", error.c_str());
    return 1;
  }
  if (!driver->Supports(cfg.workload)) {
    std::fprintf(stderr, "casmem-bench: the %s driver has no %s workload\n", driver->name().c_str(),
                 cfg.workload.c_str());
    return 1;
  }
  if ((cfg.drop_responses > 0 || cfg.idempotency_keys) &&
      (driver->name() != "casmem" || (cfg.workload != "patch" && cfg.workload != "txn"))) {
    std::fprintf(stderr, "casmem-bench: --drop-responses and --idempotency-keys are for casmem's patch and txn\n");
    return 1;
  }
  // Fresh keys for every run, so runs never see each other's state.
  cfg.key_prefix = cfg.workload + "-" + std::to_string(getpid()) + "-" +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch()).count());
  cfg.progress = format == "table" && isatty(2);
  const RunResult r = Run(*driver, cfg);
  PrintResult(r, format, header);
  if (!r.refused.empty()) {
    RefusedMessage(r.errors);
    return 1;
  }
  if (!r.violations.empty()) return 2;
  // No verdict: the run could not start, or its final values are unknown.
  for (const auto& [k, v] : r.errors) {
    if (k.rfind("connect", 0) == 0) return 1;
  }
  return r.final_read_ok ? 0 : 1;
}
