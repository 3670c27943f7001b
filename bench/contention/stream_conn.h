// StreamConn: one HTTP/1.1 request whose response body is a stream (an
// SSE watch, etcd's streaming watch), read as it arrives. The body may be
// chunked or end at connection close (or have a length); Beast's parser
// undoes the framing and every read hands the decoded bytes over at once,
// stamped with the steady-clock time the read completed, so a delivery's
// latency is measured at the socket, not when a buffer filled.
//
// With a ConnSecurity that has a TLS context the stream is TLS (the
// handshake follows the connect); its Authorization field is added to the
// request. The stream is a variant: no virtual call on the plain path.
//
// Lifetime: the owner keeps the object alive until its io_context has
// stopped; Close() ends the stream from the owner's side (on_end is then
// called with `stopped` set).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <variant>

#include "bench/contention/client_security.h"
#include "bench/latency.h"

namespace casmem::bench {

class StreamConn {
 public:
  using Header = boost::beast::http::response_header<>;
  using TlsSocket = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
  struct Handlers {
    // The response head arrived; return false to end the stream (wrong
    // status or type), with the reason in *why.
    std::function<bool(const Header&, std::string* why)> on_header;
    std::function<void(const char*, size_t, uint64_t recv_ns)> on_bytes;
    // The stream ended: `why` says how; `stopped` when Close() ended it.
    std::function<void(const std::string& why, bool stopped)> on_end;
  };

  explicit StreamConn(boost::asio::io_context& io, std::shared_ptr<const ConnSecurity> security = nullptr)
      : security_(std::move(security)), socket_(std::in_place_index<0>, io) {
    if (security_ && security_->tls) socket_.emplace<1>(io, *security_->tls);
  }

  void Start(const boost::asio::ip::tcp::endpoint& to,
             boost::beast::http::request<boost::beast::http::string_body> req, Handlers h) {
    h_ = std::move(h);
    req_ = std::move(req);
    if (security_ && !security_->authorization.empty()) {
      req_.set(boost::beast::http::field::authorization, security_->authorization);
    }
    if (socket_.index() == 1) {
      boost::system::error_code ec;
      boost::asio::ip::make_address(security_->server_name, ec);
      if (ec) SSL_set_tlsext_host_name(std::get<1>(socket_).native_handle(), security_->server_name.c_str());
    }
    Tcp().async_connect(to, [this](boost::beast::error_code ec) {
      if (ec) return End("connect: " + ec.message());
      Tcp().set_option(boost::asio::ip::tcp::no_delay(true), ec);
      if (socket_.index() == 0) return Write();
      std::get<1>(socket_).async_handshake(boost::asio::ssl::stream_base::client, [this](boost::beast::error_code ec) {
        if (ec) return End("tls handshake: " + ec.message());
        Write();
      });
    });
  }

  void Close() {
    if (ended_) return;
    stopping_ = true;
    boost::beast::error_code ec;
    Tcp().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    Tcp().close(ec);
  }
  bool ended() const { return ended_; }

 private:
  boost::asio::ip::tcp::socket& Tcp() {
    return socket_.index() == 1 ? std::get<1>(socket_).next_layer() : std::get<0>(socket_);
  }

  void Write() {
    std::visit([this](auto& s) {
      boost::beast::http::async_write(s, req_, [this](boost::beast::error_code ec, size_t) {
        if (ec) return End("send: " + ec.message());
        ReadHeader();
      });
    }, socket_);
  }

  void ReadHeader() {
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    std::visit([this](auto& s) {
      boost::beast::http::async_read_header(s, buf_, parser_, [this](boost::beast::error_code ec, size_t) {
        if (ec) return End("response head: " + ec.message());
        std::string why;
        if (!h_.on_header(parser_.get().base(), &why)) return End(why);
        ReadBody();
      });
    }, socket_);
  }

  void ReadBody() {
    parser_.get().body().data = chunk_;
    parser_.get().body().size = sizeof chunk_;
    std::visit([this](auto& s) {
      boost::beast::http::async_read_some(s, buf_, parser_, [this](boost::beast::error_code ec, size_t) {
        const uint64_t now = NowNs();
        const size_t got = sizeof chunk_ - parser_.get().body().size;
        if (ec == boost::beast::http::error::need_buffer) ec = {};
        if (got > 0) h_.on_bytes(chunk_, got, now);
        if (ec == boost::beast::http::error::end_of_stream || ec == boost::asio::error::eof ||
            ec == boost::asio::ssl::error::stream_truncated) {
          return End("closed by the server");
        }
        if (ec) return End("receive: " + ec.message());
        if (parser_.is_done()) return End("closed by the server (end of body)");
        ReadBody();
      });
    }, socket_);
  }

  void End(const std::string& why) {
    if (ended_) return;
    ended_ = true;
    boost::beast::error_code ec;
    Tcp().close(ec);
    if (h_.on_end) h_.on_end(stopping_ ? "stopped" : why, stopping_);
  }

  std::shared_ptr<const ConnSecurity> security_;
  std::variant<boost::asio::ip::tcp::socket, TlsSocket> socket_;
  Handlers h_;
  boost::beast::http::request<boost::beast::http::string_body> req_;
  boost::beast::flat_buffer buf_;
  boost::beast::http::response_parser<boost::beast::http::buffer_body> parser_;
  char chunk_[16 * 1024];
  bool ended_ = false, stopping_ = false;
};

}  // namespace casmem::bench
