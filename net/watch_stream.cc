// WatchStream: one watch connection of casmemd (GET …/watch, memory-api.md
// §8) once the session has accepted the request: the SSE response, fed by
// the ChangeFeed through an Outbox, heartbeats while idle, the `lagged`
// cut of a client that falls more than --watch-buffer behind, the
// `compacted` end, and the clean end at shutdown.
//
// The feed thread never touches the socket: it appends a record's SSE
// events to the Outbox (under the Outbox's mutex) and posts one flush to
// the connection's thread when none is posted. The connection's thread
// takes the whole outbox per write. Unsent = outbox + the write in
// flight; past the buffer the feed's Deliver drops what is unsent and
// ends the subscription, and the client, which has every event up to its
// last `id:`, resumes from there.
#include "net/watch_stream.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <mutex>

#include "net/change_json.h"

namespace casmem::net {

using Clock = std::chrono::steady_clock;

// The subscription's end of a stream, shared with the feed.
class WatchStream::Outbox : public ChangeFeed::Sink {
 public:
  Outbox(std::weak_ptr<WatchStream> owner, asio::any_io_executor executor, FlushQueue* queue,
         uint64_t limit, Metrics* metrics)
      : owner_(std::move(owner)),
        executor_(std::move(executor)),
        queue_(queue),
        limit_(limit),
        metrics_(metrics) {}

  bool Deliver(std::span<const FeedEvent> changes) override {
    std::lock_guard lk(mu_);
    if (closed_) return false;
    const bool idle = pending_.empty() && in_flight_ == 0;
    AppendSseRecord(changes, &pending_);
    // A record larger than the whole buffer still goes to a stream that
    // has nothing unsent; behind anything unsent it is too much.
    if (pending_.size() + in_flight_ > limit_ && !idle) {
      // Lagged: what is unsent is dropped (the client resumes from its
      // last id), and the stream ends with `event: lagged`.
      pending_.clear();
      closed_ = true;
      Post(&WatchStream::OnLagged);
      return false;
    }
    metrics_->CountWatchEvents(changes.size());
    if (!flush_posted_) {
      flush_posted_ = true;
      if (queue_ != nullptr) {
        queue_->Add(owner_);
      } else {
        Post(&WatchStream::Flush);
      }
    }
    return true;
  }

  // Catch-up reads only into an idle stream, an eighth of the buffer at a
  // time (margin for the SSE framing and JSON escaping around the values
  // the history counts), so that a stream catching up is never cut as
  // lagged: it is read as fast as its client takes it.
  size_t Room() override {
    std::lock_guard lk(mu_);
    if (closed_ || !pending_.empty() || in_flight_ != 0) {
      kick_wanted_ = true;
      return 0;
    }
    return std::max<uint64_t>(limit_ / 8, 1);
  }

  void Compacted(uint64_t compact_revision, const Status& error) override {
    std::lock_guard lk(mu_);
    if (closed_) return;
    closed_ = true;
    auto owner = owner_;
    asio::post(executor_, [owner, compact_revision, error] {
      if (auto s = owner.lock()) s->OnCompacted(compact_revision, error);
    });
  }

  // The connection's thread: takes everything pending into *out for one
  // write. False when nothing is pending (then no flush is posted: the
  // next Deliver posts one).
  bool Take(std::string* out) {
    std::lock_guard lk(mu_);
    out->clear();
    if (pending_.empty()) {
      flush_posted_ = false;
      in_flight_ = 0;
      return false;
    }
    out->swap(pending_);
    in_flight_ = out->size();
    return true;
  }

  // Queues bytes of the stream itself (the head, a heartbeat).
  void Append(std::string_view bytes) {
    std::lock_guard lk(mu_);
    pending_.append(bytes);
  }

  // `n` more bytes of the write in flight were taken by the socket.
  void Sent(size_t n) {
    std::lock_guard lk(mu_);
    in_flight_ -= std::min<uint64_t>(n, in_flight_);
  }

  // After a write completed: whether a catching-up subscription may have
  // been waiting for room (the feed is then kicked).
  bool WriteDone() {
    std::lock_guard lk(mu_);
    in_flight_ = 0;
    const bool kick = kick_wanted_;
    kick_wanted_ = false;
    return kick;
  }

  void Close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    pending_.clear();
  }

 private:
  void Post(void (WatchStream::*fn)()) {
    auto owner = owner_;
    asio::post(executor_, [owner, fn] {
      if (auto s = owner.lock()) ((*s).*fn)();
    });
  }

  const std::weak_ptr<WatchStream> owner_;
  const asio::any_io_executor executor_;
  FlushQueue* const queue_;  // the connection's thread's; null: post each flush
  const uint64_t limit_;
  Metrics* const metrics_;
  std::mutex mu_;
  std::string pending_;
  uint64_t in_flight_ = 0;
  bool flush_posted_ = false;
  bool kick_wanted_ = false;
  bool closed_ = false;
};

WatchStream::WatchStream(ConnStream&& conn, Server::Impl* srv, WatchStart start)
    : conn_(std::move(conn)), timer_(conn_.get_executor()), srv_(srv), start_(std::move(start)) {
  // The connection stays counted in srv_->active: the session that
  // handed it over stopped counting it, this stream's destructor uncounts it.
  srv_->metrics->WatcherOpened();
}

WatchStream::~WatchStream() {
  {
    std::lock_guard lk(srv_->sessions_mu);
    srv_->streams.erase(this);
  }
  srv_->metrics->WatcherClosed();
  srv_->active.fetch_sub(1);
}

void WatchStream::Start() {
  {
    std::lock_guard lk(srv_->sessions_mu);
    srv_->streams.emplace(this, weak_from_this());
  }
  outbox_ = std::make_shared<Outbox>(weak_from_this(), conn_.get_executor(),
                                     srv_->FlushQueueOf(conn_.get_executor()),
                                     srv_->opts.watch_buffer_bytes, srv_->metrics);
  // Unframed (no length, no chunking): the stream ends with the connection,
  // which is not reused. `X-Accel-Buffering: no` asks a proxy in front
  // (nginx) not to hold events back.
  outbox_->Append(
      "HTTP/1.1 200 OK\r\nServer: casmemd\r\nContent-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n"
      // Reconnect after 1 s (EventSource's default is about 3 s).
      "retry: 1000\n\n");
  Flush();
  if (srv_->stopping.load()) return Shutdown();
  subscription_ = srv_->feed->Subscribe(start_.filter, start_.since, outbox_);
  last_write_ = Clock::now();
  ArmTimer();
  ReadUntilClose();
}

void WatchStream::Shutdown() {
  asio::post(conn_.get_executor(), [self = shared_from_this()] {
    if (self->closed_) return;
    // No more changes; what is queued goes out, then the stream ends.
    self->EndSubscription();
    self->ending_ = true;
    if (!self->writing_) self->Flush();
  });
}

void WatchStream::EndSubscription() {
  if (subscription_ != 0) {
    srv_->feed->Cancel(subscription_);
    subscription_ = 0;
  }
}

void WatchStream::Flush() {
  if (closed_ || writing_) return;
  if (!outbox_->Take(&writing_buf_)) {
    if (!final_.empty()) {
      writing_buf_.swap(final_);
      final_.clear();
      ending_ = true;
    } else {
      if (ending_) End();
      return;
    }
  }
  writing_ = true;
  sent_ = 0;
  WriteSome();
}

// One write_some per step, so that every bit of progress is seen by the
// timer (a client that stops reading is cut after --read-timeout).
void WatchStream::WriteSome() {
  last_progress_ = Clock::now();
  auto on_write = [self = shared_from_this()](beast::error_code ec, size_t n) {
    if (ec) return self->Close();
    self->sent_ += n;
    self->outbox_->Sent(n);  // unsent = what the socket has not taken
    if (self->sent_ < self->writing_buf_.size()) return self->WriteSome();
    self->writing_ = false;
    self->last_write_ = Clock::now();
    if (self->outbox_->WriteDone()) self->srv_->feed->Kick();
    self->Flush();
  };
  conn_.Visit([&](auto& stream) {
    stream.async_write_some(asio::buffer(writing_buf_) + sent_, std::move(on_write));
  });
}

void WatchStream::OnLagged() {
  if (closed_) return;
  srv_->metrics->CountLagged();
  EndSubscription();
  final_ = SseLagged(srv_->opts.watch_buffer_bytes);
  if (!writing_) Flush();
}

void WatchStream::OnCompacted(uint64_t compact_revision, const Status& error) {
  if (closed_) return;
  EndSubscription();
  if (error.ok()) {
    srv_->metrics->CountCompacted();
    final_ = SseCompacted(compact_revision);
  } else {
    final_ = "event: error\ndata: {\"error\":\"change history unreadable\"}\n\n";
  }
  if (!writing_) Flush();
}

void WatchStream::ArmTimer() {
  // Wakes when the stream has been idle for a heartbeat, or when a write
  // in flight would have gone --read-timeout without progress.
  auto at = last_write_ + srv_->opts.watch_heartbeat;
  if (writing_) at = std::min(at, last_progress_ + srv_->opts.read_timeout);
  timer_.expires_at(std::max(at, Clock::now() + std::chrono::milliseconds(1)));
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->closed_ || self->tls_ending_) return;  // End's bound runs the timer now
    const auto now = Clock::now();
    if (self->writing_) {
      if (now - self->last_progress_ >= self->srv_->opts.read_timeout) return self->Close();
    } else if (!self->ending_ && now - self->last_write_ >= self->srv_->opts.watch_heartbeat) {
      self->outbox_->Append(": heartbeat\n\n");
      self->last_write_ = now;
      self->Flush();
    }
    self->ArmTimer();
  });
}

// What the client sends after its request is read and dropped; its close
// (or a reset) ends the stream and the subscription at once.
void WatchStream::ReadUntilClose() {
  reading_ = true;
  auto on_read = [self = shared_from_this()](beast::error_code ec, size_t) {
    self->reading_ = false;
    if (self->closed_) return;
    if (self->tls_ending_) return self->TlsShutdown();  // End cancelled this read
    if (ec) return self->Close();
    self->ReadUntilClose();
  };
  conn_.Visit([&](auto& stream) { stream.async_read_some(asio::buffer(read_buf_), std::move(on_read)); });
}

void WatchStream::End() {
  if (!conn_.tls()) {
    beast::error_code ec;
    conn_.lowest().shutdown(tcp::socket::shutdown_send, ec);
    return Close();
  }
  // TLS: close_notify, then close, within the lingering bound (or
  // --read-timeout if shorter). No write is pending here; the pending
  // read is cancelled first (one read at a time on the TLS stream).
  if (tls_ending_) return;
  tls_ending_ = true;
  timer_.expires_after(std::min<Clock::duration>(kLingerTime, srv_->opts.read_timeout));
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->Close();
  });
  if (!reading_) return TlsShutdown();
  beast::error_code ec;
  conn_.lowest().cancel(ec);
}

void WatchStream::TlsShutdown() {
  conn_.tls_stream().async_shutdown([self = shared_from_this()](beast::error_code) { self->Close(); });
}

void WatchStream::Close() {
  if (closed_) return;
  closed_ = true;
  outbox_->Close();
  EndSubscription();
  beast::error_code ec;
  conn_.lowest().close(ec);
  timer_.cancel();
}

void FlushQueue::Add(std::weak_ptr<WatchStream> stream) {
  std::lock_guard lk(mu_);
  ready_.push_back(std::move(stream));
  if (posted_) return;
  posted_ = true;
  asio::post(ioc_, [this] { Drain(); });
}

void FlushQueue::Drain() {
  std::vector<std::weak_ptr<WatchStream>> ready;
  {
    std::lock_guard lk(mu_);
    ready.swap(ready_);
    posted_ = false;
  }
  for (auto& weak : ready) {
    if (auto s = weak.lock()) s->Flush();
  }
}

void StartWatchStream(ConnStream&& conn, Server::Impl* srv, WatchStart start) {
  std::make_shared<WatchStream>(std::move(conn), srv, std::move(start))->Start();
}

void ShutdownWatchStream(const std::shared_ptr<WatchStream>& stream) { stream->Shutdown(); }

}  // namespace casmem::net
