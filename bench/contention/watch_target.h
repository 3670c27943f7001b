// WatchTarget: what the watch workload needs from a system — writers that
// report the revision of each acknowledged write, watch streams that
// report the revision of each delivered change, and the current revision
// (where a watch can start so that it misses nothing written after).
// casmem: POST /workspaces/{ws}/memory, GET /workspaces/{ws}/watch (SSE),
// Casmem-Revision of a list. etcd 3.4: /v3/kv/put, the gateway's streaming
// POST /v3/watch, the header revision of a range.
//
// All callbacks run on the io_context the object was made on.
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

struct PutResult {
  bool ok = false;        // acknowledged (casmem: 200, etcd: put answered)
  uint64_t revision = 0;  // when ok
  std::string error;
  // casmem: a 401 / 403 / 429 (error is its name; nothing was written),
  // and for a 429 the seconds to wait before the next write.
  Refusal refusal = Refusal::kNone;
  double retry_after_s = 0;
};

class WatchWriter {
 public:
  virtual ~WatchWriter() = default;
  // One unguarded write of `value_json` to `key`.
  virtual void Put(const std::string& key, const std::string& value_json,
                   std::function<void(PutResult)> done) = 0;
};

// What a watch stream reports, on its io_context's thread.
struct WatchEvents {
  std::function<void()> on_open;  // the server accepted the watch
  // One change (a whole transaction) with its revision, and when the bytes
  // that completed it were read.
  std::function<void(uint64_t revision, uint64_t recv_ns)> on_delivery;
  // A notice that ends the stream (casmem: lagged, compacted; etcd:
  // canceled, compact_revision), or an event kind this bench does not know.
  std::function<void(const std::string& what)> on_notice;
  // The stream ended (`stopped`: the bench ended it).
  std::function<void(const std::string& why, bool stopped)> on_end;
};

class WatchStream {
 public:
  virtual ~WatchStream() = default;
  virtual void Close() = 0;
  virtual uint64_t heartbeats() const { return 0; }
};

class WatchTarget {
 public:
  virtual ~WatchTarget() = default;
  virtual std::string name() const = 0;
  virtual void OpenWriter(boost::asio::io_context& io,
                          std::function<void(std::unique_ptr<WatchWriter>, std::string error)> done) = 0;
  // A watch of keys starting with `prefix`, changes after `since` (nullopt:
  // from when it opens); in `workspace` when not empty (casmem; etcd has
  // one key space and ignores it).
  virtual std::unique_ptr<WatchStream> Watch(boost::asio::io_context& io, const std::string& prefix,
                                             std::optional<uint64_t> since, WatchEvents events,
                                             const std::string& workspace = "") = 0;
  // The revision a watch should start after; nullopt when the system
  // does not say (the caller then waits for every watch to open first).
  virtual void CurrentRevision(boost::asio::io_context& io, const std::string& prefix,
                               std::function<void(std::optional<uint64_t>, std::string error)> done) = 0;
};

// `security` null: plain HTTP, no token.
std::unique_ptr<WatchTarget> MakeCasmemWatchTarget(const std::string& host, uint16_t port,
                                                   const std::string& workspace,
                                                   std::shared_ptr<const ConnSecurity> security = nullptr);
std::unique_ptr<WatchTarget> MakeEtcdWatchTarget(const std::string& host, uint16_t port);

}  // namespace casmem::bench
