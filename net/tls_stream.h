// ConnStream: the byte stream of one casmemd connection, plain TCP or TLS
// over TCP (memory-api.md §9), shared by Session (session.cc) and
// WatchStream (watch_stream.cc), which take it over in turn. Internal to
// net/ (Beast, Asio and OpenSSL inside).
//
// Plain HTTP pays a null test per I/O call and nothing else: no
// allocation, no virtual call. Visit(f) calls f with the stream to read
// and write (the tcp::socket or the ssl_stream); socket options, ioctl,
// shutdown and close go to lowest().
#pragma once

#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>
#include <utility>

#include "net/server_impl.h"
#include "net/tls_context.h"

namespace casmem::net {

using TlsStream = beast::ssl_stream<tcp::socket>;

class ConnStream {
 public:
  explicit ConnStream(tcp::socket&& socket) : socket_(std::move(socket)) {}
  // TLS over `socket` with `ctx`, which this stream keeps alive (a reload
  // may replace the server's context meanwhile). The handshake is the
  // owner's to run.
  ConnStream(tcp::socket&& socket, std::shared_ptr<SslContext> ctx)
      : socket_(socket.get_executor()),
        ctx_(std::move(ctx)),
        tls_(std::make_unique<TlsStream>(std::move(socket), *ctx_)) {}
  ConnStream(ConnStream&&) = default;

  bool tls() const { return tls_ != nullptr; }
  TlsStream& tls_stream() { return *tls_; }
  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : socket_; }
  asio::any_io_executor get_executor() { return socket_.get_executor(); }

  template <class F>
  decltype(auto) Visit(F&& f) {
    if (tls_) return f(*tls_);
    return f(socket_);
  }

  // Gives TLS up before any handshake byte was answered (a plain HTTP
  // client on the HTTPS port): the connection is plain TCP from here on.
  void DropTls() {
    if (!tls_) return;
    socket_ = std::move(tls_->next_layer());
    tls_.reset();
    ctx_.reset();
  }

 private:
  tcp::socket socket_;  // plain: the connection; TLS: unused (not open)
  std::shared_ptr<SslContext> ctx_;  // before tls_: outlives it
  std::unique_ptr<TlsStream> tls_;
};

}  // namespace casmem::net
