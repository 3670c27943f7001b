// HttpConn: one keep-alive HTTP/1.1 client connection (Beast), one request
// at a time, for the drivers that speak HTTP (casmem, etcd's gateway).
// Once a request fails the connection is closed for good: every later
// Send completes at once with the first error, so a dead server ends a run
// instead of leaving requests pending. The one deliberate exception is
// SendAndDrop (injected client retries): it closes the connection after
// sending and reconnects to the same address.
//
// With a ConnSecurity (client_security.h) the connection is TLS when it
// has a context (connect, then the handshake, inside Open), and every
// request carries its Authorization field. The stream is a variant, so a
// plain connection pays one branch per operation: no virtual call, no
// allocation added.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "bench/contention/client_security.h"

namespace casmem::bench {

class HttpConn {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;
  using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  // `security` null: plain HTTP, no Authorization.
  explicit HttpConn(boost::asio::io_context& io, std::shared_ptr<const ConnSecurity> security = nullptr)
      : io_(io), security_(std::move(security)), stream_(std::in_place_index<0>, io) {}

  // Resolves a dotted address (or "localhost") and connects (and, over
  // TLS, completes the handshake).
  void Open(const std::string& host, uint16_t port, std::function<void(std::string)> done) {
    boost::beast::error_code ec;
    const auto addr =
        boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return done("bad host " + host);
    endpoint_ = boost::asio::ip::tcp::endpoint(addr, port);
    Connect(std::move(done));
  }

  // Sends one request; `done("")` once response() holds the reply. A body
  // is sent with `content_type` for POST and PATCH.
  void Send(boost::beast::http::verb verb, const std::string& target, std::string body,
            std::function<void(std::string)> done, const std::string& content_type = "application/json",
            const Headers& headers = {}) {
    namespace http = boost::beast::http;
    if (!broken_.empty()) {
      return boost::asio::post(io_, [done, e = broken_] { done(e); });
    }
    Prepare(verb, target, std::move(body), content_type, headers);
    std::visit([this, &done](auto& s) {
      http::async_write(s, req_, [this, &s, done](boost::beast::error_code ec, size_t) {
        if (ec) return done(Broken("send: " + ec.message()));
        res_ = {};
        http::async_read(s, buf_, res_, [this, done](boost::beast::error_code ec, size_t) {
          done(ec ? Broken("receive: " + ec.message()) : "");
        });
      });
    }, stream_);
  }

  // Sends one request and closes the connection without reading the answer
  // (the server may or may not have acted on it), then opens a new
  // connection to the same address; `done("")` once it is open.
  void SendAndDrop(boost::beast::http::verb verb, const std::string& target, std::string body,
                   std::function<void(std::string)> done, const std::string& content_type,
                   const Headers& headers) {
    namespace http = boost::beast::http;
    if (!broken_.empty()) {
      return boost::asio::post(io_, [done, e = broken_] { done(e); });
    }
    Prepare(verb, target, std::move(body), content_type, headers);
    std::visit([this, &done](auto& s) {
      http::async_write(s, req_, [this, done](boost::beast::error_code ec, size_t) {
        if (ec) return done(Broken("send: " + ec.message()));
        CloseSocket();
        buf_.clear();
        // Reconnect from a fresh handler: a TLS stream is replaced, and not
        // from inside its own operation's completion.
        boost::asio::post(io_, [this, done] {
          Connect([this, done](std::string err) { done(err.empty() ? "" : Broken(err)); });
        });
      });
    }, stream_);
  }

  const boost::beast::http::response<boost::beast::http::string_body>& response() const { return res_; }
  bool tls() const { return stream_.index() == 1; }

 private:
  void Connect(std::function<void(std::string)> done) {
    const bool use_tls = security_ && security_->tls;
    if (use_tls) {
      // A TLS stream cannot be used again once closed: a fresh one each time.
      stream_.emplace<1>(io_, *security_->tls);
      auto& s = std::get<1>(stream_);
      const std::string& name = security_->server_name;
      boost::system::error_code ec;
      boost::asio::ip::make_address(name, ec);
      // SNI carries host names only (RFC 6066), never a literal address.
      if (ec && !SSL_set_tlsext_host_name(s.native_handle(), name.c_str())) {
        return boost::asio::post(io_, [done] { done("connect: cannot set the TLS server name"); });
      }
    }
    boost::beast::tcp_stream& tcp = use_tls ? std::get<1>(stream_).next_layer() : std::get<0>(stream_);
    tcp.async_connect(endpoint_, [this, &tcp, use_tls, done](boost::beast::error_code ec) {
      if (ec) return done("connect: " + ec.message());
      tcp.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
      if (!use_tls) return done("");
      std::get<1>(stream_).async_handshake(boost::asio::ssl::stream_base::client,
                                          [done](boost::beast::error_code ec) {
                                            done(ec ? "tls handshake: " + ec.message() : "");
                                          });
    });
  }

  void Prepare(boost::beast::http::verb verb, const std::string& target, std::string body,
               const std::string& content_type, const Headers& headers) {
    namespace http = boost::beast::http;
    req_ = {};
    req_.method(verb);
    req_.target(target);
    req_.version(11);
    req_.set(http::field::host, "bench");
    req_.keep_alive(true);
    if (security_ && !security_->authorization.empty()) req_.set(http::field::authorization, security_->authorization);
    for (const auto& [name, value] : headers) req_.set(name, value);
    if (verb == http::verb::post || verb == http::verb::patch) {
      req_.set(http::field::content_type, content_type);
      req_.body() = std::move(body);
    }
    req_.prepare_payload();
  }

  // Closes the TCP connection under the stream (TLS: without a
  // close_notify; the server sees the connection end).
  void CloseSocket() {
    if (stream_.index() == 1) {
      boost::beast::get_lowest_layer(std::get<1>(stream_)).close();
    } else {
      std::get<0>(stream_).close();
    }
  }

  std::string Broken(std::string error) {
    broken_ = error;
    CloseSocket();
    return error;
  }

  boost::asio::io_context& io_;
  std::shared_ptr<const ConnSecurity> security_;
  std::variant<boost::beast::tcp_stream, TlsStream> stream_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string broken_;  // the error that closed the connection
  boost::beast::flat_buffer buf_;
  boost::beast::http::request<boost::beast::http::string_body> req_;
  boost::beast::http::response<boost::beast::http::string_body> res_;
};

}  // namespace casmem::bench
