// The casmem CLI's HTTP/1.1 client: one kept-alive connection to the
// casmemd named by --url (http:// or https://), blocking requests with
// timeouts, and a Server-Sent Events reader for watch. Beast and Asio stay
// inside http_client.cc (compile time); this header needs neither.
//
// Timeouts: a request (connecting, the TLS handshake, sending it and
// reading its whole answer, a reconnection included) must be complete
// within GlobalOptions::timeout_ms (--timeout, 30 s by default), however
// the bytes trickle in. A watch stream gets that long to connect and
// answer with its header; then it has no overall limit and is treated as
// lost when nothing at all (not even the server's heartbeat comment,
// every 15 s by default) arrives for 90 s.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/cli/command.h"

namespace casmem::cli {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 0;
  HeaderList headers;  // names lower-cased, in the order received
  std::string body;
  std::string Header(std::string_view lower_name) const;  // "" when absent
};

class HttpClient {
 public:
  // url, token, cacert, insecure, writer. A malformed --url or an
  // unreadable --cacert: see UrlError().
  explicit HttpClient(const GlobalOptions& global);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request on a kept-alive connection (reconnects once when a kept
  // connection was closed by the server before any byte of the answer
  // arrived). Sends Authorization: Bearer when global.token is set,
  // Casmem-Writer when global.writer is set on non-GET requests, plus
  // `headers`. `target` is the path and query (e.g.
  // "/workspaces/default/memory/k"); the base URL's path prefix, if any,
  // is prepended. False with *error (one line, e.g. "cannot connect to
  // 127.0.0.1:7070: Connection refused") on a network or TLS failure.
  bool Request(std::string_view method, std::string_view target, std::string_view body,
               const HeaderList& headers, Response* out, std::string* error);

  // Streaming GET for Server-Sent Events (watch), on a connection of its
  // own: calls on_event(event, id, data) per event (event "message" when
  // the stream names none; id "" when the event has no id: line; data
  // lines joined by "\n"; comments skipped) until it returns false or the
  // connection ends. Returns false with *error on a network failure
  // (including 90 s of silence); true when on_event stopped it or the
  // server ended the stream. *status is the HTTP status (0 before one
  // arrived); when it is not 200 the body is in *error_body (if given)
  // and no event is delivered.
  using EventFn = std::function<bool(std::string_view event, std::string_view id,
                                     std::string_view data)>;
  bool Watch(std::string_view target, const HeaderList& headers, const EventFn& on_event,
             int* status, std::string* error, std::string* error_body = nullptr);

  // Why --url (or --cacert) cannot be used; "" when they can. Request and
  // Watch fail with this reason too.
  const std::string& UrlError() const;

  // "host:port" of the server, for messages.
  std::string Authority() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a key for a URL path segment (RFC 3986 unreserved kept).
std::string EncodePathSegment(std::string_view key);

}  // namespace casmem::cli
