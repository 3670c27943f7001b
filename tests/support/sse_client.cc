// SSE test clients (sse_client.h). Parsing follows the HTML standard's
// event-stream interpretation: lines end in CRLF, LF or CR; a line
// starting with ':' is a comment; `field: value` (one leading space
// dropped); a blank line dispatches the event if it has data.
#include "tests/support/sse_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace casmem::testing {

std::unique_ptr<SseClient> SseClient::Open(int port, const std::string& target,
                                           const std::string& extra_headers, int rcvbuf) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<SseClient> c(new SseClient(fd));
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
                          extra_headers + "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return nullptr;
  // The head.
  size_t end;
  while ((end = c->buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!c->Fill(10'000)) return c;  // status 0: no head
  }
  const std::string head = c->buf_.substr(0, end);
  c->buf_.erase(0, end + 4);
  c->status_ = std::atoi(head.substr(9, 3).c_str());
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    const size_t next = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      c->headers_[name] = value;
    }
    pos = next;
  }
  if (c->status_ != 200) {
    // A JSON error with a Content-Length.
    const size_t length = std::strtoul(c->Header("content-length").c_str(), nullptr, 10);
    while (c->buf_.size() < length && c->Fill(10'000)) {
    }
    c->body_ = c->buf_.substr(0, length);
  }
  return c;
}

SseClient::~SseClient() { ::close(fd_); }

std::string SseClient::Header(const std::string& lower_name) const {
  auto it = headers_.find(lower_name);
  return it == headers_.end() ? "" : it->second;
}

bool SseClient::Fill(int timeout_ms) {
  if (eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) {
    timed_out_ = true;
    return false;
  }
  char chunk[16384];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(chunk, static_cast<size_t>(n));
  return true;
}

bool SseClient::TakeLine(std::string* line) {
  const size_t end = buf_.find_first_of("\r\n");
  if (end == std::string::npos) return false;
  // A CR at the very end may be the first half of a CRLF: wait for more.
  if (buf_[end] == '\r' && end + 1 == buf_.size() && !eof_) return false;
  *line = buf_.substr(0, end);
  size_t skip = end + 1;
  if (buf_[end] == '\r' && end + 1 < buf_.size() && buf_[end + 1] == '\n') skip = end + 2;
  buf_.erase(0, skip);
  return true;
}

bool SseClient::Next(SseEvent* ev, int timeout_ms) {
  timed_out_ = false;
  if (status_ != 200) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::string line;
    while (TakeLine(&line)) {
      if (line.empty()) {
        // Dispatch. The last event id is set even by an event without data.
        last_event_id_ = id_buffer_;
        if (!has_data_) {
          pending_ = SseEvent{};
          continue;
        }
        pending_.data.pop_back();  // the last data line's LF
        *ev = std::move(pending_);
        pending_ = SseEvent{};
        has_data_ = false;
        return true;
      }
      if (line[0] == ':') {
        ++comments_;
        continue;
      }
      const size_t colon = line.find(':');
      std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field == "event") {
        pending_.event = value;
      } else if (field == "data") {
        pending_.data += value;
        pending_.data += '\n';
        has_data_ = true;
      } else if (field == "id") {
        if (value.find('\0') == std::string::npos) {
          id_buffer_ = value;
          pending_.id = value;
        }
      } else if (field == "retry") {
        if (!value.empty() && std::all_of(value.begin(), value.end(), ::isdigit)) retry_ms_ = std::stoi(value);
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out_ = true;
      return false;
    }
    if (!Fill(static_cast<int>(left.count()))) return false;
  }
}

bool EventSourceClient::Next(SseEvent* ev, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          deadline - std::chrono::steady_clock::now())
                                          .count());
    if (left <= 0) return false;
    if (!stream_ || stream_->eof() || stream_->status() != 200) {
      stream_.reset();
      stream_ = SseClient::Open(port_, target_, last_id_.empty() ? "" : "Last-Event-ID: " + last_id_ + "\r\n");
      ++connects_;
      if (!stream_ || stream_->status() != 200) {
        stream_.reset();
        ::usleep(50'000);  // the server is restarting: try again shortly
        continue;
      }
    }
    if (stream_->Next(ev, left)) {
      if (!ev->id.empty()) last_id_ = ev->id;
      return true;
    }
    if (stream_->timed_out()) return false;
  }
}

}  // namespace casmem::testing
