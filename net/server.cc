// The acceptor side of casmemd: binding, accepting (with the connection
// limit and its lingering 503), the conflict-turn timer, signals (SIGHUP:
// the TLS reload) and the graceful stop. Each accepted connection is a Session (net/session.cc).
// Requests are answered by the pure Handler; responses are released by
// the store's durability callbacks (Redis-style: a reply leaves only
// after the fsync that covers it).
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <thread>

#include "common/logger.h"
#include "net/server_impl.h"
#include "net/watch_stream.h"

namespace casmem::net {

void Server::Impl::DoAccept() {
  const size_t i = NextContext();
  acceptor.async_accept(*contexts[i], [this, i](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) return;
      // Out of file descriptors (or similar): pause instead of spinning;
      // established connections go on being served meanwhile.
      LogWarn("accept: " + ec.message() + "; pausing accepts for 50 ms");
      accept_backoff.emplace(ioc, std::chrono::milliseconds(50));
      accept_backoff->async_wait([this](beast::error_code) {
        if (!stopping) DoAccept();
      });
      return;
    }
    // Accepted before BeginStop but run after it: such a session would be
    // missing from BeginStop's list and never told to stop, so the
    // shutdown would wait its whole grace for it.
    if (stopping) {
      beast::error_code ignored;
      socket.close(ignored);
      return;
    }
    if (active.load() >= opts.max_connections) {
      if (tls) {
        // A plain-text 503 would only confuse a TLS client, and a
        // handshake is the CPU a server this busy lacks: closed.
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        RejectBusy(std::move(socket));
      }
    } else {
      StartSession(std::move(socket), this, waiters[i].get(), tls ? tls->Get() : nullptr);
    }
    DoAccept();
  });
}

void Server::Impl::WaitSignal() {
  signals.async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;  // cancelled: stopping
    if (signal != SIGHUP) return BeginStop();
    ReloadTls();
    WaitSignal();
  });
}

Status Server::Impl::ReloadTls() {
  if (!tls) {
    LogInfo("SIGHUP: nothing to reload (no --tls-cert; serving plain HTTP)");
    return Status::InvalidArgument("not serving TLS: nothing to reload");
  }
  Status s = tls->Load();
  if (s.ok()) {
    LogInfo("TLS: reloaded certificate " + tls->cert() + " and key " + tls->key() +
            " for new connections");
  } else {
    LogError("TLS reload failed, still serving the previous certificate: " + s.message());
  }
  return s;
}

void Server::Impl::ArmTurnTimer() {
  if (!turn_timer_armed.exchange(true)) asio::post(ioc, [this] { TurnTick(); });
}

void Server::Impl::TurnTick() {
  // Half a turn: a run-out turn passes at most 1.5 turns after it began.
  turn_timer.expires_after(std::max<std::chrono::microseconds>(
      std::chrono::microseconds(500), turns->turn() / 2));
  turn_timer.async_wait([this](beast::error_code ec) {
    if (ec) {
      turn_timer_armed = false;
      return;
    }
    if (turns->ReleaseExpired(std::chrono::steady_clock::now()) > 0) return TurnTick();
    turn_timer_armed = false;
    // A key tracked between the check and the store above re-arms here.
    if (turns->tracked_keys() > 0 && !turn_timer_armed.exchange(true)) TurnTick();
  });
}

void Server::Impl::RejectBusy(tcp::socket socket) {
  static const std::string kBody = R"({"error":"too many connections"})";
  static const std::string kResponse =
      "HTTP/1.1 503 Service Unavailable\r\nServer: casmemd\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
  // Then the same lingering close as a session's: half-close, read and
  // discard what the client still sends (its request, unread), bounded in
  // bytes and time, so that its 503 is not lost to a reset.
  struct Busy : std::enable_shared_from_this<Busy> {
    explicit Busy(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    void Drain() {
      socket.async_read_some(asio::buffer(scratch), [self = shared_from_this()](beast::error_code ec, size_t n) {
        self->drained += n;
        if (ec || self->drained >= kLingerBytes) return self->Close();
        self->Drain();
      });
    }
    void Close() {
      beast::error_code ignored;
      socket.close(ignored);
      timer.cancel();
    }
    tcp::socket socket;
    asio::steady_timer timer;
    std::array<char, 16 * 1024> scratch;
    size_t drained = 0;
  };
  auto b = std::make_shared<Busy>(std::move(socket));
  b->timer.expires_after(kLingerTime);
  b->timer.async_wait([b](beast::error_code ec) {
    if (!ec) b->Close();  // also ends a write to a client that does not read
  });
  asio::async_write(b->socket, asio::buffer(kResponse), [b](beast::error_code ec, size_t) {
    if (ec) return b->Close();
    b->socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return b->Close();
    b->Drain();
  });
}

void Server::Impl::EndRevokedStreams() {
  std::vector<std::shared_ptr<WatchStream>> revoked;
  {
    std::lock_guard lk(sessions_mu);
    for (auto& [ptr, weak] : streams) {
      auto w = weak.lock();
      if (!w || !w->token()) continue;
      // The same token still exists (a name revoked and made again is
      // another token: another secret).
      if (access.tokens().Get(w->token()->name) != w->token()) revoked.push_back(std::move(w));
    }
  }
  // Like a shutdown: no more changes, what is queued goes, then the end.
  // (Outside the lock: the last reference may go here, and a stream's
  // destructor takes sessions_mu.)
  for (auto& w : revoked) ShutdownWatchStream(w);
}

void Server::Impl::BeginStop() {
  if (stopping.exchange(true)) return;
  LogInfo("shutting down: no new connections, finishing in-flight requests");
  beast::error_code ec;
  acceptor.close(ec);
  signals.cancel(ec);
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lk(sessions_mu);
    for (auto& [ptr, weak] : sessions)
      if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  std::vector<std::shared_ptr<WatchStream>> watches;
  {
    std::lock_guard lk(sessions_mu);
    for (auto& [ptr, weak] : streams)
      if (auto w = weak.lock()) watches.push_back(std::move(w));
  }
  for (auto& s : live) ShutdownSession(s);
  live.clear();
  // Watch streams end once what they have queued is sent.
  for (auto& w : watches) ShutdownWatchStream(w);
  watches.clear();
  // Held 409s are answered now; no more are held from here on.
  if (turns) turns->ReleaseAll();
  Drain(std::chrono::steady_clock::now() + opts.shutdown_grace);
}

void Server::Impl::Drain(std::chrono::steady_clock::time_point deadline) {
  if (active.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (active.load() != 0) LogWarn("shutdown: closing " + std::to_string(active.load()) + " connections still busy");
    StopAll();
    return;
  }
  drain_timer.emplace(ioc, std::chrono::milliseconds(10));
  drain_timer->async_wait([this, deadline](beast::error_code) { Drain(deadline); });
}

Server::Server(Store* store, Metrics* metrics, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(store, metrics, options)) {}

Server::~Server() = default;

namespace {

// Opens, binds and listens `acc` on host:port.
Status BindAndListen(const ServerOptions& o, tcp::acceptor& acc) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host, ec);
  if (ec) return Status::InvalidArgument("bad listen host '" + o.host + "': " + ec.message());
  const tcp::endpoint ep(address, o.port);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                           ec.message());
  }
  return Status::OK();
}

}  // namespace

Status Server::ProbeListen(const ServerOptions& options) {
  if (!options.tls_cert.empty()) {
    std::shared_ptr<SslContext> probe;
    if (Status s = MakeTlsContext(options.tls_cert, options.tls_key, &probe); !s.ok()) return s;
  }
  asio::io_context ctx(1);
  tcp::acceptor acc(ctx);
  return BindAndListen(options, acc);  // closed again when `acc` goes
}

Status Server::Listen() {
  if (!impl_->opts.tls_cert.empty() && !impl_->tls) {
    auto tls = std::make_unique<TlsContextHolder>(impl_->opts.tls_cert, impl_->opts.tls_key);
    if (Status s = tls->Load(); !s.ok()) return s;
    impl_->tls = std::move(tls);
  }
  auto& acc = impl_->acceptor;
  if (Status s = BindAndListen(impl_->opts, acc); !s.ok()) return s;
  const auto local = acc.local_endpoint();
  // "[v6]:port", as a URL writes it.
  const std::string host = local.address().to_string();
  impl_->bound = (local.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(local.port());
  return Status::OK();
}

std::string Server::bound_address() const { return impl_->bound; }

void Server::Run() {
  Impl* impl = impl_.get();
  impl->feed->Start();
  impl->WaitSignal();
  impl->DoAccept();
  std::vector<std::thread> threads;
  // Keep every context running until StopAll(), even with no connection.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& c : impl->contexts) guards.push_back(asio::make_work_guard(*c));
  guards.push_back(asio::make_work_guard(impl->control));
  for (size_t i = 0; i < impl->contexts.size(); ++i) {
    threads.emplace_back([impl, i] { impl->contexts[i]->run(); });
  }
  impl->control.run();  // this thread: accepting, signals, timers
  for (auto& t : threads) t.join();
  // No sink may post to a context from here on.
  impl->feed->Stop();
}

Status Server::ReloadTls() { return impl_->ReloadTls(); }

bool Server::tls() const { return impl_->tls != nullptr; }

void Server::Stop() {
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->BeginStop(); });
}

}  // namespace casmem::net
