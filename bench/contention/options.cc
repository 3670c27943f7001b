// casmem-bench's command line (options.h).
#include "bench/contention/options.h"

#include <cstdlib>
#include <cstring>

namespace casmem::bench {

extern const char kUsage[] =
    "usage: casmem-bench [options]\n"
    "  --target URL        casmem://HOST:PORT (default casmem://127.0.0.1:7070; http:// is the\n"
    "                      same), https://HOST:PORT or casmems://HOST:PORT (casmem over TLS),\n"
    "                      redis://HOST:PORT, etcd://HOST:PORT, postgres://CONNINFO\n"
    "  --token SECRET      casmem: send Authorization: Bearer SECRET with every request\n"
    "                      (default: the environment variable CASMEM_TOKEN, if set)\n"
    "  --cacert FILE       https: verify the server against this CA (or its own certificate),\n"
    "                      host name or IP checked (default: the system's CA certificates)\n"
    "  --insecure          https: do not verify the server's certificate\n"
    "  --workload W        cas | lww | create | read | write | patch | txn | watch | handshake\n"
    "                      (default cas)\n"
    "                      handshake: each agent opens a connection (TLS over https), GETs\n"
    "                      /healthz and closes, over and over: connections/s and their latency\n"
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

namespace {

bool ParseDouble(const char* s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s, &end);
  return end != s && *end == '\0' && *out >= 0;
}

}  // namespace

bool ParseBenchArgs(int argc, const char* const* argv, const char* env_token, BenchOptions* o, std::string* error) {
  RunConfig& cfg = o->cfg;
  WatchConfig& wcfg = o->wcfg;
  std::optional<std::string> token;
  bool cacert_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = nullptr;
    // The option's value (the next argument), or false with *error.
    auto value = [&](const char* name) {
      if (i + 1 >= argc) {
        *error = std::string(name) + " needs a value";
        return false;
      }
      v = argv[++i];
      return true;
    };
    double d = 0;
    auto number = [&](const char* name) {
      if (!value(name)) return false;
      if (!ParseDouble(v, &d)) {
        *error = std::string("bad value '") + v + "' for " + name;
        return false;
      }
      return true;
    };
#define CASMEM_VALUE(name) if (!value(name)) return false
#define CASMEM_NUMBER(name) if (!number(name)) return false
    if (a == "--target") { CASMEM_VALUE("--target"); o->target = v; }
    else if (a == "--token") {
      // The value is a secret: never echoed back, not even when empty.
      CASMEM_VALUE("--token");
      if (*v == '\0') { *error = "--token needs a non-empty value"; return false; }
      token = v;
    }
    else if (a == "--cacert") { CASMEM_VALUE("--cacert"); o->client.tls.cacert = v; cacert_given = true; }
    else if (a == "--insecure") o->client.tls.insecure = true;
    else if (a == "--workload") { CASMEM_VALUE("--workload"); cfg.workload = v; }
    else if (a == "--agents") { CASMEM_NUMBER("--agents"); cfg.agents = static_cast<int>(d); }
    else if (a == "--keys") { CASMEM_NUMBER("--keys"); cfg.keys = static_cast<int>(d); o->keys_given = true; }
    else if (a == "--zipf") { CASMEM_NUMBER("--zipf"); cfg.zipfian = true; cfg.zipf_s = d; }
    else if (a == "--seconds" || a == "--duration") { CASMEM_NUMBER(a.c_str()); cfg.seconds = d; }
    else if (a == "--watchers") { CASMEM_NUMBER("--watchers"); wcfg.watchers = static_cast<int>(d); }
    else if (a == "--idle-watchers") { CASMEM_NUMBER("--idle-watchers"); wcfg.idle_watchers = static_cast<int>(d); }
    else if (a == "--watch-prefix") { CASMEM_VALUE("--watch-prefix"); wcfg.watch_prefix = v; }
    else if (a == "--idle-workspace") { CASMEM_VALUE("--idle-workspace"); wcfg.idle_workspace = v; }
    else if (a == "--drain") { CASMEM_NUMBER("--drain"); wcfg.drain_seconds = d; }
    else if (a == "--rate") {
      CASMEM_VALUE("--rate");
      double r = 0;
      if (std::strcmp(v, "max") != 0 && !ParseDouble(v, &r)) { *error = "--rate is a number or max"; return false; }
      wcfg.rate = r;
    }
    else if (a == "--ops") { CASMEM_NUMBER("--ops"); cfg.ops = static_cast<uint64_t>(d); }
    else if (a == "--warmup") { CASMEM_NUMBER("--warmup"); cfg.warmup_seconds = d; }
    else if (a == "--retry-read") cfg.retry_read = true;
    else if (a == "--backoff") {
      CASMEM_VALUE("--backoff");
      const std::string b = v;
      if (b != "none" && b != "exp") { *error = "--backoff is none or exp"; return false; }
      cfg.exp_backoff = b == "exp";
    }
    else if (a == "--exp-backoff") cfg.exp_backoff = true;
    else if (a == "--backoff-base") { CASMEM_NUMBER("--backoff-base"); cfg.backoff_base_ms = d; }
    else if (a == "--backoff-max") { CASMEM_NUMBER("--backoff-max"); cfg.backoff_max_ms = d; }
    else if (a == "--send-jitter") { CASMEM_NUMBER("--send-jitter"); cfg.send_jitter_us = d; }
    else if (a == "--workspace") { CASMEM_VALUE("--workspace"); o->workspace = v; }
    else if (a == "--grow") cfg.patch_grow = true;
    else if (a == "--idempotency-keys") cfg.idempotency_keys = true;
    else if (a == "--drop-responses") {
      CASMEM_NUMBER("--drop-responses");
      if (d > 1) { *error = "--drop-responses is 0-1"; return false; }
      cfg.drop_responses = d;
    }
    else if (a == "--json") o->format = "json";
    else if (a == "--csv") o->format = "csv";
    else if (a == "--no-header") o->header = false;
    else if (a == "-h" || a == "--help") { o->help = true; return true; }
    else { *error = "unknown option " + a; return false; }
#undef CASMEM_VALUE
#undef CASMEM_NUMBER
  }
  const auto url = ParseTargetUrl(o->target, error);
  if (!url) return false;
  const bool casmem = url->scheme == "casmem";
  if (token && !casmem) {
    *error = "--token is for casmem targets";
    return false;
  }
  // CASMEM_TOKEN is ambient: it applies to casmem targets only.
  if (casmem) o->client.token = ResolveToken(token, env_token);
  if (cacert_given && o->client.tls.insecure) {
    *error = "--cacert and --insecure exclude each other";
    return false;
  }
  if ((cacert_given || o->client.tls.insecure) && !url->tls) {
    *error = "--cacert and --insecure are for https:// (casmems://) targets";
    return false;
  }
  if (cfg.workload == "handshake" && !casmem) {
    *error = "the handshake workload is for casmem targets (casmem://, https://)";
    return false;
  }
  return true;
}

}  // namespace casmem::bench
