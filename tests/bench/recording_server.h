// RecordingServer: a tiny HTTP/1.1 server for casmem-bench's tests, plain
// or TLS (Beast over Asio's blocking SSL stream), one thread per
// connection. It records every request (method, target, Authorization,
// when it arrived, which connection) and answers what the test's responder
// says. TlsCert makes a throwaway certificate with the openssl CLI.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace casmem::bench::testing {

struct Recorded {
  std::string method, target, authorization, body;
  bool has_authorization = false;
  int connection = 0;  // the order the connection was accepted in
  std::chrono::steady_clock::time_point at;
};

struct Reply {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  Reply(int status_ = 200, std::string body_ = "{}", std::string content_type_ = "application/json",
        Headers headers_ = {})
      : status(status_), body(std::move(body_)), content_type(std::move(content_type_)), headers(std::move(headers_)) {}
  int status;
  std::string body;
  std::string content_type;
  Headers headers;
  bool close = false;  // close the connection after this answer
};

// A throwaway self-signed certificate (ECDSA P-256) made by the openssl
// CLI: subject CN=`cn`, subjectAltName `san` ("IP:127.0.0.1,DNS:localhost").
// nullopt when the CLI is missing or fails.
struct TlsCert {
  std::string cert, key;
};
inline std::optional<TlsCert> MakeTlsCert(const std::string& dir, const std::string& name, const std::string& cn,
                                          const std::string& san) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) return std::nullopt;
  std::filesystem::create_directories(dir);
  TlsCert c{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout '" +
                          c.key + "' -out '" + c.cert + "' -subj '/CN=" + cn + "' -addext 'subjectAltName=" + san +
                          "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return std::nullopt;
  return c;
}

class RecordingServer {
 public:
  using Responder = std::function<Reply(const Recorded&, size_t index)>;

  // `tls`: serve HTTPS with this certificate.
  explicit RecordingServer(Responder responder, std::optional<TlsCert> tls = std::nullopt)
      : responder_(std::move(responder)),
        acceptor_(io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    if (tls) {
      ctx_.emplace(boost::asio::ssl::context::tls_server);
      ctx_->use_certificate_chain_file(tls->cert);
      ctx_->use_private_key_file(tls->key, boost::asio::ssl::context::pem);
    }
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~RecordingServer() {
    stopping_ = true;
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket s(io_);  // wakes the blocked accept
    s.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    accept_thread_.join();
    acceptor_.close(ec);
    {
      std::lock_guard<std::mutex> l(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);  // ends sessions blocked in a read
    }
    for (auto& t : sessions_) t.join();
  }

  uint16_t port() const { return port_; }
  std::vector<Recorded> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  int connections() const {
    std::lock_guard<std::mutex> l(mu_);
    return connections_;
  }
  int handshakes_failed() const {
    std::lock_guard<std::mutex> l(mu_);
    return handshakes_failed_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      boost::asio::ip::tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stopping_) return;
      int id;
      {
        std::lock_guard<std::mutex> l(mu_);
        id = connections_++;
        fds_.push_back(s.native_handle());
      }
      // The descriptor leaves fds_ before its socket is closed (it could
      // be reused by then).
      sessions_.emplace_back([this, id, s = std::move(s)]() mutable {
        const int fd = s.native_handle();
        if (!ctx_) {
          Session(s, id);
          return Forget(fd);
        }
        boost::asio::ssl::stream<boost::asio::ip::tcp::socket> tls(std::move(s), *ctx_);
        boost::system::error_code ec;
        tls.handshake(boost::asio::ssl::stream_base::server, ec);
        if (ec) {
          std::lock_guard<std::mutex> l(mu_);
          ++handshakes_failed_;
        } else {
          Session(tls, id);
        }
        Forget(fd);
      });
    }
  }

  void Forget(int fd) {
    std::lock_guard<std::mutex> l(mu_);
    fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
  }

  template <class Stream>
  void Session(Stream& s, int id) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(s, buf, req, ec);
      if (ec) return;
      Recorded r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      r.body = req.body();
      auto it = req.find(http::field::authorization);
      r.has_authorization = it != req.end();
      if (r.has_authorization) r.authorization = std::string(it->value());
      r.connection = id;
      r.at = std::chrono::steady_clock::now();
      size_t index;
      {
        std::lock_guard<std::mutex> l(mu_);
        index = requests_.size();
        requests_.push_back(r);
      }
      const Reply reply = responder_(r, index);
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      res.set(http::field::content_type, reply.content_type);
      for (const auto& [k, v] : reply.headers) res.set(k, v);
      res.body() = reply.body;
      res.keep_alive(!reply.close);
      res.prepare_payload();
      http::write(s, res, ec);
      if (ec || reply.close) return;
    }
  }

  Responder responder_;
  boost::asio::io_context io_;
  std::optional<boost::asio::ssl::context> ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> sessions_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<Recorded> requests_;
  std::vector<int> fds_;
  int connections_ = 0, handshakes_failed_ = 0;
};

// Answers the casmem requests the benchmark's read / write / cas workloads
// make: POST of a key -> committed at version 1; GET of a key -> the seed
// value at version 1; /healthz -> 200; anything else 404.
inline Reply CasmemOk(const Recorded& r) {
  if (r.target == "/healthz") return {200, R"({"status":"ok"})"};
  if (r.method == "POST" && r.target.rfind("/workspaces/", 0) == 0) {
    return {200, R"({"status":"ok","version":1,"revision":1})"};
  }
  if (r.method == "GET" && r.target.find("/memory/") != std::string::npos) {
    return {200, R"({"key":"k","value":{"counter":0,"agents":[]},"version":1})"};
  }
  return {404, R"({"error":"not found"})"};
}

}  // namespace casmem::bench::testing
