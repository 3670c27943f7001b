// WatchStream: a watch connection (SSE) handed over by its session; see
// watch_stream.cc. Internal to net/ (Asio inside).
#pragma once

#include <array>
#include <mutex>
#include <vector>
#include <memory>
#include <string>

#include "net/server_impl.h"
#include "net/tls_stream.h"

namespace casmem::net {

class WatchStream;

// One I/O thread's watch streams with bytes to flush: the change feed
// queues a stream here instead of posting to the thread once per stream,
// so one wake-up of the thread flushes every stream a record reached
// (with 100 watchers, one post per record and thread instead of 100).
class FlushQueue {
 public:
  explicit FlushQueue(asio::io_context& ioc) : ioc_(ioc) {}
  FlushQueue(const FlushQueue&) = delete;
  FlushQueue& operator=(const FlushQueue&) = delete;
  // Any thread: `stream` flushes on the thread soon.
  void Add(std::weak_ptr<WatchStream> stream);

 private:
  void Drain();
  asio::io_context& ioc_;
  std::mutex mu_;
  std::vector<std::weak_ptr<WatchStream>> ready_;
  bool posted_ = false;
};

class WatchStream : public std::enable_shared_from_this<WatchStream> {
 public:
  // Counts toward --max-connections (Server::Impl::active) while it lives:
  // it takes over the count of the session it comes from.
  // `conn`: plain or TLS (handshake done), as the session had it.
  WatchStream(ConnStream&& conn, Server::Impl* srv, WatchStart start);
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // Sends the response head and subscribes to the change feed.
  void Start();
  // Server shutdown, from any thread: no more changes; what is queued is
  // sent, then the stream ends (the client resumes elsewhere or later).
  void Shutdown();
  // Writes what the outbox holds, if no write is in flight (the thread's
  // FlushQueue calls it).
  void Flush();
  // The token the watch was opened with; null while no token existed.
  const std::shared_ptr<const TokenInfo>& token() const { return start_.token; }

 private:
  class Outbox;
  void WriteSome();
  void OnLagged();
  void OnCompacted(uint64_t compact_revision, const Status& error);
  void EndSubscription();
  void ArmTimer();
  void ReadUntilClose();
  void End();    // half-close (TLS: close_notify) after the last byte, then Close
  void TlsShutdown();
  void Close();  // at once

  ConnStream conn_;
  asio::steady_timer timer_;
  Server::Impl* const srv_;
  const WatchStart start_;
  std::shared_ptr<Outbox> outbox_;
  uint64_t subscription_ = 0;
  std::string writing_buf_;  // the write in flight
  size_t sent_ = 0;
  std::string final_;        // the event that ends the stream (lagged, compacted)
  std::array<char, 4096> read_buf_;
  std::chrono::steady_clock::time_point last_write_{};     // heartbeats count from it
  std::chrono::steady_clock::time_point last_progress_{};  // of the write in flight
  bool writing_ = false;
  bool ending_ = false;  // end once what is queued is sent
  bool reading_ = false;  // ReadUntilClose's read is pending
  bool tls_ending_ = false;  // End began a TLS shutdown
  bool closed_ = false;
};

// Called by the session that read the watch request, on the socket's thread.
void StartWatchStream(ConnStream&& conn, Server::Impl* srv, WatchStart start);
void ShutdownWatchStream(const std::shared_ptr<WatchStream>& stream);

}  // namespace casmem::net
