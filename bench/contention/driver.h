// Driver: how casmem-bench talks to one system (casmem, PostgreSQL, etcd,
// Redis). Each agent owns one Connection; every call is asynchronous on
// the benchmark's io_context and completes exactly once.
//
// Versions: the per-key counter the system uses for compare-and-set
// (casmem's version, PostgreSQL's version column, etcd's key version,
// Redis's version field). 0 means "the key is absent".
//
// Patch and Move are the `patch` and `txn` workloads' updates, each the
// system's nearest equivalent of one server-side atomic update: one
// request where the system has one (casmem PATCH and POST /txn, Redis
// EVAL, PostgreSQL one statement or one transaction), else the read +
// guarded-write loop inside the driver (etcd), which reports its attempts.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bench/contention/client_security.h"
#include "bench/contention/refusal.h"

namespace casmem::bench {

struct ReadResult {
  bool ok = false;  // false: transport or server error (see error)
  uint64_t version = 0;
  std::string value;  // JSON text when version > 0
  std::string error;
  // A 401 / 403 / 429 (error is then its name, refusal.h), and for a 429
  // the seconds to wait before trying again.
  Refusal refusal = Refusal::kNone;
  double retry_after_s = 0;
};

struct WriteResult {
  enum Kind { kCommitted, kConflict, kError } kind = kError;
  uint64_t version = 0;  // kCommitted: the version produced
  // kConflict, when the system returns the current state with the refusal
  // (casmem's 409 body, etcd's failure branch): retry without a read.
  bool has_current = false;
  uint64_t current_version = 0;
  std::string current_value;
  std::string error;  // kError: what went wrong
  // Patch / Move only.
  int attempts = 1;         // requests that tried to commit (> 1: a driver's retry loop)
  bool dropped = false;     // the first response was dropped on purpose (injected retry)
  bool replayed = false;    // the answer carried Idempotency-Replayed: true
  int in_progress = 0;      // 409 "request in progress" answers waited out
  // kError: the server answered that it wrote nothing (a 4xx), so the
  // update is not in doubt.
  bool refused = false;
  // kError: a 401 / 403 / 429 (error is then its name, refusal.h), and
  // for a 429 the seconds to wait before trying again.
  Refusal refusal = Refusal::kNone;
  double retry_after_s = 0;
};

// How to send one Patch / Move (casmem honours these; other drivers have
// no Idempotency-Key and ignore them; the runner refuses drops for them).
struct OpOptions {
  std::string idempotency_key;  // empty: none
  // Send the request, close the connection without reading the answer,
  // reconnect and send it again with the same Idempotency-Key.
  bool drop_response = false;
};

inline WriteResult WriteError(std::string error) {
  WriteResult w;
  w.error = std::move(error);
  return w;
}

using ReadCallback = std::function<void(ReadResult)>;
using WriteCallback = std::function<void(WriteResult)>;

class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Read(const std::string& key, ReadCallback cb) = 0;
  // if_match: nullopt = unconditional (LWW); 0 = create only; V = only at V.
  virtual void Write(const std::string& key, const std::string& value,
                     std::optional<uint64_t> if_match, WriteCallback cb) = 0;
  // The patch workload's update of `key` (an AppValue), without a guard:
  // counter + 1, `agent` appended to agents, and when `bounded` the first
  // agent removed in the same update (the value keeps its size).
  virtual void Patch(const std::string& key, int agent, bool bounded, const OpOptions& opts,
                     WriteCallback cb) {
    (void)key, (void)agent, (void)bounded, (void)opts;
    cb(Unsupported("patch"));
  }
  // The txn workload's update: `first`'s counter - delta and `second`'s
  // counter + delta, both or neither. Callers always pass the same two
  // keys in the same order (PostgreSQL then locks the rows in one order).
  virtual void Move(const std::string& first, const std::string& second, int64_t delta,
                    const OpOptions& opts, WriteCallback cb) {
    (void)first, (void)second, (void)delta, (void)opts;
    cb(Unsupported("txn"));
  }
  // The server's count of log syncs so far (casmem: casmem_wal_fsyncs_total
  // from /metrics); nullopt when the system does not say.
  virtual void FsyncCount(std::function<void(std::optional<uint64_t>)> cb) { cb(std::nullopt); }

 protected:
  // "this driver has no <workload> workload" (driver.cc).
  static WriteResult Unsupported(const char* workload);
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  // Whether Patch / Move are implemented (the other workloads always are).
  virtual bool Supports(const std::string& workload) const {
    return workload != "patch" && workload != "txn";
  }
  // Opens one connection (one per agent).
  virtual void Connect(boost::asio::io_context& io,
                       std::function<void(std::unique_ptr<Connection>, std::string error)> done) = 0;
};

// Opens a connection of type C (constructed from `args`, with a method
// Open(host, port, done(error))) and hands it to `done` once connected.
template <class C, class... Args>
void OpenConnection(const std::string& host, uint16_t port,
                    std::function<void(std::unique_ptr<Connection>, std::string)> done,
                    Args&&... args) {
  auto holder = std::make_shared<std::unique_ptr<C>>(std::make_unique<C>(std::forward<Args>(args)...));
  (*holder)->Open(host, port, [holder, done](std::string err) {
    if (!err.empty()) return done(nullptr, err);
    done(std::move(*holder), "");
  });
}

// host:port of casmemd; keys live in `workspace`. `security` (null: plain
// HTTP, no token) makes every connection TLS and/or carry the token.
std::unique_ptr<Driver> MakeCasmemDriver(const std::string& host, uint16_t port,
                                         const std::string& workspace,
                                         std::shared_ptr<const ConnSecurity> security = nullptr);
// The value of casmem_wal_fsyncs_total in a /metrics text, if present.
std::optional<uint64_t> ParseFsyncs(const std::string& metrics);
// Redis 7 with a hash {value, version} per key; WATCH/MULTI/EXEC.
std::unique_ptr<Driver> MakeRedisDriver(const std::string& host, uint16_t port);
// etcd 3.4 through its HTTP/JSON gateway; txn on mod_revision.
std::unique_ptr<Driver> MakeEtcdDriver(const std::string& host, uint16_t port);
// PostgreSQL with the original handler's table and statements; `conninfo`
// is a libpq connection string or URI.
std::unique_ptr<Driver> MakePostgresDriver(const std::string& conninfo, const std::string& workspace);

}  // namespace casmem::bench
