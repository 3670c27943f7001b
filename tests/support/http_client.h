// Test support for talking to a real casmemd: a blocking HTTP/1.1 client
// over a socket (raw writes allowed, for pipelining and slow clients), and
// a handle on a casmemd child process started on an ephemeral port.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace casmem::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool chunked = false;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpClient {
 public:
  // Connects to 127.0.0.1:port; nullptr on failure. `rcvbuf` > 0 fixes the
  // socket's receive buffer (no autotuning), so that a slow reader really
  // holds the server back. A send blocked for 30 s fails (no test hangs).
  static std::unique_ptr<HttpClient> Connect(int port, int rcvbuf = 0);
  ~HttpClient();
  // Sends all of `bytes` (blocking). False on error: last_error() says why.
  bool SendRaw(const std::string& bytes);
  // From now on each receive takes at most `bytes` and is followed by a
  // pause of `pause_ms`: a client that reads, but slowly. With `for_ms` >
  // 0, only for that long; then it reads at full speed again.
  void SetReadPace(size_t bytes, int pause_ms, int for_ms = 0) {
    pace_bytes_ = bytes;
    pace_ms_ = pause_ms;
    pace_until_ = for_ms > 0 ? std::chrono::steady_clock::now() + std::chrono::milliseconds(for_ms)
                             : std::chrono::steady_clock::time_point::max();
  }
  // Half-closes: the server sees EOF, this side can still read.
  void ShutdownWrite();
  int last_error() const { return last_errno_; }  // errno of the last failed send/recv
  // Reads one response (an interim 1xx counts as one, without a body);
  // false on EOF, error or `timeout_ms` without one.
  bool Read(HttpReply* out, int timeout_ms = 10'000);
  // True when the server closed the connection (EOF) within timeout_ms.
  bool ClosedByPeer(int timeout_ms = 5'000);
  HttpReply Request(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& extra_headers = "");

 private:
  explicit HttpClient(int fd) : fd_(fd) {}
  bool Fill(int timeout_ms);  // appends what arrives to buf_
  int fd_;
  std::string buf_;
  bool eof_ = false;
  size_t pace_bytes_ = 0;  // 0: no pacing
  int pace_ms_ = 0;
  std::chrono::steady_clock::time_point pace_until_ = std::chrono::steady_clock::time_point::max();
  int last_errno_ = 0;
};

// A TCP connection to 127.0.0.1:port (TCP_NODELAY; `rcvbuf` > 0 fixes the
// receive buffer; a send blocked for 30 s fails): its fd, or -1.
int ConnectLoopback(int port, int rcvbuf = 0);

// Builds the bytes of one request (Content-Length set when body is given).
std::string RawRequest(const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& extra_headers = "");

class Casmemd {
 public:
  // Starts build/bin/casmemd on 127.0.0.1:0 with `data_dir` and `args`;
  // waits for the ready line. port() is 0 if it did not come up.
  Casmemd(const std::string& data_dir, const std::vector<std::string>& args = {});
  ~Casmemd();  // SIGKILL if still running
  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // -1 once reaped
  // SIGTERM and wait: the exit status (or -signal).
  int Terminate();
  void Kill();  // SIGKILL and reap
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string stderr_path_;
  int Wait();
};

}  // namespace casmem::testing
