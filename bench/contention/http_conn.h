// HttpConn: one keep-alive HTTP/1.1 client connection (Beast), one request
// at a time, for the drivers that speak HTTP (casmem, etcd's gateway).
// Once a request fails the connection is closed for good: every later
// Send completes at once with the first error, so a dead server ends a run
// instead of leaving requests pending. The one deliberate exception is
// SendAndDrop (injected client retries): it closes the connection after
// sending and reconnects to the same address.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace casmem::bench {

class HttpConn {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  explicit HttpConn(boost::asio::io_context& io) : stream_(io) {}

  // Resolves a dotted address (or "localhost") and connects.
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
      return boost::asio::post(stream_.get_executor(), [done, e = broken_] { done(e); });
    }
    Prepare(verb, target, std::move(body), content_type, headers);
    http::async_write(stream_, req_, [this, done](boost::beast::error_code ec, size_t) {
      if (ec) return done(Broken("send: " + ec.message()));
      res_ = {};
      http::async_read(stream_, buf_, res_, [this, done](boost::beast::error_code ec, size_t) {
        done(ec ? Broken("receive: " + ec.message()) : "");
      });
    });
  }

  // Sends one request and closes the connection without reading the answer
  // (the server may or may not have acted on it), then opens a new
  // connection to the same address; `done("")` once it is open.
  void SendAndDrop(boost::beast::http::verb verb, const std::string& target, std::string body,
                   std::function<void(std::string)> done, const std::string& content_type,
                   const Headers& headers) {
    namespace http = boost::beast::http;
    if (!broken_.empty()) {
      return boost::asio::post(stream_.get_executor(), [done, e = broken_] { done(e); });
    }
    Prepare(verb, target, std::move(body), content_type, headers);
    http::async_write(stream_, req_, [this, done](boost::beast::error_code ec, size_t) {
      if (ec) return done(Broken("send: " + ec.message()));
      stream_.close();
      buf_.clear();
      Connect([this, done](std::string err) { done(err.empty() ? "" : Broken(err)); });
    });
  }

  const boost::beast::http::response<boost::beast::http::string_body>& response() const { return res_; }

 private:
  void Connect(std::function<void(std::string)> done) {
    stream_.async_connect(endpoint_, [this, done](boost::beast::error_code ec) {
      if (!ec) stream_.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
      done(ec ? "connect: " + ec.message() : "");
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
    for (const auto& [name, value] : headers) req_.set(name, value);
    if (verb == http::verb::post || verb == http::verb::patch) {
      req_.set(http::field::content_type, content_type);
      req_.body() = std::move(body);
    }
    req_.prepare_payload();
  }

  std::string Broken(std::string error) {
    broken_ = error;
    stream_.close();
    return error;
  }

  boost::beast::tcp_stream stream_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string broken_;  // the error that closed the connection
  boost::beast::flat_buffer buf_;
  boost::beast::http::request<boost::beast::http::string_body> req_;
  boost::beast::http::response<boost::beast::http::string_body> res_;
};

}  // namespace casmem::bench
