// Server::Impl: the state shared by the acceptor side (server.cc) and
// the connections (session.cc), and the constants both use. Internal to
// net/: it includes Beast, Asio and (tls_context.h) OpenSSL, which no
// public header does.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "engine/change_feed.h"
#include "net/access_control.h"
#include "net/change_json.h"
#include "net/conflict_turns.h"
#include "net/handler.h"
#include "net/response_waiters.h"
#include "net/server.h"
#include "net/tls_context.h"

namespace casmem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Lingering close (nginx's): after a request refused before its body was
// read, what the client still sends is read and discarded up to this many
// bytes or this long, so that it reads the answer instead of a reset.
inline constexpr size_t kLingerBytes = 8 << 20;
inline constexpr std::chrono::seconds kLingerTime{5};

class Session;
class WatchStream;
class FlushQueue;
class ConnStream;

struct Server::Impl {
  Impl(Store* s, Metrics* m, const ServerOptions& o)
      : store(s), metrics(m), opts(o),
        access(s, m, AccessOptions{o.rate_limit, !o.insecure_no_auth && !IsLoopbackHost(o.host),
                                   !o.insecure_no_auth}),
        handler(s, m, &access), contexts(MakeContexts(o.threads)),
        ioc(control), acceptor(ioc), signals(ioc, SIGINT, SIGTERM, SIGHUP) {
    for (auto& c : contexts) waiters.push_back(std::make_unique<ResponseWaiters>(*c, s));
    for (auto& c : contexts) flush_queues.push_back(std::make_unique<FlushQueue>(*c));
    if (o.conflict_turn.count() > 0) turns = std::make_unique<ConflictTurns>(o.conflict_turn);
    feed = std::make_unique<ChangeFeed>(s->history(), ChangeDataJson, FeedOptions(o));
    // A revoked token's watch streams end (memory-api.md §9).
    access.tokens().add_on_change([this](size_t) { EndRevokedStreams(); });
  }
  // A stream catching up takes at most an eighth of --watch-buffer of
  // values per round (WatchStream's Room) and this many changes, whose SSE
  // framing (about 150 bytes each beyond key and value) must fit the rest:
  // a stream catching up is never cut as lagged.
  static ChangeFeed::Options FeedOptions(const ServerOptions& o) {
    ChangeFeed::Options f;
    f.catch_up_events = std::clamp<size_t>(o.watch_buffer_bytes / 1024, 1, 1000);
    return f;
  }
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> v;
    for (int i = 0; i < std::max(1, n); ++i) v.push_back(std::make_unique<asio::io_context>(1));
    return v;
  }
  // Round-robin over the contexts: each connection lives on one thread.
  size_t NextContext() { return next_context++ % contexts.size(); }
  void StopAll() {
    for (auto& c : contexts) c->stop();
    control.stop();
  }
  // REQUIRES: the store has fired every durability callback (Store::Close)
  // before the Impl is destroyed: callbacks post to this io_context.

  void DoAccept();
  // SIGTERM/SIGINT stop; SIGHUP reloads the TLS files (or is logged as
  // having nothing to reload), then waits again.
  void WaitSignal();
  // Reads --tls-cert/--tls-key again (any thread): new connections get the
  // new context; on error the old one stays. Logs the outcome.
  Status ReloadTls();
  // Keeps a timer passing run-out turns while ConflictTurns tracks a key.
  void ArmTurnTimer();
  void TurnTick();
  void BeginStop();
  void Drain(std::chrono::steady_clock::time_point deadline);
  void RejectBusy(tcp::socket socket);
  // Ends the watch streams whose token no longer exists (any thread).
  void EndRevokedStreams();

  Store* store;
  Metrics* metrics;
  const ServerOptions opts;
  AccessControl access;  // tokens, loaded from the store (memory-api.md §9)
  Handler handler;
  // HTTPS (memory-api.md §9): the context new connections get; null for
  // plain HTTP. Set by Listen, before any connection.
  std::unique_ptr<TlsContextHolder> tls;
  // Declared before ioc so they outlive it: destroying ioc destroys queued
  // handlers, which may hold the last reference to a Session.
  std::atomic<size_t> active{0};
  std::atomic<bool> stopping{false};
  std::string bound;
  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<WatchStream*, std::weak_ptr<WatchStream>> streams;  // under sessions_mu
  // One io_context per I/O thread (concurrency hint 1): a connection is
  // served by one thread only, so it needs no strand, and threads never
  // wake each other to hand over work.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  size_t next_context = 0;  // acceptor's thread only
  // waiters[i]: the responses of contexts[i]'s connections waiting for
  // visibility. Declared after the contexts so they are destroyed first
  // (they hold Sessions, whose sockets belong to the contexts).
  std::vector<std::unique_ptr<ResponseWaiters>> waiters;
  // flush_queues[i]: contexts[i]'s watch streams with bytes to send.
  std::vector<std::unique_ptr<FlushQueue>> flush_queues;
  FlushQueue* FlushQueueOf(const asio::any_io_executor& ex) {
    for (size_t i = 0; i < contexts.size(); ++i) {
      if (&asio::query(ex, asio::execution::context) == contexts[i].get()) return flush_queues[i].get();
    }
    return nullptr;
  }
  // The acceptor, the signals, the drain and accept-backoff timers and the
  // conflict-turn timer run on their own thread (Run's caller), never on
  // an I/O thread: an I/O thread may block for one sync when it leads a
  // commit (Wal::LeadCommit), and a disk that stalls then must not stop
  // accepting, SIGTERM or the turns. `ioc` names it.
  asio::io_context control{1};
  asio::io_context& ioc;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  std::optional<asio::steady_timer> drain_timer;
  std::optional<asio::steady_timer> accept_backoff;
  // Null with --conflict-turn 0. Declared after the contexts so it is
  // destroyed first: its queued releases hold Sessions, whose sockets
  // belong to the contexts.
  std::unique_ptr<ConflictTurns> turns;
  asio::steady_timer turn_timer{ioc};
  std::atomic<bool> turn_timer_armed{false};
  // Fans the store's change history out to watch streams and waiting
  // requests (memory-api.md §8). Runs from Run() until the I/O threads
  // have stopped; declared last so it is destroyed first (its sinks post
  // to the contexts).
  std::unique_ptr<ChangeFeed> feed;
};

// session.cc: serves an accepted connection until it closes; with `tls`
// (the server's current context) over TLS, after its handshake.
// `waiters`: those of the socket's context's thread.
void StartSession(tcp::socket socket, Server::Impl* srv, ResponseWaiters* waiters,
                  std::shared_ptr<SslContext> tls);
// session.cc: server shutdown: the session answers what it has read, then closes.
void ShutdownSession(const std::shared_ptr<Session>& session);

}  // namespace casmem::net
