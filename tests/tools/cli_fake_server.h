// A scripted HTTP server for the CLI's tests of what a real casmemd does
// not do on demand: a connection lost before the answer, a kept-alive
// connection closed while idle, a watch stream cut inside a transaction,
// `lagged` and `compacted`. It listens on 127.0.0.1 (an ephemeral port)
// and hands each accepted connection, in order, to the test's script.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace casmem::testing {

class FakeServer {
 public:
  // script(server, fd, n) serves the n-th connection (0-based); the fd is
  // closed after it returns. Only `connections` connections are accepted.
  FakeServer(int connections, std::function<void(FakeServer& server, int fd, int n)> script)
      : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, connections] {
      for (int n = 0; n < connections; ++n) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 20'000) <= 0) return;  // the test gave up
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        script_(*this, fd, n);
        ::close(fd);
      }
    });
  }
  ~FakeServer() {
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Reads one request (head and Content-Length body); "" on EOF, error or
  // 30 s of silence. Also recorded in requests().
  std::string ReadRequest(int fd) {
    std::string got;
    char buf[4096];
    while (true) {
      const size_t head_end = got.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t length = 0;
        const size_t cl = Lower(got.substr(0, head_end)).find("content-length:");
        if (cl != std::string::npos) length = std::stoul(got.substr(cl + 15));
        if (got.size() >= head_end + 4 + length) {
          std::lock_guard<std::mutex> lock(mu_);
          requests_.push_back(got.substr(0, head_end + 4 + length));
          return requests_.back();
        }
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 30'000) <= 0) return "";
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return "";
      got.append(buf, static_cast<size_t>(n));
    }
  }
  static void Send(int fd, const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  static std::string JsonResponse(const std::string& body, const std::string& extra = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
  }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // The value of header `name` (lower case) in a recorded request.
  static std::string HeaderOf(const std::string& request, const std::string& name) {
    const std::string lower = Lower(request);
    const size_t at = lower.find("\r\n" + name + ":");
    if (at == std::string::npos) return "";
    size_t start = at + 3 + name.size();
    while (start < request.size() && request[start] == ' ') ++start;
    return request.substr(start, request.find("\r\n", start) - start);
  }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  std::function<void(FakeServer&, int, int)> script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

}  // namespace casmem::testing
