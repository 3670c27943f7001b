// casmem-bench: N agents contending on K keys of casmem (or a peer), with
// a history check on single-key runs; or (--workload watch) writers and
// watchers of the change feed (watch_runner.h). Exit status: 0 clean; 1
// usage error, or no verdict (a connection could not be opened, or the
// final values could not be read back); 2 a correctness violation (watch:
// a change missing, duplicated, out of order or never acknowledged, or a
// watcher disconnected).
//
//   casmem-bench --target casmem://127.0.0.1:7070 --workload cas --agents 64 --keys 1
//   casmem-bench --workload watch --agents 16 --watchers 100 --rate 5000 --seconds 10
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/contention/driver.h"
#include "bench/contention/peers.h"
#include "bench/contention/runner.h"
#include "bench/contention/watch_runner.h"
#include "net/json_body.h"

using namespace casmem::bench;

namespace {

const char kUsage[] =
    "usage: casmem-bench [options]\n"
    "  --target URL        casmem://HOST:PORT (default casmem://127.0.0.1:7070),\n"
    "                      redis://HOST:PORT, etcd://HOST:PORT, postgres://CONNINFO\n"
    "  --workload W        cas | lww | create | read | write | patch | txn | watch (default cas)\n"
    "                      patch: one server-side update per operation, no guard\n"
    "                      (counter+1, append the agent, drop the first agent);\n"
    "                      txn: move 1 between the counters of one pair of keys\n"
    "  --agents N          1-1024 agents, one connection each (default 16)\n"
    "  --keys K            keys contended over (default 1)\n"
    "  --zipf S            zipfian key choice with exponent S (default: uniform)\n"
    "  --seconds T         measured time after the warm-up (default 10)\n"
    "  --ops N             stop after N measured operations instead\n"
    "  --warmup T          warm-up seconds, not measured (default 1)\n"
    "  --retry-read        on 409, read again instead of using the 409's current value\n"
    "  --backoff none|exp  retry backoff; exp = full jitter: before the n-th retry of an\n"
    "                      operation sleep U(0, min(max, base * 2^(n-1))), then re-read\n"
    "                      (default none)\n"
    "  --exp-backoff       the same as --backoff exp\n"
    "  --backoff-base MS   base of the exponential backoff (default 0.5)\n"
    "  --backoff-max MS    cap of the exponential backoff (default 50)\n"
    "  --send-jitter US    wait U(0, US) microseconds before each read and write is sent\n"
    "                      (stands in for independent clients' scheduling; default 0)\n"
    "  --workspace WS      casmem workspace (default bench)\n"
    "  --grow              patch: do not drop the first agent (the value grows)\n"
    "  --idempotency-keys  patch/txn: send an Idempotency-Key with every operation\n"
    "  --drop-responses F  patch/txn, casmem: for a fraction F of operations close the\n"
    "                      connection after sending, then resend with the same key\n"
    "watch workload (casmem:// or etcd:// targets): --agents writers make unguarded writes\n"
    "  of --keys keys (default one per writer) while watchers receive the changes\n"
    "  --watchers W        watchers on --watch-prefix (default 0)\n"
    "  --watch-prefix P    what they watch (default the written keys' prefix)\n"
    "  --idle-watchers K   watchers on a prefix nobody writes (must stay connected)\n"
    "  --idle-workspace WS casmem: the idle watchers' workspace (default --workspace's)\n"
    "  --rate R|max        total writes/s (default max: as fast as the writers go)\n"
    "  --duration T        the same as --seconds\n"
    "  --drain T           after the writes, seconds the watchers may take to catch up (default 10)\n"
    "  Latency: a watcher's receipt of the change - its writer's receipt of the 200, one\n"
    "  steady clock; a change received before its 200 counts as 0 ms and as `early`.\n"
    "  --json | --csv      machine-readable output instead of the table\n"
    "  --no-header         with --csv: omit the header line\n";

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
      "\"in_progress\":%llu,\"in_doubt\":%llu,\"final_counters\":%s,\"violations\":[",
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
      FinalCounters(r).c_str());
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

bool ParseDouble(const char* s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s, &end);
  return end != s && *end == '\0' && *out >= 0;
}

void RaiseFdLimit() {
  rlimit fds;
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    setrlimit(RLIMIT_NOFILE, &fds);
  }
}

// --workload watch: exit 0 clean, 1 no verdict, 2 violations (see the top).
int RunWatchMain(const std::string& target, const std::string& workspace, const RunConfig& cfg, WatchConfig w,
                 bool keys_given, const std::string& format, bool header) {
  std::string error;
  std::unique_ptr<WatchTarget> t = MakeWatchTarget(target, workspace, &error);
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
  const WatchResult r = RunWatch(*t, w);
  PrintWatch(r, format, header);
  if (!r.verdict) return 1;
  return r.clean() ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  RunConfig cfg;
  WatchConfig wcfg;
  bool keys_given = false;
  std::string target = "casmem://127.0.0.1:7070", workspace = "bench", format = "table";
  bool header = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "casmem-bench: %s needs a value\n", name);
        std::exit(1);
      }
      return argv[++i];
    };
    auto number = [&](const char* name) {
      double d;
      const char* v = value(name);
      if (!ParseDouble(v, &d)) {
        std::fprintf(stderr, "casmem-bench: bad value '%s' for %s\n", v, name);
        std::exit(1);
      }
      return d;
    };
    if (a == "--target") target = value("--target");
    else if (a == "--workload") cfg.workload = value("--workload");
    else if (a == "--agents") cfg.agents = static_cast<int>(number("--agents"));
    else if (a == "--keys") { cfg.keys = static_cast<int>(number("--keys")); keys_given = true; }
    else if (a == "--zipf") { cfg.zipfian = true; cfg.zipf_s = number("--zipf"); }
    else if (a == "--seconds" || a == "--duration") cfg.seconds = number(a.c_str());
    else if (a == "--watchers") wcfg.watchers = static_cast<int>(number("--watchers"));
    else if (a == "--idle-watchers") wcfg.idle_watchers = static_cast<int>(number("--idle-watchers"));
    else if (a == "--watch-prefix") wcfg.watch_prefix = value("--watch-prefix");
    else if (a == "--idle-workspace") wcfg.idle_workspace = value("--idle-workspace");
    else if (a == "--drain") wcfg.drain_seconds = number("--drain");
    else if (a == "--rate") {
      const std::string v = value("--rate");
      double d = 0;
      if (v != "max" && !ParseDouble(v.c_str(), &d)) { std::fprintf(stderr, "casmem-bench: --rate is a number or max\n"); return 1; }
      wcfg.rate = d;
    }
    else if (a == "--ops") cfg.ops = static_cast<uint64_t>(number("--ops"));
    else if (a == "--warmup") cfg.warmup_seconds = number("--warmup");
    else if (a == "--retry-read") cfg.retry_read = true;
    else if (a == "--backoff") {
      const std::string b = value("--backoff");
      if (b != "none" && b != "exp") { std::fprintf(stderr, "casmem-bench: --backoff is none or exp\n"); return 1; }
      cfg.exp_backoff = b == "exp";
    }
    else if (a == "--exp-backoff") cfg.exp_backoff = true;
    else if (a == "--backoff-base") cfg.backoff_base_ms = number("--backoff-base");
    else if (a == "--backoff-max") cfg.backoff_max_ms = number("--backoff-max");
    else if (a == "--send-jitter") cfg.send_jitter_us = number("--send-jitter");
    else if (a == "--workspace") workspace = value("--workspace");
    else if (a == "--grow") cfg.patch_grow = true;
    else if (a == "--idempotency-keys") cfg.idempotency_keys = true;
    else if (a == "--drop-responses") {
      cfg.drop_responses = number("--drop-responses");
      if (cfg.drop_responses > 1) { std::fprintf(stderr, "casmem-bench: --drop-responses is 0-1\n"); return 1; }
    }
    else if (a == "--json") format = "json";
    else if (a == "--csv") format = "csv";
    else if (a == "--no-header") header = false;
    else if (a == "-h" || a == "--help") { std::fputs(kUsage, stdout); return 0; }
    else { std::fprintf(stderr, "casmem-bench: unknown option %s\n%s", a.c_str(), kUsage); return 1; }
  }
  if (cfg.workload == "watch") {
    if (cfg.agents < 1 || cfg.agents > 1024 || wcfg.watchers < 0 || wcfg.idle_watchers < 0 ||
        wcfg.watchers + wcfg.idle_watchers > 100000) {
      std::fprintf(stderr, "casmem-bench: --agents is 1-1024, --watchers + --idle-watchers at most 100000\n");
      return 1;
    }
    return RunWatchMain(target, workspace, cfg, wcfg, keys_given, format, header);
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
  std::unique_ptr<Driver> driver = MakeDriver(target, workspace, &error);
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
  if (format == "json") PrintJson(r);
  else if (format == "csv") PrintCsv(r, header);
  else PrintTable(r);
  if (!r.violations.empty()) return 2;
  // No verdict: the run could not start, or its final values are unknown.
  for (const auto& [k, v] : r.errors) {
    if (k.rfind("connect", 0) == 0) return 1;
  }
  return r.final_read_ok ? 0 : 1;
}
