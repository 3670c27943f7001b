// StreamConn: one HTTP/1.1 request whose response body is a stream (an
// SSE watch, etcd's streaming watch), read as it arrives. The body may be
// chunked or end at connection close (or have a length); Beast's parser
// undoes the framing and every read hands the decoded bytes over at once,
// stamped with the steady-clock time the read completed, so a delivery's
// latency is measured at the socket, not when a buffer filled.
//
// Lifetime: the owner keeps the object alive until its io_context has
// stopped; Close() ends the stream from the owner's side (on_end is then
// called with `stopped` set).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <limits>
#include <string>

#include "bench/latency.h"

namespace casmem::bench {

class StreamConn {
 public:
  using Header = boost::beast::http::response_header<>;
  struct Handlers {
    // The response head arrived; return false to end the stream (wrong
    // status or type), with the reason in *why.
    std::function<bool(const Header&, std::string* why)> on_header;
    std::function<void(const char*, size_t, uint64_t recv_ns)> on_bytes;
    // The stream ended: `why` says how; `stopped` when Close() ended it.
    std::function<void(const std::string& why, bool stopped)> on_end;
  };

  explicit StreamConn(boost::asio::io_context& io) : socket_(io) {}

  void Start(const boost::asio::ip::tcp::endpoint& to,
             boost::beast::http::request<boost::beast::http::string_body> req, Handlers h) {
    h_ = std::move(h);
    req_ = std::move(req);
    socket_.async_connect(to, [this](boost::beast::error_code ec) {
      if (ec) return End("connect: " + ec.message());
      socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
      boost::beast::http::async_write(socket_, req_, [this](boost::beast::error_code ec, size_t) {
        if (ec) return End("send: " + ec.message());
        ReadHeader();
      });
    });
  }

  void Close() {
    if (ended_) return;
    stopping_ = true;
    boost::beast::error_code ec;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  bool ended() const { return ended_; }

 private:
  void ReadHeader() {
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    boost::beast::http::async_read_header(socket_, buf_, parser_, [this](boost::beast::error_code ec, size_t) {
      if (ec) return End("response head: " + ec.message());
      std::string why;
      if (!h_.on_header(parser_.get().base(), &why)) return End(why);
      ReadBody();
    });
  }

  void ReadBody() {
    parser_.get().body().data = chunk_;
    parser_.get().body().size = sizeof chunk_;
    boost::beast::http::async_read_some(socket_, buf_, parser_, [this](boost::beast::error_code ec, size_t) {
      const uint64_t now = NowNs();
      const size_t got = sizeof chunk_ - parser_.get().body().size;
      if (ec == boost::beast::http::error::need_buffer) ec = {};
      if (got > 0) h_.on_bytes(chunk_, got, now);
      if (ec == boost::beast::http::error::end_of_stream || ec == boost::asio::error::eof) {
        return End("closed by the server");
      }
      if (ec) return End("receive: " + ec.message());
      if (parser_.is_done()) return End("closed by the server (end of body)");
      ReadBody();
    });
  }

  void End(const std::string& why) {
    if (ended_) return;
    ended_ = true;
    boost::beast::error_code ec;
    socket_.close(ec);
    if (h_.on_end) h_.on_end(stopping_ ? "stopped" : why, stopping_);
  }

  boost::asio::ip::tcp::socket socket_;
  Handlers h_;
  boost::beast::http::request<boost::beast::http::string_body> req_;
  boost::beast::flat_buffer buf_;
  boost::beast::http::response_parser<boost::beast::http::buffer_body> parser_;
  char chunk_[16 * 1024];
  bool ended_ = false, stopping_ = false;
};

}  // namespace casmem::bench
