// Session: one HTTP/1.1 connection of casmemd: reading and parsing
// requests (pipelined), the framing checks, its timers (idle, read, write
// progress), handing requests to the Handler, holding 409s for their
// key's turn, writing responses in order once the store says they may be
// revealed, streaming large listings, and the lingering close. Over TLS
// (--tls-cert) the same, after the handshake, through the SSL stream
// (ConnStream, net/tls_stream.h).
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>

#include <array>
#include <deque>

#include "net/guarded_write.h"
#include "net/http_framing.h"
#include "net/response_format.h"
#include "net/response_waiters.h"
#include "net/server_impl.h"
#include "net/tls_stream.h"
#include "net/watch_stream.h"

namespace casmem::net {

namespace http = beast::http;

namespace {

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

// What the handler sees: method, target, body and the header fields it
// acts on. Views into `req`, which must outlive the result.
HttpRequest ToHttpRequest(const http::request<http::string_body>& req) {
  HttpRequest out{View(req.method_string()), View(req.target()), req.body()};
  auto take = [&](std::string_view name, std::optional<std::string_view>* slot) {
    auto range = req.equal_range(beast::string_view(name.data(), name.size()));
    for (auto it = range.first; it != range.second; ++it) {
      if (*slot) {
        out.repeated_header = name;
        return;
      }
      *slot = View(it->value());
    }
  };
  take("Content-Type", &out.content_type);
  take("If-Match", &out.if_match);
  take("Idempotency-Key", &out.idempotency_key);
  take("Casmem-Writer", &out.writer);
  take("Last-Event-ID", &out.last_event_id);
  take("Origin", &out.origin);
  // Read by the MCP route only, so a repeat must not become every route's
  // 400: a repeated Accept counts as absent (its parts may only be judged
  // together), a repeated MCP-Protocol-Version as the invalid value "".
  auto take_lenient = [&](std::string_view name, std::optional<std::string_view>* slot,
                          std::optional<std::string_view> if_repeated) {
    auto range = req.equal_range(beast::string_view(name.data(), name.size()));
    if (range.first == range.second) return;
    *slot = View(range.first->value());
    if (std::next(range.first) != range.second) *slot = if_repeated;
  };
  take_lenient("Accept", &out.accept, std::nullopt);
  take_lenient("MCP-Protocol-Version", &out.mcp_protocol_version, std::string_view());
  // Last: when it is repeated, repeated_header names it whatever else is
  // repeated too (access control refuses that before anything else).
  take("Authorization", &out.authorization);
  return out;
}

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();

constexpr size_t kHeaderLimit = kMaxHeaderBytes;
constexpr int kNotSentLowWatermark = 256 * 1024;
using NotSentLowWatermark = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>;
constexpr size_t kReadSize = 16 * 1024;
// How long an orderly TLS close waits for the client's close_notify (or
// its close) when nothing more is expected from it.
constexpr std::chrono::milliseconds kTlsCloseTime{1000};
// The most a connection buffers of what it has not parsed yet. Beast 1.81
// bounds a header (header_limit) and a body (body_limit) but not a chunk
// size/extension line nor a trailer, which it keeps unconsumed until their
// CRLF: without this cap one such line grows the buffer without end. Every
// prepare() on buffer_ asks for at most kReadSize or 64 KiB (Beast's reads
// take what the cap leaves and fail with buffer_overflow at the cap).
constexpr size_t kBufferLimit = 256 * 1024;
static_assert(kBufferLimit > kHeaderLimit + kReadSize && kBufferLimit >= 64 * 1024);

// The client will send no more: EOF, or over TLS its close_notify (also
// EOF) or a TCP close without one (stream_truncated).
bool IsPeerEof(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == http::error::partial_message ||
         ec == asio::ssl::error::stream_truncated;
}

// A connection's identity as a conflict-turn holder: never reused, so a
// new connection can never inherit a closed one's turn.
ConflictTurns::Holder NextHolder() {
  static std::atomic<ConflictTurns::Holder> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

// A 409 held for its key's turn, or a guarded write deferred until its
// turn (`request` set), in ConflictTurns' queue.
struct HeldTurn {
  std::shared_ptr<TurnTicket> ticket;
  std::string workspace, key;
  uint64_t guard = 0;
  Route route = Route::kUnknown;
  std::chrono::steady_clock::time_point start;
  std::unique_ptr<http::request<http::string_body>> request;  // a deferred write
};

// A blocking read or long-poll waiting for a change (HandlerResult::wait):
// run again when the change feed wakes it, at its wake time, when its
// client half-closes, or at shutdown.
struct ParkedRequest {
  std::unique_ptr<http::request<http::string_body>> request;
  std::chrono::steady_clock::time_point start, deadline;
  uint64_t subscription = 0;
  std::optional<asio::steady_timer> timer;
  uint64_t generation = 0;  // tells a stale wake-up from the current one
};

// The change feed's side of a parked request: wakes it on the first
// matching change (or if its `since` is compacted) and ends.
class WakeSink : public ChangeFeed::Sink {
 public:
  explicit WakeSink(std::function<void()> wake) : wake_(std::move(wake)) {}
  bool Deliver(std::span<const FeedEvent>) override {
    wake_();
    return false;
  }
  size_t Room() override { return 1; }  // one record is enough to wake
  void Compacted(uint64_t, const Status&) override { wake_(); }

 private:
  std::function<void()> wake_;
};

// A response slot of a Session, in request order. `ready` once it may be
// sent. Shared with the thread's ResponseWaiters while it waits for its
// lsn to be acknowledged.
struct PendingResponse {
  bool ready = false;
  bool keep_alive = true;
  unsigned version = 11;
  HttpResponse response;
  std::unique_ptr<ListStream> stream;
  std::unique_ptr<HeldTurn> held;  // set while waiting for a conflict turn
  std::unique_ptr<ParkedRequest> parked;  // set while waiting for a change
  std::optional<WatchStart> watch;        // a watch: the connection becomes its stream
  // Set while waiting for visibility: what the release counts in the metrics.
  Route route = Route::kUnknown;
  bool is_write = false;
  std::chrono::steady_clock::time_point start;
};


// One connection. All members are touched only on the connection's thread
// (its io_context runs on exactly one thread).
//
// Timers: one steady_timer per connection, always armed while it is open,
// never moved earlier on the request path. Each phase sets a deadline field
// (a clock read, no timer-queue update):
// - idle: nothing being served (no response pending or being written, no
//   request partly read) since idle_since_: --idle-timeout;
// - read: a request has begun arriving: --read-timeout to receive it whole;
// - write: a socket write is in progress: it must make progress (the client
//   accepts some bytes) within --read-timeout; each partial write renews it,
//   and so does each tick that finds the kernel's send queue shrunk
//   (PeerTookBytes), so a stream read slowly but steadily is not cut;
// - nothing while a response waits on the server (fsync, a conflict turn,
//   the next page of a stream).
// The timer fires at least every min(idle, read) timeout, checks the
// effective deadline and re-arms at min(deadline, now + that minimum).
// Invariant: a deadline set at time t is >= t + that minimum >= the timer's
// expiry, so setting one never needs to re-arm; only the lingering close
// (shorter) re-arms.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ConnStream&& conn, Server::Impl* srv, ResponseWaiters* waiters)
      : conn_(std::move(conn)),
        timer_(conn_.get_executor()),
        srv_(srv),
        waiters_(waiters),
        tick_(std::min(srv->opts.idle_timeout, srv->opts.read_timeout)) {
    srv_->active.fetch_add(1);
    beast::error_code ec;
    const auto remote = conn_.lowest().remote_endpoint(ec);
    if (!ec) peer_ = remote.address().to_string();
  }
  ~Session() {
    {
      std::lock_guard lk(srv_->sessions_mu);
      srv_->sessions.erase(this);
    }
    if (counted_) srv_->active.fetch_sub(1);
  }

  void Start() {
    {
      std::lock_guard lk(srv_->sessions_mu);
      srv_->sessions.emplace(this, weak_from_this());
    }
    asio::dispatch(conn_.get_executor(), [self = shared_from_this()] {
      self->idle_since_ = Clock::now();
      self->ArmTimer(self->idle_since_ + self->tick_);
      if (self->conn_.tls()) return self->StartTls();
      self->handshake_done_ = true;
      self->DoRead();
    });
  }

  // Server shutdown: answer what was read, then close.
  void Shutdown() {
    asio::post(conn_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      self->WakeAllParked();  // answered with the state now
      if (self->lingering_ || !self->handshake_done_) return self->Close();
      // Over TLS, an idle connection ends with close_notify (Linger), and
      // briefly: nothing is unread, so the close cannot turn into a reset.
      if (self->queue_.empty() && !self->writing_) {
        self->conn_.tls() ? self->Linger(kTlsCloseTime) : self->Close();
      }
    });
  }

  // ResponseWaiters: `p`'s lsn is acknowledged (`ok`), or never will be
  // (the log failed or closed: a 503, as the handler's contract says).
  void Released(const std::shared_ptr<PendingResponse>& p, bool ok) {
    if (!ok) p->response = Handler::ServiceUnavailable();
    srv_->metrics->CountRequest(p->route, p->response.status);
    if (p->is_write) {
      srv_->metrics->ObserveWriteSeconds(std::chrono::duration<double>(Clock::now() - p->start).count());
    }
    p->ready = true;
    MaybeWrite();
  }

 private:
  using Pending = PendingResponse;
  using Held = HeldTurn;
  struct StreamState {
    http::response<http::empty_body> res;
    http::response_serializer<http::empty_body> sr{res};
    std::string chunk;
  };

  // ---- TLS ----

  // The handshake, under --read-timeout (a client that connects and never
  // completes it is cut like one that never completes a request). A first
  // byte that cannot begin a TLS handshake is a plain HTTP client: it gets
  // a 400 in plain text (as Go's net/http answers) instead of a reset.
  void StartTls() {
    read_deadline_ = Clock::now() + srv_->opts.read_timeout;
    reading_ = true;
    beast::async_detect_ssl(conn_.lowest(), buffer_, [self = shared_from_this()](beast::error_code ec, bool tls) {
      if (ec || self->closed_) return self->HandshakeFailed(ec);
      if (!tls) return self->RejectPlainHttp();
      self->conn_.tls_stream().async_handshake(
          asio::ssl::stream_base::server, self->buffer_.data(),
          // The default argument: Beast 1.81 checks this buffered
          // handshake's handler against the unbuffered signature.
          [self](beast::error_code ec, size_t used = 0) {
            if (ec || self->closed_) return self->HandshakeFailed(ec);
            self->buffer_.consume(used);
            self->reading_ = false;
            self->read_deadline_ = kNever;
            self->idle_since_ = Clock::now();
            self->handshake_done_ = true;
            if (self->closing_) return self->Linger();  // shutdown began meanwhile
            self->DoRead();
          });
    });
  }

  // Counted unless the client only connected and left (a port probe).
  void HandshakeFailed(beast::error_code ec) {
    reading_ = false;
    if (ec != asio::error::eof) srv_->metrics->CountTlsHandshakeFailure();
    Close();
  }

  void RejectPlainHttp() {
    reading_ = false;
    read_deadline_ = kNever;
    handshake_done_ = true;
    conn_.DropTls();
    Reply(Handler::Error(400, "this port speaks HTTPS; use https://"), 11);
  }

  // The orderly end of a TLS connection (Linger): close_notify, then what
  // the client still sends is discarded from the raw socket until it
  // closes, kLingerBytes or the linger deadline. Runs with no read pending
  // (Linger cancels one and its handler calls this).
  void TlsShutdown() {
    if (tls_shutdown_ || closed_) return;
    tls_shutdown_ = true;
    conn_.tls_stream().async_shutdown([self = shared_from_this()](beast::error_code) {
      // Done: the client's close_notify came, or it closed, or it sent
      // more (an error once ours is out): either way drain raw bytes.
      if (self->closed_) return;
      beast::error_code ec;
      self->conn_.lowest().shutdown(tcp::socket::shutdown_send, ec);
      self->buffer_.clear();
      self->LingerRead();
    });
  }

  // Whether a read through the TLS stream is pending (at most one is).
  bool TlsReadPending() const { return reading_ || watching_ || watching_parked_; }

  // ---- timers ----

  void ArmTimer(Clock::time_point at) {
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
  }

  Clock::time_point Deadline() const {
    Clock::time_point d = std::min(read_deadline_, write_deadline_);
    if (queue_.empty() && !writing_ && read_deadline_ == kNever) {
      d = std::min(d, idle_since_ + srv_->opts.idle_timeout);
    }
    if (lingering_) d = std::min(d, linger_deadline_);
    return d;
  }

  void OnTimer(beast::error_code ec) {
    // Aborted: Close() cancelled it, or a newer wait replaced this one.
    if (ec || closed_) return;
    const auto now = Clock::now();
    if (write_deadline_ != kNever && PeerTookBytes()) WriteProgress();
    const auto deadline = Deadline();
    if (deadline <= now) return Close();
    ArmTimer(std::min(deadline, now + tick_));
  }

  // Starts a socket write's (or a partial write's) progress deadline.
  void WriteProgress() { write_deadline_ = Clock::now() + srv_->opts.read_timeout; }

  // Whether the kernel's send queue (unsent + unacknowledged bytes) changed
  // since the last call. While a write is pending no byte is added to it,
  // so a change means the peer took bytes. Asked on each timer tick while
  // a write is pending: with TCP_NOTSENT_LOWAT the socket turns writable
  // only once half the mark is unsent, so a client reading slowly but
  // steadily can take longer than --read-timeout to let a write complete;
  // this renews the write deadline meanwhile. A client that stops reading
  // leaves the queue unchanged and is cut within about --read-timeout plus
  // one tick. (A write completing between two ticks renews the deadline
  // itself, so a queue back at the same size misses nothing.)
  bool PeerTookBytes() {
    int queued = 0;
    if (::ioctl(conn_.lowest().native_handle(), SIOCOUTQ, &queued) != 0) return false;
    const bool changed = queued != last_send_queue_;
    last_send_queue_ = queued;
    return changed;
  }

  // ---- reading ----

  void DoRead() {
    if (handing_off_) return;  // the watch stream reads the socket
    if (watching_parked_ && conn_.tls()) {
      // WatchParkedClose's TLS read must end first (one read at a time);
      // its handler reads on. Woken meanwhile: it is cut short (terminal:
      // the only kind Asio's SSL operations pass on; no byte is lost, as
      // what was read is in the SSL engine already).
      if (!deferred_ || closing_) park_cancel_.emit(asio::cancellation_type::terminal);
      return;
    }
    if (closing_) return WatchForClose();
    // While a write is deferred, the requests behind it wait unread: a
    // pipelined request must not run before the one sent ahead of it. (Nor
    // is a close seen meanwhile: a deferred write whose client left runs at
    // its turn, which costs the key no round trip, and the close is seen
    // right after.)
    if (reading_ || closed_ || deferred_ || queue_.size() >= srv_->opts.max_pipelined) return;
    reading_ = true;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(srv_->opts.max_body_bytes);
    // Not eager until the header is checked (Transfer-Encoding), so that
    // no body byte is parsed under framing we refuse.
    parser_->eager(false);
    header_checked_ = false;
    if (buffer_.size() > 0) return ParseBuffered();
    conn_.Visit([&](auto& stream) {
      stream.async_read_some(buffer_.prepare(kReadSize), [self = shared_from_this()](beast::error_code ec, size_t n) {
        if (ec) return self->OnRead(ec);
        self->buffer_.commit(n);
        self->ParseBuffered();
      });
    });
  }

  // Feeds what is buffered to the parser. A request that arrived whole (the
  // usual case) is handled at once; otherwise the rest is read under the
  // read timeout, which starts now.
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
      if (parser_->is_header_done() && !header_checked_ && !CheckHeader()) return;
    }
    if (ec || parser_->is_done()) return OnRead(ec);
    if (read_deadline_ == kNever) read_deadline_ = Clock::now() + srv_->opts.read_timeout;
    conn_.Visit([&](auto& stream) {
      if (!parser_->is_header_done()) {
        http::async_read_header(stream, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec || self->lingering_) return self->OnRead(ec ? ec : asio::error::operation_aborted);
          if (!self->CheckHeader()) return;
          self->ParseBuffered();
        });
        return;
      }
      http::async_read(stream, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
    });
  }

  // Runs once per request, when its header is parsed. False: refused (the
  // error reply is queued and nothing more is read).
  bool CheckHeader() {
    header_checked_ = true;
    const auto& req = parser_->get();
    std::vector<std::string_view> te;
    for (auto [it, end] = req.equal_range(http::field::transfer_encoding); it != end; ++it) {
      te.push_back(View(it->value()));
    }
    if (auto err = TransferEncodingError(te, req.version(), req.count(http::field::content_length) > 0,
                                         parser_->chunked())) {
      reading_ = false;
      read_deadline_ = kNever;
      Reply(*err, 11);
      return false;
    }
    // A body is read (or invited with 100 Continue) only from a client
    // that may be served: an unauthenticated one is answered now and the
    // connection lingers (bounded) instead of buffering its body.
    if (parser_->chunked() || parser_->content_length().value_or(0) > 0) {
      HttpRequest hreq = ToHttpRequest(req);
      hreq.remote_address = peer_;
      if (auto refused = srv_->handler.RefuseBeforeBody(hreq)) {
        reading_ = false;
        read_deadline_ = kNever;
        Reply(*refused, req.version());
        return false;
      }
    }
    parser_->eager(true);
    MaybeContinue();
    return true;
  }

  // `Expect: 100-continue` (RFC 9110 §10.1.1): the client waits for an
  // interim 100 before sending the body. Sent only when no response is
  // pending or being written (the 100 must not overtake an earlier
  // request's response); otherwise the client's own wait runs out and it
  // sends the body anyway. A body over the limit never gets here: Beast
  // fails the header with body_limit and the 413 goes at once.
  void MaybeContinue() {
    const auto& req = parser_->get();
    if (req.version() < 11 || writing_ || !queue_.empty()) return;
    const auto expect = req.find(http::field::expect);
    if (expect == req.end() || !beast::iequals(expect->value(), "100-continue")) return;
    const auto length = parser_->content_length();
    if (!parser_->chunked() && (!length || *length == 0)) return;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    writing_ = true;  // a response ready meanwhile waits for the 100 (MaybeWrite)
    WriteProgress();
    conn_.Visit([&](auto& stream) {
      asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->writing_ = false;
                          self->write_deadline_ = kNever;
                          if (ec) return self->Close();
                          self->MaybeWrite();
                        });
    });
  }

  void OnRead(beast::error_code ec) {
    reading_ = false;
    read_deadline_ = kNever;
    if (closed_) return;
    if (lingering_ && conn_.tls()) return TlsShutdown();  // Linger cancelled this read
    if (ec == http::error::body_limit) return Reply(Handler::Error(413, "request body too large"), 11);
    if (ec == http::error::header_limit ||
        (ec == http::error::buffer_overflow && parser_ && !parser_->is_header_done())) {
      return Reply(Handler::Error(431, "request header fields too large"), 11);
    }
    if (ec == http::error::buffer_overflow) {
      return Reply(Handler::Error(400, "chunk size line or trailer too long"), 11);
    }
    if (IsPeerEof(ec)) {
      // The client will send no more. A held 409 is answered now: its
      // client may have gone (it must not hold the key's turn) or only
      // half-closed (it still reads).
      closing_ = true;
      peer_eof_ = true;
      AnswerHeldNow();
      if (queue_.empty() && !writing_) Close();
      return;
    }
    if (ec == asio::error::operation_aborted || ec == asio::error::connection_reset) return Close();
    if (ec) return Reply(Handler::Error(400, "malformed HTTP request: " + ec.message()), 11);
    Handle(parser_->release());
    DoRead();
  }

  // A response decided without the handler (protocol errors). Nothing more
  // is read as requests; after it, the connection lingers, then closes.
  void Reply(const HttpResponse& r, unsigned version) {
    auto p = std::make_shared<Pending>();
    p->response = r;
    p->version = version;
    p->keep_alive = false;
    p->ready = true;
    closing_ = true;
    linger_on_close_ = true;
    queue_.push_back(p);
    srv_->metrics->CountRequest(Route::kUnknown, r.status);
    MaybeWrite();
  }

  // ---- handling ----

  void Handle(http::request<http::string_body>&& req) {
    auto p = std::make_shared<Pending>();
    p->keep_alive = req.keep_alive();
    p->version = req.version();
    if (!p->keep_alive) closing_ = true;  // no more requests on this connection
    queue_.push_back(p);
    const auto start = Clock::now();
    ConflictTurns* turns = srv_->turns.get();
    // Only while some key is contended is a request looked at before it
    // runs: a guarded write of a key whose turn another client holds
    // waits for its own turn (ConflictTurns::AdmitWrite).
    if (turns != nullptr && turns->tracked_keys() > 0 && !srv_->stopping.load()) {
      HttpRequest hreq = ToHttpRequest(req);
      hreq.remote_address = peer_;
      AccessControl* access = srv_->handler.access();
      // Only a request that may write the key waits for (and so takes part
      // in) its turn; any other runs now and is refused.
      auto g = GuardedWriteOf(hreq);
      if (g && access != nullptr && !access->MayWrite(hreq, g->workspace)) g.reset();
      if (g) {
        auto ticket = std::make_shared<TurnTicket>();
        if (!turns->AdmitWrite(g->workspace, g->key, holder_, g->guard, start, DeferredWrite(p), ticket)) {
          p->held = std::make_unique<Held>(Held{std::move(ticket), std::move(g->workspace),
                                                std::move(g->key), 0, Route::kUnknown, start,
                                                std::make_unique<http::request<http::string_body>>(
                                                    std::move(req))});
          deferred_ = true;
          srv_->metrics->CountWriteDeferred();
          srv_->ArmTurnTimer();
          return;  // run when the key's turn comes to it
        }
      }
    }
    Run(p, req, start);
  }

  // Runs request `req` of slot `p`, and tells ConflictTurns what it did.
  void Run(const std::shared_ptr<Pending>& p, const http::request<http::string_body>& req,
           Clock::time_point start,
           std::optional<Clock::time_point> wait_deadline = std::nullopt) {
    HandlerResult hr;
    {
      // What the request appends waits for this thread's LeadCommit,
      // posted when its response waits (ResponseWaiters), instead of
      // waking the log's writer thread to race it.
      wal::Wal::LeaderToCome leader(srv_->store->wal());
      HttpRequest hreq = ToHttpRequest(req);
      hreq.remote_address = peer_;
      hreq.wait_deadline = wait_deadline;
      hr = srv_->handler.Handle(hreq);
    }
    if (hr.watch) {
      // The connection becomes the watch's stream once the responses
      // ahead of it are sent (MaybeWrite); nothing more is read as requests.
      p->watch = std::move(hr.watch);
      closing_ = true;
      handing_off_ = true;
      p->ready = true;
      srv_->metrics->CountRequest(hr.route, 200);
      return MaybeWrite();
    }
    if (hr.wait) return Park(p, req, start, *hr.wait);
    if (hr.stream) {
      p->stream = std::move(hr.stream);
      // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): the body is sent
      // unframed and ends with the connection.
      if (p->version < 11) {
        p->keep_alive = false;
        closing_ = true;
      }
      p->ready = true;
      srv_->metrics->CountRequest(hr.route, 200);
      return MaybeWrite();
    }
    if (ConflictTurns* turns = srv_->turns.get()) {
      if (hr.key_event == KeyEvent::kCommitted) {
        turns->Committed(hr.workspace, hr.key, holder_, Clock::now());
      } else if (hr.key_event == KeyEvent::kStaleConflict && !srv_->stopping.load()) {
        p->held = std::make_unique<Held>(
            Held{std::make_shared<TurnTicket>(), hr.workspace, hr.key, hr.guard, hr.route, start, nullptr});
        const bool now =
            turns->Enqueue(hr.workspace, hr.key, holder_, hr.current_version, Clock::now(), HeldConflict(p),
                           p->held->ticket);
        srv_->ArmTurnTimer();
        if (!now) {
          srv_->metrics->CountConflictHeld();
          return;  // answered when the key's turn comes to it
        }
        p->held.reset();
      }
    }
    Deliver(p, std::move(hr), start);
  }

  // Keeps request `req` of slot `p` until a change may have answered it
  // (the feed), its wake time, the client's EOF or shutdown; then runs it
  // again with its deadline. The requests behind it wait unread, as
  // behind a deferred write.
  void Park(const std::shared_ptr<Pending>& p, const http::request<http::string_body>& req,
            Clock::time_point start, const WaitFor& wait) {
    auto parked = std::make_unique<ParkedRequest>();
    parked->request = std::make_unique<http::request<http::string_body>>(req);
    parked->start = start;
    parked->deadline = wait.deadline;
    parked->generation = ++park_generation_;
    const uint64_t gen = parked->generation;
    if (srv_->stopping.load()) {
      // Shutdown: answer with the state now.
      p->parked = std::move(parked);
      deferred_ = true;
      srv_->metrics->WaitBegan();
      return WakeParked(p, gen, true);
    }
    auto sink = std::make_shared<WakeSink>([weak = weak_from_this(), p, gen] {
      if (auto self = weak.lock()) {
        asio::post(self->conn_.get_executor(), [self, p, gen] { self->WakeParked(p, gen, false); });
      }
    });
    parked->subscription = srv_->feed->Subscribe(wait.filter, wait.since, std::move(sink));
    parked->timer.emplace(conn_.get_executor());
    parked->timer->expires_at(wait.wake_at);
    parked->timer->async_wait([self = shared_from_this(), p, gen](beast::error_code ec) {
      if (!ec) self->WakeParked(p, gen, false);
    });
    p->parked = std::move(parked);
    deferred_ = true;
    srv_->metrics->WaitBegan();
    WatchParkedClose();
  }

  // Ends `p`'s wait (if `gen` is still its current one) and runs its
  // request again; `now`: with its deadline passed (shutdown, EOF).
  void WakeParked(const std::shared_ptr<Pending>& p, uint64_t gen, bool now) {
    if (closed_ || !p->parked || p->parked->generation != gen) return;
    std::unique_ptr<ParkedRequest> parked = std::move(p->parked);
    Unpark(*parked);
    deferred_ = false;
    const auto deadline = now ? std::min(parked->deadline, Clock::now()) : parked->deadline;
    Run(p, *parked->request, parked->start, deadline);
    DoRead();
  }

  void Unpark(ParkedRequest& parked) {
    if (parked.subscription != 0) srv_->feed->Cancel(parked.subscription);
    parked.subscription = 0;
    if (parked.timer) parked.timer->cancel();
    srv_->metrics->WaitEnded();
  }

  // Every parked request is answered now (shutdown, the client's EOF).
  void WakeAllParked() {
    for (size_t i = 0; i < queue_.size(); ++i) {
      auto p = queue_[i];
      if (p->parked) WakeParked(p, p->parked->generation, true);
    }
  }

  // While a request waits, no request is parsed, but the client's close
  // must still be seen (or a client gone would hold its connection and
  // its wait until the deadline). The socket is waited on for readability
  // (no read is pending, so the buffer stays the parser's); what arrives
  // meanwhile is read into the buffer, where the next parse finds it
  // (pipelined requests keep their order), up to the buffer's bound.
  // Readable with nothing to read is EOF: answered at once with the state
  // now, like a held 409 (a client that half-closed still reads). An
  // error closes. With `Connection: close` WatchForClose does this job.
  void WatchParkedClose() {
    if (watching_parked_ || reading_ || closing_ || closed_ || peer_eof_) return;
    if (buffer_.size() + kReadSize > kBufferLimit) return;  // pipelined that much: stop looking
    watching_parked_ = true;
    if (conn_.tls()) return WatchParkedCloseTls();
    conn_.lowest().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      self->watching_parked_ = false;
      // Woken meanwhile: the parser reads again (or will), not this.
      if (self->closed_ || !self->deferred_ || self->reading_ || self->closing_) return;
      beast::error_code rec;
      const size_t available = ec ? 0 : self->conn_.lowest().available(rec);
      if (ec || rec) return self->Close();
      if (available == 0) {
        self->peer_eof_ = true;
        self->closing_ = true;
        self->WakeAllParked();
        if (self->queue_.empty() && !self->writing_) self->Close();
        return;
      }
      // Does not block: the bytes are there.
      const size_t n = self->conn_.lowest().read_some(
          self->buffer_.prepare(std::min(available, kReadSize)), rec);
      if (rec) return self->Close();
      self->buffer_.commit(n);
      self->WatchParkedClose();
    });
  }

  // WatchParkedClose over TLS: bytes on the socket may be a record that
  // is not data (a TLS 1.3 key update) and a close is a close_notify, so
  // the stream itself is read, into the buffer as above. The read stays
  // pending until something arrives: DoRead, once the request is woken,
  // cuts it short (park_cancel_) and this handler reads on.
  void WatchParkedCloseTls() {
    conn_.tls_stream().async_read_some(
        buffer_.prepare(kReadSize),
        asio::bind_cancellation_slot(park_cancel_.slot(), [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->watching_parked_ = false;
          if (self->closed_) return;
          if (self->lingering_) return self->TlsShutdown();  // Linger cancelled this read
          self->buffer_.commit(n);
          if (ec && ec != asio::error::operation_aborted) {
            if (!IsPeerEof(ec)) return self->Close();
            // As OnRead's EOF and the plain path's: answered with the
            // state now, the connection closes once they are sent.
            self->peer_eof_ = true;
            self->closing_ = true;
            self->AnswerHeldNow();
            self->WakeAllParked();
            if (self->queue_.empty() && !self->writing_) self->Close();
            return;
          }
          if (self->deferred_ && !self->closing_) return self->WatchParkedClose();
          self->DoRead();  // woken meanwhile: the parser reads on
        }));
  }

  // What a queued stale loser runs when its turn comes (on any thread; the
  // queue has claimed its ticket): back on the connection's thread, the
  // 409 is rebuilt from the key's state at that moment and delivered.
  // It keeps the session alive while queued; a closed session's waiter is
  // withdrawn (Close) and freed when the queue skips it.
  ConflictTurns::Release HeldConflict(const std::shared_ptr<Pending>& p) {
    return [self = shared_from_this(), p] {
      asio::post(self->conn_.get_executor(), [self, p] { self->AnswerHeld(p); });
    };
  }

  // What a deferred write runs when its turn comes: back on the
  // connection's thread, the write runs (as the key's turn holder), then
  // the requests read behind it.
  ConflictTurns::Release DeferredWrite(const std::shared_ptr<Pending>& p) {
    return [self = shared_from_this(), p] {
      asio::post(self->conn_.get_executor(), [self, p] { self->RunDeferred(p); });
    };
  }

  void RunDeferred(const std::shared_ptr<Pending>& p) {
    if (closed_) return;
    std::unique_ptr<Held> held = std::move(p->held);
    deferred_ = false;
    Run(p, *held->request, held->start);
    DoRead();
  }

  void AnswerHeld(const std::shared_ptr<Pending>& p) {
    if (closed_) return;
    if (p->held->request) return RunDeferred(p);
    std::unique_ptr<Held> held = std::move(p->held);
    HandlerResult fresh = srv_->handler.ConflictNow(held->workspace, held->key, held->guard);
    fresh.route = held->route;
    Deliver(p, std::move(fresh), held->start);
  }

  // The client will read no more (or no longer waits): every held 409 or
  // deferred write whose ticket this side claims leaves the key's queue
  // (the turn skips it). `answer` (the client sent EOF, it may still
  // read): a held 409 is answered with the key's state now, a deferred
  // write keeps its place and runs at its turn; else both are dropped.
  void WithdrawHeld(bool answer) {
    for (size_t i = 0; i < queue_.size(); ++i) {
      auto p = queue_[i];  // a copy: AnswerHeld may write, not pop
      // A deferred write of a client that may still read (EOF, answer)
      // stays queued: run now it would overtake the turn's holder.
      if (answer && p->held && p->held->request) continue;
      if (p->held && p->held->ticket->Claim()) {
        if (answer) {
          AnswerHeld(p);
        } else {
          p->held.reset();
        }
      }
    }
  }
  void AnswerHeldNow() { WithdrawHeld(true); }

  // Marks `p` ready once the result may be revealed (visibility contract).
  void Deliver(const std::shared_ptr<Pending>& p, HandlerResult hr, Clock::time_point start) {
    p->response = std::move(hr.response);
    if (srv_->store->IsVisible(hr.visible_lsn)) {
      // Already durable (most reads): answer without a hop through the
      // log's writer thread.
      srv_->metrics->CountRequest(hr.route, p->response.status);
      p->ready = true;
      return MaybeWrite();
    }
    // Released (Released()) by this thread's waiters, in a later handler.
    p->route = hr.route;
    p->is_write = hr.is_write;
    p->start = start;
    waiters_->Add(hr.visible_lsn, shared_from_this(), p);
  }

  // ---- writing ----

  void MaybeWrite() {
    if (writing_ || closed_ || queue_.empty() || !queue_.front()->ready) return;
    auto p = queue_.front();
    if (p->watch) return HandOff(std::move(*p->watch));
    writing_ = true;
    const bool keep_alive = p->keep_alive && !srv_->stopping.load();
    if (p->stream) return WriteStream(p, keep_alive);
    FormatResponseHead(p->response, p->version, keep_alive, &head_);
    sent_ = 0;
    WriteSome(p, keep_alive);
  }

  // One write_some per step (a small response is one step), so that each
  // bit of progress renews the write deadline. The head (head_) and the
  // body go as one gather; sent_ counts the bytes of both already taken.
  void WriteSome(const std::shared_ptr<Pending>& p, bool keep_alive) {
    WriteProgress();
    const std::string& body = p->response.body;
    std::array<asio::const_buffer, 2> bufs;
    if (sent_ < head_.size()) {
      bufs = {asio::buffer(head_) + sent_, asio::buffer(body)};
    } else {
      bufs = {asio::buffer(body) + (sent_ - head_.size()), asio::const_buffer()};
    }
    conn_.Visit([&](auto& stream) {
      stream.async_write_some(bufs, [self = shared_from_this(), p, keep_alive](beast::error_code ec, size_t n) {
        self->sent_ += n;
        if (!ec && self->sent_ < self->head_.size() + p->response.body.size()) return self->WriteSome(p, keep_alive);
        self->OnWritten(ec, !keep_alive);
      });
    });
  }

  void OnWritten(beast::error_code ec, bool close) {
    writing_ = false;
    write_deadline_ = kNever;
    if (ec) return Close();
    queue_.pop_front();
    if (close || (closing_ && queue_.empty())) {
      // TLS: always the orderly end (close_notify), bounded like a linger
      // after an early refusal, else briefly (the client is not sending).
      if (conn_.tls()) return Linger(linger_on_close_ && !srv_->stopping.load() ? kLingerTime : kTlsCloseTime);
      return linger_on_close_ && !srv_->stopping.load() ? Linger() : Close();
    }
    if (queue_.empty()) idle_since_ = Clock::now();
    MaybeWrite();
    DoRead();
  }

  void WriteStream(const std::shared_ptr<Pending>& p, bool keep_alive) {
    auto st = std::make_shared<StreamState>();
    st->res.result(http::status::ok);
    st->res.version(p->version);
    st->res.set(http::field::server, "casmemd");
    st->res.set(http::field::content_type, "application/json");
    st->res.set("Casmem-Revision", std::to_string(p->stream->revision()));
    // An HTTP/1.0 stream is unframed: its end is the close (Handle made it
    // not keep-alive), after a lingering one so that what the client still
    // sends cannot turn the close into a reset that loses the body's tail.
    const bool framed = p->version >= 11;
    st->res.keep_alive(keep_alive && framed);
    if (framed) st->res.chunked(true);
    WriteProgress();
    conn_.Visit([&](auto& stream) {
      http::async_write_header(stream, st->sr,
                               [self = shared_from_this(), p, st, keep_alive](beast::error_code ec, size_t) {
                                 self->write_deadline_ = kNever;
                                 if (ec) return self->Close();
                                 self->NextChunk(p, st, keep_alive);
                               });
    });
  }

  // asio::async_write's completion condition, asked before each
  // write_some: renews the write deadline on every bit of progress.
  auto Progress() {
    return [this](const beast::error_code& ec, size_t) -> size_t {
      if (ec) return 0;
      WriteProgress();
      return 64 * 1024;
    };
  }

  void NextChunk(std::shared_ptr<Pending> p, std::shared_ptr<StreamState> st, bool keep_alive) {
    uint64_t lsn = 0;
    if (!p->stream->Next(&st->chunk, &lsn)) {
      if (p->version < 11) {
        linger_on_close_ = true;
        return OnWritten({}, true);
      }
      conn_.Visit([&](auto& stream) {
        asio::async_write(stream, http::make_chunk_last(), Progress(),
                          [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                            self->OnWritten(ec, !keep_alive);
                          });
      });
      return;
    }
    // While the page waits for its fsync, no deadline runs: the wait is ours.
    srv_->store->WhenVisible(lsn, [self = shared_from_this(), p, st, keep_alive](const Status& s) {
      asio::post(self->conn_.get_executor(), [self, p, st, keep_alive, ok = s.ok()] {
        // Mid-stream there is no status left to send: abort the connection.
        if (!ok || self->closed_) return self->Close();
        auto next = [self, p, st, keep_alive](beast::error_code ec, size_t) {
          self->write_deadline_ = kNever;
          if (ec) return self->Close();
          self->NextChunk(p, st, keep_alive);
        };
        self->conn_.Visit([&](auto& stream) {
          if (p->version < 11) {
            asio::async_write(stream, asio::buffer(st->chunk), self->Progress(), std::move(next));
          } else {
            asio::async_write(stream, http::make_chunk(asio::buffer(st->chunk)), self->Progress(), std::move(next));
          }
        });
      });
    });
  }

  // The watch request is at the front: every response before it is sent.
  // The socket goes to a WatchStream (which counts as a connection while
  // it lives); this session ends without closing it. Whatever the client
  // sent after the watch request is dropped.
  void HandOff(WatchStart start) {
    queue_.pop_front();
    closed_ = true;
    WithdrawHeld(false);
    if (srv_->turns) srv_->turns->Leave(holder_, Clock::now());
    timer_.cancel();
    counted_ = false;  // the stream counts the connection from here on
    StartWatchStream(std::move(conn_), srv_, std::move(start));
  }

  // ---- closing ----

  // After a `Connection: close` request (or at shutdown) no more requests
  // are read, but the connection is still watched for the client's close:
  // what it sends is discarded (up to kLingerBytes), and its EOF answers
  // the held 409s at once, as OnRead does, so that a client gone after
  // such a request does not hold its key's turn. A lingering close that
  // starts meanwhile takes this read over (one read at a time).
  void WatchForClose() {
    if (watching_ || reading_ || peer_eof_ || closed_ || lingering_ || linger_on_close_) return;
    watching_ = true;
    buffer_.clear();
    auto on_read = [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->watching_ = false;
      if (self->closed_) return;
      if (self->lingering_) return self->conn_.tls() ? self->TlsShutdown() : self->OnLingerRead(ec, n);
      if (IsPeerEof(ec)) {
        self->peer_eof_ = true;
        self->AnswerHeldNow();
        self->WakeAllParked();
        if (self->queue_.empty() && !self->writing_) self->Close();
        return;
      }
      if (ec) return;  // a failing write or a timer ends the connection
      self->lingered_ += n;
      if (self->lingered_ < kLingerBytes) self->WatchForClose();
    };
    conn_.Visit([&](auto& stream) { stream.async_read_some(buffer_.prepare(kReadSize), std::move(on_read)); });
  }

  // Half-closes, then reads and discards what the client still sends, up
  // to kLingerBytes or kLingerTime, then closes. A client that wrote its
  // whole body before reading (no `Expect: 100-continue`) gets the reply
  // instead of a reset from closing with unread data.
  //
  // Over TLS every close that is ours to make comes here: close_notify
  // first (TlsShutdown), then the raw drain, all within the linger
  // deadline. A read pending through the TLS stream is cancelled first
  // (no write is pending here); its handler shuts down.
  void Linger(Clock::duration bound = kLingerTime) {
    if (lingering_) return;
    lingering_ = true;
    if (!conn_.tls()) {
      beast::error_code ec;
      conn_.lowest().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return Close();
      buffer_.clear();
    }
    // The idle deadline also applies while lingering (nothing is served):
    // restart it, or a connection idle before its refused request would
    // have its lingering cut short.
    idle_since_ = Clock::now();
    linger_deadline_ = Clock::now() + bound;
    if (linger_deadline_ < timer_.expiry()) ArmTimer(linger_deadline_);
    if (conn_.tls()) {
      if (!TlsReadPending()) return TlsShutdown();
      beast::error_code ec;
      conn_.lowest().cancel(ec);
      return;
    }
    if (!watching_) LingerRead();  // else the watch's read goes on as this one
  }

  // Raw bytes: plain, or TLS once close_notify is out.
  void LingerRead() {
    conn_.lowest().async_read_some(buffer_.prepare(64 * 1024),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->OnLingerRead(ec, n);
                            });
  }

  void OnLingerRead(beast::error_code ec, size_t n) {
    lingered_ += n;
    if (ec || closed_ || lingered_ >= kLingerBytes) return Close();
    LingerRead();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    WithdrawHeld(false);  // the turns skip this connection's held 409s
    // ...and a turn it holds passes at once.
    if (srv_->turns) srv_->turns->Leave(holder_, Clock::now());
    for (auto& p : queue_) {
      if (p->parked) {
        Unpark(*p->parked);
        p->parked.reset();
      }
    }
    beast::error_code ec;
    conn_.lowest().shutdown(tcp::socket::shutdown_send, ec);
    conn_.lowest().close(ec);
    timer_.cancel();
  }

  ConnStream conn_;
  std::string peer_;  // the client's IP address (empty if unknown)
  asio::steady_timer timer_;
  Server::Impl* srv_;
  ResponseWaiters* const waiters_;  // this connection's thread's
  const std::chrono::milliseconds tick_;  // min(idle, read) timeout
  beast::flat_buffer buffer_{kBufferLimit};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::shared_ptr<Pending>> queue_;
  std::string head_;  // the head of the response being written (capacity reused)
  size_t sent_ = 0;   // bytes of head_ + body already written
  Clock::time_point idle_since_{};
  Clock::time_point read_deadline_ = kNever;   // a request partly received
  Clock::time_point write_deadline_ = kNever;  // a socket write in progress
  Clock::time_point linger_deadline_ = kNever;
  size_t lingered_ = 0;
  int last_send_queue_ = -1;  // PeerTookBytes()'s last sample
  bool reading_ = false;
  bool header_checked_ = false;
  bool writing_ = false;  // a response is being sent (a stream: until its last chunk)
  bool closing_ = false;  // read no more requests; close once the queue drains
  bool linger_on_close_ = false;  // a request was refused early: linger at the close
  bool lingering_ = false;
  bool watching_ = false;  // WatchForClose's read is pending
  bool peer_eof_ = false;  // the client sent EOF
  bool deferred_ = false;  // a write waits for its key's turn, or a request for a change
  bool handing_off_ = false;  // a watch request was read: the socket goes to its stream
  bool watching_parked_ = false;  // WatchParkedClose's wait (TLS: read) is pending
  asio::cancellation_signal park_cancel_;  // TLS: cuts WatchParkedClose's read short
  bool handshake_done_ = false;  // plain: from the start
  bool tls_shutdown_ = false;    // TlsShutdown began
  uint64_t park_generation_ = 0;
  bool counted_ = true;  // in srv_->active (a watch's stream takes the count over)
  const ConflictTurns::Holder holder_ = NextHolder();
  bool closed_ = false;
};

void ReleaseResponse(Session& s, const std::shared_ptr<PendingResponse>& p, bool ok) { s.Released(p, ok); }

void StartSession(tcp::socket socket, Server::Impl* srv, ResponseWaiters* waiters,
                  std::shared_ptr<SslContext> tls) {
  // Responses are written whole; do not let Nagle hold the last segment.
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  // At most this much unsent data is queued in the kernel per
  // connection: a slow reader then lets each partial write complete
  // (renewing its write deadline) as it drains a little, instead of
  // the socket staying unwritable until a third of a multi-MiB send
  // buffer is gone. Small responses are not affected.
  socket.set_option(NotSentLowWatermark(kNotSentLowWatermark), ignored);
  if (tls) {
    std::make_shared<Session>(ConnStream(std::move(socket), std::move(tls)), srv, waiters)->Start();
  } else {
    std::make_shared<Session>(ConnStream(std::move(socket)), srv, waiters)->Start();
  }
}

void ShutdownSession(const std::shared_ptr<Session>& session) { session->Shutdown(); }

}  // namespace casmem::net
