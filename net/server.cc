// The Beast/Asio side of casmemd: acceptor, per-connection sessions with
// pipelining, timeouts, connection limit, streaming of large listings and
// graceful shutdown. Requests are answered by the pure Handler; responses
// are released by the store's durability callbacks (Redis-style: a reply
// leaves only after the fsync that covers it).
#include "net/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "engine/conflict_turns.h"
#include "net/handler.h"
#include "wal/logger.h"

namespace casmem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class Session;

struct Server::Impl {
  Impl(Store* s, Metrics* m, const ServerOptions& o)
      : store(s), metrics(m), opts(o), handler(s, m), contexts(MakeContexts(o.threads)),
        ioc(*contexts[0]), acceptor(ioc), signals(ioc, SIGINT, SIGTERM) {
    if (o.conflict_turn.count() > 0) turns = std::make_unique<ConflictTurns>(o.conflict_turn);
  }
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> v;
    for (int i = 0; i < std::max(1, n); ++i) v.push_back(std::make_unique<asio::io_context>(1));
    return v;
  }
  // Round-robin over the contexts: each connection lives on one thread.
  asio::io_context& NextContext() { return *contexts[next_context++ % contexts.size()]; }
  void StopAll() {
    for (auto& c : contexts) c->stop();
  }
  // REQUIRES: the store has fired every durability callback (Store::Close)
  // before the Impl is destroyed: callbacks post to this io_context.

  void DoAccept();
  // Keeps a timer passing run-out turns while ConflictTurns tracks a key.
  void ArmTurnTimer();
  void TurnTick();
  void BeginStop();
  void Drain(std::chrono::steady_clock::time_point deadline);
  void RejectBusy(tcp::socket socket);

  Store* store;
  Metrics* metrics;
  const ServerOptions opts;
  Handler handler;
  // Declared before ioc so they outlive it: destroying ioc destroys queued
  // handlers, which may hold the last reference to a Session.
  std::atomic<size_t> active{0};
  std::atomic<bool> stopping{false};
  std::string bound;
  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  // One io_context per I/O thread (concurrency hint 1): a connection is
  // served by one thread only, so it needs no strand, and threads never
  // wake each other to hand over work. contexts[0] also runs the acceptor,
  // the signals and the drain timer.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  size_t next_context = 0;  // acceptor's thread only
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
};

namespace {

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

// Takes the handler's response by value: the body is moved, not copied.
http::response<http::string_body> ToBeast(HttpResponse r, unsigned version) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "casmemd");
  res.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
  return res;
}

}  // namespace

// One connection. All members are touched only on the connection's thread
// (its io_context runs on exactly one thread).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server::Impl* srv) : stream_(std::move(socket)), srv_(srv) {
    srv_->active.fetch_add(1);
  }
  ~Session() {
    {
      std::lock_guard lk(srv_->sessions_mu);
      srv_->sessions.erase(this);
    }
    srv_->active.fetch_sub(1);
  }

  void Start() {
    {
      std::lock_guard lk(srv_->sessions_mu);
      srv_->sessions.emplace(this, weak_from_this());
    }
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
  }

  // Server shutdown: answer what was read, then close.
  void Shutdown() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (self->queue_.empty() && !self->writing_) self->Close();
    });
  }

 private:
  // A response slot, in request order. `ready` once it may be sent.
  struct Pending {
    bool ready = false;
    bool keep_alive = true;
    unsigned version = 11;
    http::response<http::string_body> res;
    std::unique_ptr<ListStream> stream;
  };
  struct StreamState {
    http::response<http::empty_body> res;
    http::response_serializer<http::empty_body> sr{res};
    std::string chunk;
  };

  void DoRead() {
    if (reading_ || closing_ || closed_ || queue_.size() >= srv_->opts.max_pipelined) return;
    reading_ = true;
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(srv_->opts.max_body_bytes);
    parser_->eager(true);
    if (buffer_.size() > 0) return ParseBuffered();
    // Between requests: the idle timeout, until the first bytes arrive.
    stream_.expires_after(srv_->opts.idle_timeout);
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) {
                                self->reading_ = false;
                                return self->Close();
                              }
                              self->buffer_.commit(n);
                              self->ParseBuffered();
                            });
  }

  // Feeds what is buffered to the parser. A request that arrived whole (the
  // usual case) is handled at once; otherwise the rest is read with the
  // read timeout.
  void ParseBuffered() {
    beast::error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) break;
    }
    if (!ec && parser_->is_done()) return OnRead(ec);
    if (ec) return OnRead(ec);
    stream_.expires_after(srv_->opts.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    reading_ = false;
    if (ec == http::error::body_limit) {
      return Reply(Handler::Error(413, "request body too large"), 11, false);
    }
    if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      closing_ = true;
      if (queue_.empty() && !writing_) Close();
      return;
    }
    if (ec) return Reply(Handler::Error(400, "malformed HTTP request: " + ec.message()), 11, false);
    http::request<http::string_body> req = parser_->release();
    Handle(req);
    DoRead();
  }

  // A response decided without the handler (protocol errors); the
  // connection closes after it.
  void Reply(const HttpResponse& r, unsigned version, bool keep_alive) {
    auto p = std::make_shared<Pending>();
    p->res = ToBeast(r, version);
    p->keep_alive = keep_alive;
    p->ready = true;
    closing_ = true;
    queue_.push_back(p);
    srv_->metrics->CountRequest(Route::kUnknown, r.status);
    MaybeWrite();
  }

  void Handle(const http::request<http::string_body>& req) {
    auto p = std::make_shared<Pending>();
    p->keep_alive = req.keep_alive();
    p->version = req.version();
    if (!p->keep_alive) closing_ = true;  // no more requests on this connection
    queue_.push_back(p);
    const auto start = std::chrono::steady_clock::now();
    HandlerResult hr = srv_->handler.Handle(
        HttpRequest{View(req.method_string()), View(req.target()), req.body()});
    if (hr.stream) {
      p->stream = std::move(hr.stream);
      p->ready = true;
      srv_->metrics->CountRequest(hr.route, 200);
      return MaybeWrite();
    }
    if (ConflictTurns* turns = srv_->turns.get()) {
      if (hr.key_event == KeyEvent::kCommitted) {
        turns->Committed(hr.workspace, hr.key, start);
      } else if (hr.key_event == KeyEvent::kStaleConflict && !srv_->stopping.load()) {
        const bool now = turns->Enqueue(hr.workspace, hr.key, start, HeldConflict(p, hr, start));
        srv_->ArmTurnTimer();
        if (!now) {
          srv_->metrics->CountConflictHeld();
          return;  // answered when the key's turn comes to it
        }
      }
    }
    Deliver(p, std::move(hr), start);
  }

  // What a queued stale loser runs when its turn comes (on any thread):
  // back on the connection's thread, the 409 is rebuilt from the key's
  // state at that moment and delivered like any response.
  ConflictTurns::Release HeldConflict(const std::shared_ptr<Pending>& p, const HandlerResult& hr,
                                      std::chrono::steady_clock::time_point start) {
    return [self = shared_from_this(), p, ws = hr.workspace, key = hr.key, guard = hr.guard,
            route = hr.route, start] {
      asio::post(self->stream_.get_executor(), [self, p, ws, key, guard, route, start] {
        HandlerResult fresh = self->srv_->handler.ConflictNow(ws, key, guard);
        fresh.route = route;
        self->Deliver(p, std::move(fresh), start);
      });
    };
  }

  // Marks `p` ready once the result may be revealed (visibility contract).
  void Deliver(const std::shared_ptr<Pending>& p, HandlerResult hr,
               std::chrono::steady_clock::time_point start) {
    p->res = ToBeast(std::move(hr.response), p->version);
    const Route route = hr.route;
    const bool is_write = hr.is_write;
    if (srv_->store->IsVisible(hr.visible_lsn)) {
      // Already durable (most reads): answer without a hop through the
      // log's writer thread.
      srv_->metrics->CountRequest(route, p->res.result_int());
      p->ready = true;
      return MaybeWrite();
    }
    srv_->store->WhenVisible(hr.visible_lsn, [self = shared_from_this(), p, route, is_write,
                                              start](const Status& s) {
      // Runs on the log's writer thread: hop back to the connection's thread.
      asio::post(self->stream_.get_executor(), [self, p, route, is_write, start, ok = s.ok()] {
        if (!ok) p->res = ToBeast(Handler::ServiceUnavailable(), p->version);
        self->srv_->metrics->CountRequest(route, p->res.result_int());
        if (is_write) {
          self->srv_->metrics->ObserveWriteSeconds(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        p->ready = true;
        self->MaybeWrite();
      });
    });
  }

  void MaybeWrite() {
    if (writing_ || closed_ || queue_.empty() || !queue_.front()->ready) return;
    writing_ = true;
    auto p = queue_.front();
    const bool keep_alive = p->keep_alive && !srv_->stopping.load();
    if (p->stream) return WriteStream(p, keep_alive);
    p->res.keep_alive(keep_alive);
    p->res.prepare_payload();
    ArmWriteTimer();
    http::async_write(stream_, p->res,
                      [self = shared_from_this(), p, keep_alive](beast::error_code ec, size_t) {
                        self->OnWritten(ec, !keep_alive);
                      });
  }

  // A write to a client that stopped reading must time out too. While a
  // read is pending its timer covers the connection; re-arming the timer
  // costs a timer-queue update, so it is done only when no read is pending.
  void ArmWriteTimer() {
    if (!reading_) stream_.expires_after(srv_->opts.read_timeout);
  }

  void OnWritten(beast::error_code ec, bool close) {
    writing_ = false;
    if (ec) return Close();
    queue_.pop_front();
    if (close || (closing_ && queue_.empty())) return Close();
    MaybeWrite();
    DoRead();
  }

  void WriteStream(const std::shared_ptr<Pending>& p, bool keep_alive) {
    auto st = std::make_shared<StreamState>();
    st->res.result(http::status::ok);
    st->res.version(p->version);
    st->res.set(http::field::server, "casmemd");
    st->res.set(http::field::content_type, "application/json");
    st->res.keep_alive(keep_alive);
    st->res.chunked(true);
    ArmWriteTimer();
    http::async_write_header(stream_, st->sr,
                             [self = shared_from_this(), p, st, keep_alive](beast::error_code ec, size_t) {
                               if (ec) return self->Close();
                               self->NextChunk(p, st, keep_alive);
                             });
  }

  void NextChunk(std::shared_ptr<Pending> p, std::shared_ptr<StreamState> st, bool keep_alive) {
    uint64_t lsn = 0;
    if (!p->stream->Next(&st->chunk, &lsn)) {
      ArmWriteTimer();
      asio::async_write(stream_, http::make_chunk_last(),
                        [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                          self->OnWritten(ec, !keep_alive);
                        });
      return;
    }
    srv_->store->WhenVisible(lsn, [self = shared_from_this(), p, st, keep_alive](const Status& s) {
      asio::post(self->stream_.get_executor(), [self, p, st, keep_alive, ok = s.ok()] {
        // Mid-stream there is no status left to send: abort the connection.
        if (!ok) return self->Close();
        self->ArmWriteTimer();
        asio::async_write(self->stream_, http::make_chunk(asio::buffer(st->chunk)),
                          [self, p, st, keep_alive](beast::error_code ec, size_t) {
                            if (ec) return self->Close();
                            self->NextChunk(p, st, keep_alive);
                          });
      });
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Server::Impl* srv_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;  // read no more requests; close once the queue drains
  bool closed_ = false;
};

void Server::Impl::DoAccept() {
  acceptor.async_accept(NextContext(), [this](beast::error_code ec, tcp::socket socket) {
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
    if (active.load() >= opts.max_connections) {
      RejectBusy(std::move(socket));
    } else {
      // Responses are written whole; do not let Nagle hold the last segment.
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), this)->Start();
    }
    DoAccept();
  });
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
  auto s = std::make_shared<tcp::socket>(std::move(socket));
  asio::async_write(*s, asio::buffer(kResponse), [s](beast::error_code, size_t) {
    beast::error_code ignored;
    s->shutdown(tcp::socket::shutdown_both, ignored);
    s->close(ignored);
  });
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
  for (auto& s : live) s->Shutdown();
  live.clear();
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
  asio::io_context ctx(1);
  tcp::acceptor acc(ctx);
  return BindAndListen(options, acc);  // closed again when `acc` goes
}

Status Server::Listen() {
  auto& acc = impl_->acceptor;
  if (Status s = BindAndListen(impl_->opts, acc); !s.ok()) return s;
  const auto local = acc.local_endpoint();
  impl_->bound = local.address().to_string() + ":" + std::to_string(local.port());
  return Status::OK();
}

std::string Server::bound_address() const { return impl_->bound; }

void Server::Run() {
  Impl* impl = impl_.get();
  impl->signals.async_wait([impl](beast::error_code ec, int) {
    if (!ec) impl->BeginStop();
  });
  impl->DoAccept();
  std::vector<std::thread> threads;
  // Keep every context running until StopAll(), even with no connection.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& c : impl->contexts) guards.push_back(asio::make_work_guard(*c));
  for (size_t i = 1; i < impl->contexts.size(); ++i) {
    threads.emplace_back([impl, i] { impl->contexts[i]->run(); });
  }
  impl->contexts[0]->run();
  for (auto& t : threads) t.join();
}

void Server::Stop() {
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->BeginStop(); });
}

}  // namespace casmem::net
