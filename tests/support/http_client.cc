// HttpClient and Casmemd implementations.
#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace casmem::testing {

int ConnectLoopback(int port, int rcvbuf) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  timeval send_timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::unique_ptr<HttpClient> HttpClient::Connect(int port, int rcvbuf) {
  const int fd = ConnectLoopback(port, rcvbuf);
  if (fd < 0) return nullptr;
  return std::unique_ptr<HttpClient>(new HttpClient(fd));
}

HttpClient::~HttpClient() { ::close(fd_); }

bool HttpClient::SendRaw(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) {
      last_errno_ = errno;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

bool HttpClient::Fill(int timeout_ms) {
  if (eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char tmp[65536];
  if (pace_bytes_ > 0 && std::chrono::steady_clock::now() >= pace_until_) pace_bytes_ = pace_ms_ = 0;
  const size_t want = pace_bytes_ > 0 ? std::min(pace_bytes_, sizeof tmp) : sizeof tmp;
  ssize_t n = ::recv(fd_, tmp, want, 0);
  if (n <= 0) {
    if (n < 0) last_errno_ = errno;
    eof_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<size_t>(n));
  if (pace_ms_ > 0) ::poll(nullptr, 0, pace_ms_);
  return true;
}

void HttpClient::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

bool HttpClient::ClosedByPeer(int timeout_ms) {
  while (!eof_) {
    if (!Fill(timeout_ms) && !eof_) return false;
  }
  return true;
}

bool HttpClient::Read(HttpReply* out, int timeout_ms) {
  *out = HttpReply{};
  size_t header_end;
  while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(timeout_ms)) return false;
  }
  std::istringstream head(buf_.substr(0, header_end));
  std::string line;
  std::getline(head, line);
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) return false;
  out->status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    out->headers[name] = value;
  }
  buf_.erase(0, header_end + 4);
  if (out->status >= 100 && out->status < 200) return true;  // interim: no body
  if (out->Header("transfer-encoding") == "chunked") {
    out->chunked = true;
    for (;;) {
      size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos) {
        if (!Fill(timeout_ms)) return false;
      }
      const size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
      while (buf_.size() < eol + 2 + size + 2) {
        if (!Fill(timeout_ms)) return false;
      }
      out->body.append(buf_, eol + 2, size);
      buf_.erase(0, eol + 2 + size + 2);
      if (size == 0) return true;
    }
  }
  const std::string length = out->Header("content-length");
  if (!length.empty()) {
    const size_t n = std::stoul(length);
    while (buf_.size() < n) {
      if (!Fill(timeout_ms)) return false;
    }
    out->body = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }
  while (Fill(timeout_ms)) {
  }
  out->body = buf_;
  buf_.clear();
  return true;
}

std::string RawRequest(const std::string& method, const std::string& target,
                       const std::string& body, const std::string& extra_headers) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers;
  if (!body.empty() || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

HttpReply HttpClient::Request(const std::string& method, const std::string& target,
                              const std::string& body, const std::string& extra_headers) {
  HttpReply reply;
  if (!SendRaw(RawRequest(method, target, body, extra_headers)) || !Read(&reply)) reply.status = -1;
  return reply;
}

Casmemd::Casmemd(const std::string& data_dir, const std::vector<std::string>& args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return;
  stderr_path_ = data_dir + ".stderr";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (err >= 0) ::dup2(err, 2);
    // CASMEMD_BIN: run another casmemd build (e.g. one without a fix, to
    // see a test fail against it).
    const char* bin = std::getenv("CASMEMD_BIN");
    std::vector<std::string> argv_s = {bin != nullptr && *bin != '\0' ? bin : CASMEMD_PATH, "--listen", "127.0.0.1:0", "--data-dir", data_dir};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(out[1]);
  // The ready line: "casmemd listening on http://127.0.0.1:PORT" (https:// with TLS).
  std::string line;
  char c;
  pollfd p{out[0], POLLIN, 0};
  while (::poll(&p, 1, 20'000) > 0 && ::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  ::close(out[0]);
  for (const std::string prefix : {"casmemd listening on http://127.0.0.1:", "casmemd listening on https://127.0.0.1:"}) {
    if (line.rfind(prefix, 0) == 0) port_ = std::stoi(line.substr(prefix.size()));
  }
}

Casmemd::~Casmemd() {
  if (pid_ > 0) Kill();
}

int Casmemd::Wait() {
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

int Casmemd::Terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return Wait();
}

void Casmemd::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  Wait();
}

std::string Casmemd::Stderr() const {
  std::ifstream f(stderr_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace casmem::testing
