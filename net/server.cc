// The Beast/Asio side of casmemd: acceptor, per-connection sessions with
// pipelining, HTTP framing checks, timers, lingering close, connection
// limit, streaming of large listings, held 409s and graceful shutdown.
// Requests are answered by the pure Handler; responses are released by the
// store's durability callbacks (Redis-style: a reply leaves only after the
// fsync that covers it).
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
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>

#include <array>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "net/conflict_turns.h"
#include "net/handler.h"
#include "common/logger.h"

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

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();

// Lingering close (nginx's): after a request refused before its body was
// read, what the client still sends is read and discarded up to this many
// bytes or this long, so that it reads the answer instead of a reset.
constexpr size_t kLingerBytes = 8 << 20;
constexpr std::chrono::seconds kLingerTime{5};
constexpr size_t kHeaderLimit = 16 * 1024;
constexpr int kNotSentLowWatermark = 256 * 1024;
using NotSentLowWatermark = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>;
constexpr size_t kReadSize = 16 * 1024;
// The most a connection buffers of what it has not parsed yet. Beast 1.81
// bounds a header (header_limit) and a body (body_limit) but not a chunk
// size/extension line nor a trailer, which it keeps unconsumed until their
// CRLF: without this cap one such line grows the buffer without end. Every
// prepare() on buffer_ asks for at most kReadSize or 64 KiB (Beast's reads
// take what the cap leaves and fail with buffer_overflow at the cap).
constexpr size_t kBufferLimit = 256 * 1024;
static_assert(kBufferLimit > kHeaderLimit + kReadSize && kBufferLimit >= 64 * 1024);

// RFC 9110 tchar.
bool IsTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Transfer-Encoding per RFC 9112 §6.1 and §6.3. Empty when the framing is
// acceptable; else the refusal: 501 for codings before `chunked`, 400 for
// everything else that is not exactly one `chunked` coding without a
// Content-Length in an HTTP/1.1 request.
// The body is framed by Beast, not by this check: Beast 1.81 sets chunked
// only when its own token_list ends in `chunked`, and its token_list stops
// early on input such as `;, chunked`. So the request is accepted only when
// Beast itself reads it as chunked (`parser_chunked`); any disagreement
// between this parse and Beast's is a refusal, never a second framing.
// A request with both fields is refused (§6.3 rule 3 requires closing the
// connection after it; the refusal does).
std::optional<HttpResponse> TransferEncodingError(const http::request<http::string_body>& req,
                                                  bool parser_chunked) {
  auto range = req.equal_range(http::field::transfer_encoding);
  if (range.first == range.second) return std::nullopt;
  if (req.version() < 11) {
    return Handler::Error(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
  }
  std::string_view last;  // views into the header, which outlives it
  size_t codings = 0;
  for (auto it = range.first; it != range.second; ++it) {
    const std::string_view v = View(it->value());
    size_t pos = 0;
    while (pos <= v.size()) {
      size_t comma = v.find(',', pos);
      if (comma == std::string_view::npos) comma = v.size();
      const std::string_view item = v.substr(pos, comma - pos);
      // transfer-coding = token *( OWS ";" OWS transfer-parameter ); an
      // empty item or one not starting with a token is malformed.
      const std::string_view coding = TrimOws(item.substr(0, item.find(';')));
      if (!IsToken(coding)) return Handler::Error(400, "malformed Transfer-Encoding");
      ++codings;
      last = coding;
      pos = comma + 1;
    }
  }
  if (!beast::iequals(beast::string_view(last.data(), last.size()), "chunked")) {
    return Handler::Error(400, "Transfer-Encoding must end with chunked");
  }
  if (req.count(http::field::content_length) > 0) {
    return Handler::Error(400, "a request must not have both Transfer-Encoding and Content-Length");
  }
  if (codings > 1) return Handler::Error(501, "transfer codings other than chunked are not supported");
  if (!parser_chunked) return Handler::Error(400, "malformed Transfer-Encoding");
  return std::nullopt;
}

}  // namespace

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
  Session(tcp::socket&& socket, Server::Impl* srv)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        srv_(srv),
        tick_(std::min(srv->opts.idle_timeout, srv->opts.read_timeout)) {
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
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      self->idle_since_ = Clock::now();
      self->ArmTimer(self->idle_since_ + self->tick_);
      self->DoRead();
    });
  }

  // Server shutdown: answer what was read, then close.
  void Shutdown() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (self->lingering_ || (self->queue_.empty() && !self->writing_)) self->Close();
    });
  }

 private:
  // A 409 held for its key's turn (ConflictTurns).
  struct Held {
    std::shared_ptr<TurnTicket> ticket;
    std::string workspace, key;
    uint64_t guard = 0;
    Route route = Route::kUnknown;
    Clock::time_point start;
  };
  // A response slot, in request order. `ready` once it may be sent.
  struct Pending {
    bool ready = false;
    bool keep_alive = true;
    unsigned version = 11;
    http::response<http::string_body> res;
    std::optional<http::response_serializer<http::string_body>> sr;
    std::unique_ptr<ListStream> stream;
    std::unique_ptr<Held> held;  // set while waiting for a conflict turn
  };
  struct StreamState {
    http::response<http::empty_body> res;
    http::response_serializer<http::empty_body> sr{res};
    std::string chunk;
  };

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
    if (::ioctl(socket_.native_handle(), SIOCOUTQ, &queued) != 0) return false;
    const bool changed = queued != last_send_queue_;
    last_send_queue_ = queued;
    return changed;
  }

  // ---- reading ----

  void DoRead() {
    if (closing_) return WatchForClose();
    if (reading_ || closed_ || queue_.size() >= srv_->opts.max_pipelined) return;
    reading_ = true;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(srv_->opts.max_body_bytes);
    // Not eager until the header is checked (Transfer-Encoding), so that
    // no body byte is parsed under framing we refuse.
    parser_->eager(false);
    header_checked_ = false;
    if (buffer_.size() > 0) return ParseBuffered();
    socket_.async_read_some(buffer_.prepare(kReadSize),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->OnRead(ec);
                              self->buffer_.commit(n);
                              self->ParseBuffered();
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
    if (!parser_->is_header_done()) {
      http::async_read_header(socket_, buffer_, *parser_,
                              [self = shared_from_this()](beast::error_code ec, size_t) {
                                if (ec) return self->OnRead(ec);
                                if (!self->CheckHeader()) return;
                                self->ParseBuffered();
                              });
      return;
    }
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  // Runs once per request, when its header is parsed. False: refused (the
  // error reply is queued and nothing more is read).
  bool CheckHeader() {
    header_checked_ = true;
    if (auto err = TransferEncodingError(parser_->get(), parser_->chunked())) {
      reading_ = false;
      read_deadline_ = kNever;
      Reply(*err, 11);
      return false;
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
    asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        self->write_deadline_ = kNever;
                        if (ec) return self->Close();
                        self->MaybeWrite();
                      });
  }

  void OnRead(beast::error_code ec) {
    reading_ = false;
    read_deadline_ = kNever;
    if (closed_) return;
    if (ec == http::error::body_limit) return Reply(Handler::Error(413, "request body too large"), 11);
    if (ec == http::error::header_limit ||
        (ec == http::error::buffer_overflow && parser_ && !parser_->is_header_done())) {
      return Reply(Handler::Error(431, "request header fields too large"), 11);
    }
    if (ec == http::error::buffer_overflow) {
      return Reply(Handler::Error(400, "chunk size line or trailer too long"), 11);
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == http::error::partial_message) {
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
    http::request<http::string_body> req = parser_->release();
    Handle(req);
    DoRead();
  }

  // A response decided without the handler (protocol errors). Nothing more
  // is read as requests; after it, the connection lingers, then closes.
  void Reply(const HttpResponse& r, unsigned version) {
    auto p = std::make_shared<Pending>();
    p->res = ToBeast(r, version);
    p->keep_alive = false;
    p->ready = true;
    closing_ = true;
    linger_on_close_ = true;
    queue_.push_back(p);
    srv_->metrics->CountRequest(Route::kUnknown, r.status);
    MaybeWrite();
  }

  // ---- handling ----

  void Handle(const http::request<http::string_body>& req) {
    auto p = std::make_shared<Pending>();
    p->keep_alive = req.keep_alive();
    p->version = req.version();
    if (!p->keep_alive) closing_ = true;  // no more requests on this connection
    queue_.push_back(p);
    const auto start = Clock::now();
    HandlerResult hr = srv_->handler.Handle(
        HttpRequest{View(req.method_string()), View(req.target()), req.body()});
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
        turns->Committed(hr.workspace, hr.key, start);
      } else if (hr.key_event == KeyEvent::kStaleConflict && !srv_->stopping.load()) {
        p->held = std::make_unique<Held>(
            Held{std::make_shared<TurnTicket>(), hr.workspace, hr.key, hr.guard, hr.route, start});
        const bool now = turns->Enqueue(hr.workspace, hr.key, start, HeldConflict(p), p->held->ticket);
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

  // What a queued stale loser runs when its turn comes (on any thread; the
  // queue has claimed its ticket): back on the connection's thread, the
  // 409 is rebuilt from the key's state at that moment and delivered.
  // It keeps the session alive while queued; a closed session's waiter is
  // withdrawn (Close) and freed when the queue skips it.
  ConflictTurns::Release HeldConflict(const std::shared_ptr<Pending>& p) {
    return [self = shared_from_this(), p] {
      asio::post(self->socket_.get_executor(), [self, p] { self->AnswerHeld(p); });
    };
  }

  void AnswerHeld(const std::shared_ptr<Pending>& p) {
    if (closed_) return;
    std::unique_ptr<Held> held = std::move(p->held);
    HandlerResult fresh = srv_->handler.ConflictNow(held->workspace, held->key, held->guard);
    fresh.route = held->route;
    Deliver(p, std::move(fresh), held->start);
  }

  // The client will read no more (or no longer waits): every held 409 whose
  // ticket this side claims leaves the key's queue (the turn skips it).
  // `answer`: reply with the key's state now; else drop it.
  void WithdrawHeld(bool answer) {
    for (size_t i = 0; i < queue_.size(); ++i) {
      auto p = queue_[i];  // a copy: AnswerHeld may write, not pop
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
      asio::post(self->socket_.get_executor(), [self, p, route, is_write, start, ok = s.ok()] {
        if (!ok) p->res = ToBeast(Handler::ServiceUnavailable(), p->version);
        self->srv_->metrics->CountRequest(route, p->res.result_int());
        if (is_write) {
          self->srv_->metrics->ObserveWriteSeconds(
              std::chrono::duration<double>(Clock::now() - start).count());
        }
        p->ready = true;
        self->MaybeWrite();
      });
    });
  }

  // ---- writing ----

  void MaybeWrite() {
    if (writing_ || closed_ || queue_.empty() || !queue_.front()->ready) return;
    writing_ = true;
    auto p = queue_.front();
    const bool keep_alive = p->keep_alive && !srv_->stopping.load();
    if (p->stream) return WriteStream(p, keep_alive);
    p->res.keep_alive(keep_alive);
    p->res.prepare_payload();
    p->sr.emplace(p->res);
    WriteSome(p, keep_alive);
  }

  // One write_some per step (a small response is one step), so that each
  // bit of progress renews the write deadline.
  void WriteSome(const std::shared_ptr<Pending>& p, bool keep_alive) {
    WriteProgress();
    http::async_write_some(socket_, *p->sr,
                           [self = shared_from_this(), p, keep_alive](beast::error_code ec, size_t) {
                             if (!ec && !p->sr->is_done()) return self->WriteSome(p, keep_alive);
                             self->OnWritten(ec, !keep_alive);
                           });
  }

  void OnWritten(beast::error_code ec, bool close) {
    writing_ = false;
    write_deadline_ = kNever;
    if (ec) return Close();
    queue_.pop_front();
    if (close || (closing_ && queue_.empty())) {
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
    // An HTTP/1.0 stream is unframed: its end is the close (Handle made it
    // not keep-alive), after a lingering one so that what the client still
    // sends cannot turn the close into a reset that loses the body's tail.
    const bool framed = p->version >= 11;
    st->res.keep_alive(keep_alive && framed);
    if (framed) st->res.chunked(true);
    WriteProgress();
    http::async_write_header(socket_, st->sr,
                             [self = shared_from_this(), p, st, keep_alive](beast::error_code ec, size_t) {
                               self->write_deadline_ = kNever;
                               if (ec) return self->Close();
                               self->NextChunk(p, st, keep_alive);
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
      asio::async_write(socket_, http::make_chunk_last(), Progress(),
                        [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                          self->OnWritten(ec, !keep_alive);
                        });
      return;
    }
    // While the page waits for its fsync, no deadline runs: the wait is ours.
    srv_->store->WhenVisible(lsn, [self = shared_from_this(), p, st, keep_alive](const Status& s) {
      asio::post(self->socket_.get_executor(), [self, p, st, keep_alive, ok = s.ok()] {
        // Mid-stream there is no status left to send: abort the connection.
        if (!ok || self->closed_) return self->Close();
        auto next = [self, p, st, keep_alive](beast::error_code ec, size_t) {
          self->write_deadline_ = kNever;
          if (ec) return self->Close();
          self->NextChunk(p, st, keep_alive);
        };
        if (p->version < 11) {
          asio::async_write(self->socket_, asio::buffer(st->chunk), self->Progress(), std::move(next));
        } else {
          asio::async_write(self->socket_, http::make_chunk(asio::buffer(st->chunk)), self->Progress(),
                            std::move(next));
        }
      });
    });
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
    socket_.async_read_some(buffer_.prepare(kReadSize), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->watching_ = false;
      if (self->closed_) return;
      if (self->lingering_) return self->OnLingerRead(ec, n);
      if (ec == asio::error::eof) {
        self->peer_eof_ = true;
        self->AnswerHeldNow();
        if (self->queue_.empty() && !self->writing_) self->Close();
        return;
      }
      if (ec) return;  // a failing write or a timer ends the connection
      self->lingered_ += n;
      if (self->lingered_ < kLingerBytes) self->WatchForClose();
    });
  }

  // Half-closes, then reads and discards what the client still sends, up
  // to kLingerBytes or kLingerTime, then closes. A client that wrote its
  // whole body before reading (no `Expect: 100-continue`) gets the reply
  // instead of a reset from closing with unread data.
  void Linger() {
    lingering_ = true;
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    buffer_.clear();
    // The idle deadline also applies while lingering (nothing is served):
    // restart it, or a connection idle before its refused request would
    // have its lingering cut short.
    idle_since_ = Clock::now();
    linger_deadline_ = Clock::now() + kLingerTime;
    if (linger_deadline_ < timer_.expiry()) ArmTimer(linger_deadline_);
    if (!watching_) LingerRead();  // else the watch's read goes on as this one
  }

  void LingerRead() {
    socket_.async_read_some(buffer_.prepare(64 * 1024),
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
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
    timer_.cancel();
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  Server::Impl* srv_;
  const std::chrono::milliseconds tick_;  // min(idle, read) timeout
  beast::flat_buffer buffer_{kBufferLimit};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::shared_ptr<Pending>> queue_;
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
    // Accepted before BeginStop but run after it: such a session would be
    // missing from BeginStop's list and never told to stop, so the
    // shutdown would wait its whole grace for it.
    if (stopping) {
      beast::error_code ignored;
      socket.close(ignored);
      return;
    }
    if (active.load() >= opts.max_connections) {
      RejectBusy(std::move(socket));
    } else {
      // Responses are written whole; do not let Nagle hold the last segment.
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      // At most this much unsent data is queued in the kernel per
      // connection: a slow reader then lets each partial write complete
      // (renewing its write deadline) as it drains a little, instead of
      // the socket staying unwritable until a third of a multi-MiB send
      // buffer is gone. Small responses are not affected.
      socket.set_option(NotSentLowWatermark(kNotSentLowWatermark), ignored);
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
