// Option table, value parsers (durations with units, sizes with K/M/G
// suffixes) and the --help text generated from the same table.
#include "net/options.h"

#include <functional>
#include <thread>

#include "net/duration.h"
#include "net/json_body.h"

namespace casmem::net {
namespace {

bool ParseSize(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t mult = 1;
  std::string digits = s;
  switch (s.back()) {
    case 'K': mult = 1ULL << 10; digits.pop_back(); break;
    case 'M': mult = 1ULL << 20; digits.pop_back(); break;
    case 'G': mult = 1ULL << 30; digits.pop_back(); break;
    default: break;
  }
  auto n = ParseUnsigned(digits);
  if (!n || *n > UINT64_MAX / mult) return false;
  *out = *n * mult;
  return true;
}

struct Option {
  const char* name;
  const char* arg;  // nullptr: a flag, which takes no value
  const char* help;
  std::string default_text;
  std::function<bool(const std::string&, DaemonOptions*)> set;
};

std::string Ms(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// Sizes as --help shows them: the largest binary unit that divides them.
std::string SizeText(uint64_t n) {
  if (n != 0 && n % (1ULL << 30) == 0) return std::to_string(n >> 30) + "G";
  if (n != 0 && n % (1ULL << 20) == 0) return std::to_string(n >> 20) + "M";
  if (n != 0 && n % (1ULL << 10) == 0) return std::to_string(n >> 10) + "K";
  return std::to_string(n);
}

// The daemon's defaults: the option structs' own, plus what only the
// daemon decides (a data directory, one I/O thread per core).
DaemonOptions Defaults() {
  DaemonOptions d;
  d.store.data_dir = "./data";
  d.server.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return d;
}

std::vector<Option> Table() {
  const DaemonOptions d = Defaults();
  // A duration option; values below `min_ms` are refused.
  auto duration = [](auto field, int64_t min_ms = 0) {
    return [field, min_ms](const std::string& v, DaemonOptions* o) {
      std::chrono::milliseconds ms;
      if (!ParseDuration(v, &ms) || ms.count() < min_ms) return false;
      field(o) = ms;
      return true;
    };
  };
  auto size = [](auto field) {
    return [field](const std::string& v, DaemonOptions* o) {
      uint64_t n;
      if (!ParseSize(v, &n)) return false;
      field(o) = n;
      return true;
    };
  };
  return {
      {"--listen", "HOST:PORT", "address to serve HTTP on; port 0 picks a free port",
       d.server.host + ":" + std::to_string(d.server.port),
       [](const std::string& v, DaemonOptions* o) {
         const size_t colon = v.rfind(':');
         if (colon == std::string::npos || colon == 0) return false;
         auto port = ParseUnsigned(std::string_view(v).substr(colon + 1));
         if (!port || *port > 65535) return false;
         std::string host = v.substr(0, colon);
         // [v6]:port, as in a URL.
         if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
         o->server.host = host;
         o->server.port = static_cast<uint16_t>(*port);
         return true;
       }},
      {"--data-dir", "DIR", "where the log (DIR/wal) and snapshots (DIR/snap) live", d.store.data_dir,
       [](const std::string& v, DaemonOptions* o) {
         if (v.empty()) return false;
         o->store.data_dir = v;
         return true;
       }},
      {"--fsync", "MODE",
       "always: acknowledge after fdatasync; batch: after write, fsync every --fsync-interval; "
       "never: leave it to the OS (batch and never can lose recent writes on power loss)",
       wal::FsyncModeName(d.store.fsync),
       [](const std::string& v, DaemonOptions* o) { return wal::ParseFsyncMode(v, &o->store.fsync); }},
      {"--fsync-interval", "DURATION", "longest time between fsyncs with --fsync batch",
       Ms(std::chrono::duration_cast<std::chrono::milliseconds>(d.store.fsync_interval)),
       [](const std::string& v, DaemonOptions* o) {
         std::chrono::milliseconds ms;
         if (!ParseDuration(v, &ms) || ms.count() < 1) return false;
         o->store.fsync_interval = ms;  // microseconds in the store
         return true;
       }},
      {"--inline-commit", "on|off",
       "on: an I/O thread with nothing else ready writes (and with --fsync always syncs) a durable "
       "write itself instead of handing it to the log's writer thread and back (leader/follower "
       "commit; writes arriving meanwhile share the writer thread's next sync; a slow disk turns "
       "it off by itself); off: the writer thread commits every write",
       d.store.wal_inline_commit ? "on" : "off",
       [](const std::string& v, DaemonOptions* o) {
         if (v == "on") o->store.wal_inline_commit = true;
         else if (v == "off") o->store.wal_inline_commit = false;
         else return false;
         return true;
       }},
      {"--shards", "N", "hash partitions of the store (1-65536)", std::to_string(d.store.shards),
       [](const std::string& v, DaemonOptions* o) {
         auto n = ParseUnsigned(v);
         if (!n || *n < 1 || *n > 65536) return false;
         o->store.shards = static_cast<uint32_t>(*n);
         return true;
       }},
      {"--wal-segment-bytes", "SIZE", "start a new log segment past this size (at least 64K)",
       SizeText(d.store.wal_segment_bytes),
       size([](DaemonOptions* o) -> uint64_t& { return o->store.wal_segment_bytes; })},
      {"--wal-max-pending", "SIZE",
       "refuse writes with a 503 (retry) while this much log waits for a slow disk (0: no limit)",
       SizeText(d.store.wal_max_pending_bytes),
       size([](DaemonOptions* o) -> uint64_t& { return o->store.wal_max_pending_bytes; })},
      {"--snapshot-every-bytes", "SIZE", "write a snapshot when the log since the last one passes this",
       SizeText(d.store.snapshot_every_bytes),
       size([](DaemonOptions* o) -> uint64_t& { return o->store.snapshot_every_bytes; })},
      {"--tombstone-retention", "DURATION",
       "keep deleted and expired keys' versions at least this long", Ms(d.store.tombstone_retention),
       duration([](DaemonOptions* o) -> std::chrono::milliseconds& { return o->store.tombstone_retention; })},
      {"--sweep-interval", "DURATION", "how often TTLs are expired and old tombstones collected",
       Ms(d.store.sweep_interval),
       duration([](DaemonOptions* o) -> std::chrono::milliseconds& { return o->store.sweep_interval; }, 1)},
      {"--idempotency-retention", "DURATION",
       "keep the answer to a write with an Idempotency-Key at least this long",
       Ms(d.store.idempotency_retention),
       duration([](DaemonOptions* o) -> std::chrono::milliseconds& { return o->store.idempotency_retention; }, 1)},
      {"--idempotency-max-bytes", "SIZE",
       "memory bound of remembered Idempotency-Key answers; past it the oldest are dropped early",
       SizeText(d.store.idempotency_max_bytes),
       size([](DaemonOptions* o) -> uint64_t& { return o->store.idempotency_max_bytes; })},
      {"--max-value-bytes", "SIZE", "largest value (compact JSON); bodies may be 64K larger",
       SizeText(d.store.max_value_bytes),
       size([](DaemonOptions* o) -> uint64_t& { return o->store.max_value_bytes; })},
      {"--threads", "N", "HTTP I/O threads", std::to_string(d.server.threads),
       [](const std::string& v, DaemonOptions* o) {
         auto n = ParseUnsigned(v);
         if (!n || *n < 1 || *n > 256) return false;
         o->server.threads = static_cast<int>(*n);
         return true;
       }},
      {"--read-timeout", "DURATION", "time allowed to receive a request once it has begun, and for a response write to make progress",
       Ms(d.server.read_timeout),
       duration([](DaemonOptions* o) -> std::chrono::milliseconds& { return o->server.read_timeout; }, 1)},
      {"--idle-timeout", "DURATION", "close a keep-alive connection idle this long",
       Ms(d.server.idle_timeout),
       duration([](DaemonOptions* o) -> std::chrono::milliseconds& { return o->server.idle_timeout; }, 1)},
      {"--max-connections", "N", "connections beyond this are answered 503 and closed",
       std::to_string(d.server.max_connections),
       [](const std::string& v, DaemonOptions* o) {
         auto n = ParseUnsigned(v);
         if (!n || *n < 1) return false;
         o->server.max_connections = static_cast<size_t>(*n);
         return true;
       }},
      {"--conflict-turn", "DURATION",
       "on a hot key, a stale compare-and-set loser holds the key's turn this long at most: "
       "other clients' guarded writes of the key wait for it (0: no turns, every write runs "
       "and every 409 is answered at once)",
       Ms(d.server.conflict_turn),
       duration([](DaemonOptions* o) -> std::chrono::milliseconds& { return o->server.conflict_turn; })},
      {"--watch-history", "SIZE",
       "changes kept for watches to resume from, across restarts: snapshots keep the newest log "
       "segments holding this much (a since older than what is kept is told `compacted`)",
       SizeText(d.store.watch_history_bytes),
       size([](DaemonOptions* o) -> uint64_t& { return o->store.watch_history_bytes; })},
      {"--watch-memory", "SIZE",
       "of that history, the newest changes kept in memory too (older ones are read from the log "
       "segments)",
       SizeText(d.store.watch_memory_bytes),
       size([](DaemonOptions* o) -> uint64_t& { return o->store.watch_memory_bytes; })},
      {"--watch-buffer", "SIZE",
       "a watch stream more than this far behind (bytes not yet taken by its client) is sent "
       "`lagged` and closed; writers never wait for watchers",
       SizeText(d.server.watch_buffer_bytes),
       [](const std::string& v, DaemonOptions* o) {
         uint64_t n;
         if (!ParseSize(v, &n) || n < 4096) return false;
         o->server.watch_buffer_bytes = n;
         return true;
       }},
      {"--watch-heartbeat", "DURATION", "an idle watch stream gets a comment line this often",
       Ms(d.server.watch_heartbeat),
       duration([](DaemonOptions* o) -> std::chrono::milliseconds& { return o->server.watch_heartbeat; }, 10)},
      {"--tls-cert", "FILE",
       "serve HTTPS (TLS 1.2 and 1.3) with this PEM certificate chain; needs --tls-key; both are "
       "read again on SIGHUP",
       "none: plain HTTP",
       [](const std::string& v, DaemonOptions* o) {
         if (v.empty()) return false;
         o->server.tls_cert = v;
         return true;
       }},
      {"--tls-key", "FILE", "the PEM private key of --tls-cert", "none",
       [](const std::string& v, DaemonOptions* o) {
         if (v.empty()) return false;
         o->server.tls_key = v;
         return true;
       }},
      {"--rate-limit", "N",
       "requests per second each token may make (bursts of N); past it, 429 with Retry-After; "
       "without tokens, per client address (0: no limit)",
       "0",
       [](const std::string& v, DaemonOptions* o) {
         auto n = ParseUnsigned(v);
         if (!n || *n > 10'000'000) return false;
         o->server.rate_limit = static_cast<double>(*n);
         return true;
       }},
      {"--insecure-no-auth", nullptr,
       "serve a --listen address that is not loopback although no token exists: anyone who can "
       "reach it may read and write every workspace",
       "off",
       [](const std::string&, DaemonOptions* o) {
         o->server.insecure_no_auth = true;
         return true;
       }},
      {"--log-level", "LEVEL", "debug, info, warn or error", LogLevelName(d.log_level),
       [](const std::string& v, DaemonOptions* o) { return ParseLogLevel(v, &o->log_level); }},
  };
}

}  // namespace

std::string UsageText() {
  std::string out =
      "usage: casmemd [OPTION VALUE]...\n"
      "casmem: a durable key-value memory server with compare-and-set versions.\n\n"
      "DURATION is a number with a unit: ms, s, m or h (10ms, 30s, 24h); a bare number is seconds.\n"
      "SIZE is bytes, or a number with K, M or G (binary units).\n\n";
  for (const Option& o : Table()) {
    std::string left = std::string("  ") + o.name + (o.arg ? std::string(" ") + o.arg : "");
    left.resize(std::max<size_t>(left.size() + 1, 32), ' ');
    out += left + o.help + " (default " + o.default_text + ")\n";
  }
  out += "  --help                        print this and exit\n";
  return out;
}

bool ParseOptions(const std::vector<std::string>& args, DaemonOptions* out, std::string* error) {
  DaemonOptions o = Defaults();
  const std::vector<Option> table = Table();
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    if (name == "--help" || name == "-h") {
      o.help = true;
      continue;
    }
    const size_t eq = name.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Option* opt = nullptr;
    for (const Option& t : table)
      if (name == t.name) opt = &t;
    if (opt == nullptr) {
      *error = "unknown option " + name + " (see --help)";
      return false;
    }
    if (opt->arg == nullptr) {
      if (inline_value) {
        *error = name + " takes no value";
        return false;
      }
    } else if (!inline_value) {
      if (i + 1 >= args.size()) {
        *error = name + " needs a value " + opt->arg;
        return false;
      }
      value = args[++i];
    }
    if (!opt->set(value, &o)) {
      *error = "bad value '" + value + "' for " + name + " (expected " + opt->arg + ")";
      return false;
    }
  }
  if (o.server.tls_cert.empty() != o.server.tls_key.empty()) {
    *error = "--tls-cert and --tls-key go together";
    return false;
  }
  o.server.max_body_bytes = o.store.max_value_bytes + kBodyOverheadBytes;
  *out = o;
  return true;
}

}  // namespace casmem::net
