// Server: casmemd's HTTP/1.1 front end on Boost.Beast. The only public
// header of the I/O layer; Beast and Asio stay inside server.cc.
//
// Threading: `threads` I/O threads, each running its own io_context; a
// connection lives on one of them (round-robin at accept), so its state
// needs no lock or strand. Each thread keeps its responses that wait for
// their write to be durable (ResponseWaiters, net/response_waiters.h)
// under one durability callback, whose single post releases the batch.
// An I/O thread waits for an fsync only in the log's LeadCommit, which it
// calls (once per burst, after the handlers that were ready) when its
// responses wait: the leader/follower group commit.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/store.h"
#include "net/metrics.h"
#include "common/status.h"

namespace casmem::net {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7070;  // 0 = any free port
  int threads = 2;
  // To receive a whole request once its first byte arrived; also the most
  // a socket write may go without progress (a client that stopped reading).
  std::chrono::milliseconds read_timeout{30'000};
  // While nothing is being served: no response pending or being written,
  // no request partly read. Never cuts a held or streaming response.
  std::chrono::milliseconds idle_timeout{60'000};
  size_t max_connections = 10'000;
  uint64_t max_body_bytes = (1 << 20) + (64 << 10);
  size_t max_pipelined = 16;  // requests read ahead of their responses, per connection
  std::chrono::milliseconds shutdown_grace{10'000};
  // ConflictTurns on hot keys: a stale compare-and-set loser holds the
  // key's turn this long at most; later losers wait for their turn. 0 =
  // every 409 is answered as soon as it is visible.
  std::chrono::milliseconds conflict_turn{10};
  // Watch streams (memory-api.md §8): past this many bytes unsent, a
  // stream is sent `lagged` and closed; an idle one gets a comment line
  // every watch_heartbeat.
  uint64_t watch_buffer_bytes = 4ULL << 20;
  std::chrono::milliseconds watch_heartbeat{15'000};
  // HTTPS (memory-api.md §9): both set, or neither (plain HTTP). PEM
  // files, read at Listen and again on SIGHUP (a certificate renewed in
  // place is served to new connections; a bad one keeps the old).
  std::string tls_cert, tls_key;
  // Requests per second allowed per token (per client address while no
  // token exists), with a burst of one second's worth; past it, 429 with
  // Retry-After. 0 = no limit.
  double rate_limit = 0;
  // Serve a host that is not loopback although no token exists (protected
  // mode: casmemd refuses to start so, and while no token is left only
  // loopback clients are served; memory-api.md §9).
  bool insecure_no_auth = false;
};

class Server {
 public:
  Server(Store* store, Metrics* metrics, const ServerOptions& options);
  ~Server();

  // Binds and listens. Errors (address in use, bad host) come back here.
  Status Listen();
  // Binds options.host:port and lets go at once, so that a busy port or a
  // bad host is reported before the store is opened (recovery can be long).
  // Listen() can still fail if another process takes the port in between.
  static Status ProbeListen(const ServerOptions& options);
  // "HOST:PORT" actually bound (after Listen).
  std::string bound_address() const;
  // Serves until SIGTERM/SIGINT or Stop(): then stops accepting, lets
  // in-flight requests finish (up to shutdown_grace) and returns.
  void Run();
  // Starts the graceful stop from any thread.
  void Stop();
  // HTTPS: reads --tls-cert and --tls-key again (what SIGHUP does), from
  // any thread. New connections get the new certificate, open ones keep
  // theirs; on error the old one stays and the error names the file.
  Status ReloadTls();
  // Whether Listen set up HTTPS.
  bool tls() const;

  // Opaque outside net/: defined in net/server_impl.h, shared by the
  // acceptor (server.cc) and the connections (session.cc).
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace casmem::net
