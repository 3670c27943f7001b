// Test support for watches (memory-api.md §8): a plain Server-Sent Events
// client over a blocking socket, parsing the stream the way a browser's
// EventSource does (fields, comments, the last event id), and an
// EventSource-style wrapper that reconnects by itself with Last-Event-ID.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace casmem::testing {

struct SseEvent {
  std::string event = "message";  // the `event:` field (EventSource's default)
  std::string data;
  std::string id;  // the `id:` field of this event, empty if it had none
};

class SseClient {
 public:
  // Connects to 127.0.0.1:port, sends `GET target` (plus extra_headers,
  // each ending in \r\n) and reads the response head. nullptr if the
  // connection fails; a non-200 answer is returned with its status and
  // body (then no event follows).
  static std::unique_ptr<SseClient> Open(int port, const std::string& target,
                                         const std::string& extra_headers = "", int rcvbuf = 0);
  ~SseClient();
  int status() const { return status_; }
  std::string Header(const std::string& lower_name) const;
  const std::string& body() const { return body_; }  // of a non-200 answer

  // The next dispatched event; false at EOF, on an error or after
  // timeout_ms without one (timed_out() tells which).
  bool Next(SseEvent* ev, int timeout_ms = 10'000);
  bool timed_out() const { return timed_out_; }
  bool eof() const { return eof_; }
  int comments() const { return comments_; }  // comment lines seen (heartbeats)
  int retry_ms() const { return retry_ms_; }
  // EventSource's last event id: the newest `id:` of a dispatched event.
  const std::string& last_event_id() const { return last_event_id_; }
  // Stops reading for good: the server's writes pile up.
  int fd() const { return fd_; }

 private:
  explicit SseClient(int fd) : fd_(fd) {}
  bool Fill(int timeout_ms);
  // One line from buf_ (without its CR, LF or CRLF); false if none whole.
  bool TakeLine(std::string* line);
  int fd_;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  std::string body_;
  std::string buf_;
  bool eof_ = false;
  bool timed_out_ = false;
  int comments_ = 0;
  int retry_ms_ = -1;
  std::string last_event_id_;
  std::string id_buffer_;  // EventSource's "last event ID buffer"
  SseEvent pending_;
  bool has_data_ = false;
};

// Reconnects (to `port`, or to a new one set with set_port) whenever the
// stream ends, sending Last-Event-ID: the last id received, like a
// browser's EventSource. Stops after `max_reconnects` failures in a row.
class EventSourceClient {
 public:
  EventSourceClient(int port, std::string target) : port_(port), target_(std::move(target)) {}
  void set_port(int port) { port_ = port; }
  // The next event, reconnecting as needed; false after timeout_ms.
  bool Next(SseEvent* ev, int timeout_ms = 10'000);
  int connects() const { return connects_; }
  const std::string& last_event_id() const { return last_id_; }

 private:
  int port_;
  std::string target_;
  std::unique_ptr<SseClient> stream_;
  std::string last_id_;
  int connects_ = 0;
};

}  // namespace casmem::testing
