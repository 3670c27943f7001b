// HttpConn: one keep-alive HTTP/1.1 client connection (Beast), one request
// at a time, for the drivers that speak HTTP (casmem, etcd's gateway).
// Once a request fails the connection is closed for good: every later
// Send completes at once with the first error, so a dead server ends a run
// instead of leaving requests pending.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <string>

namespace casmem::bench {

class HttpConn {
 public:
  explicit HttpConn(boost::asio::io_context& io) : stream_(io) {}

  // Resolves a dotted address (or "localhost") and connects.
  void Open(const std::string& host, uint16_t port, std::function<void(std::string)> done) {
    boost::beast::error_code ec;
    const auto addr =
        boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return done("bad host " + host);
    stream_.async_connect(boost::asio::ip::tcp::endpoint(addr, port),
                          [this, done](boost::beast::error_code ec) {
                            if (!ec) stream_.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
                            done(ec ? "connect: " + ec.message() : "");
                          });
  }

  // Sends one request; `done("")` once response() holds the reply.
  void Send(boost::beast::http::verb verb, const std::string& target, std::string body,
            std::function<void(std::string)> done) {
    namespace http = boost::beast::http;
    if (!broken_.empty()) {
      return boost::asio::post(stream_.get_executor(), [done, e = broken_] { done(e); });
    }
    req_ = {};
    req_.method(verb);
    req_.target(target);
    req_.version(11);
    req_.set(http::field::host, "bench");
    req_.keep_alive(true);
    if (verb == http::verb::post) {
      req_.set(http::field::content_type, "application/json");
      req_.body() = std::move(body);
    }
    req_.prepare_payload();
    http::async_write(stream_, req_, [this, done](boost::beast::error_code ec, size_t) {
      if (ec) return done(Broken("send: " + ec.message()));
      res_ = {};
      http::async_read(stream_, buf_, res_, [this, done](boost::beast::error_code ec, size_t) {
        done(ec ? Broken("receive: " + ec.message()) : "");
      });
    });
  }

  const boost::beast::http::response<boost::beast::http::string_body>& response() const { return res_; }

 private:
  std::string Broken(std::string error) {
    broken_ = error;
    stream_.close();
    return error;
  }

  boost::beast::tcp_stream stream_;
  std::string broken_;  // the error that closed the connection
  boost::beast::flat_buffer buf_;
  boost::beast::http::request<boost::beast::http::string_body> req_;
  boost::beast::http::response<boost::beast::http::string_body> res_;
};

}  // namespace casmem::bench
