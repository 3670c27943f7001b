// HttpClient (http_client.h): the only file of the CLI that includes Beast
// and Asio. Each blocking step runs one asynchronous operation on the
// client's own io_context, under a beast::tcp_stream deadline, so that a
// silent or trickling server cannot hang the CLI.
#include "tools/cli/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <chrono>
#include <optional>

namespace casmem::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::chrono::seconds kWatchSilence{90};
// The largest answer body read (a 1 MiB value JSON-escaped, a page of
// 10000 keys, fit easily); a longer one (a hostile or broken server's
// endless body) fails the request instead of growing without bound.
constexpr uint64_t kMaxBody = 64ull << 20;
// The longest SSE line and event (casmemd's are far shorter); beyond it
// the stream is taken as broken.
constexpr size_t kMaxSseEvent = 16u << 20;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsClosedByPeer(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

// Incremental Server-Sent Events parser (the subset casmemd sends: event,
// id, data, comments; lines end with \n or \r\n).
class SseParser {
 public:
  // Feeds bytes; calls fn per complete event. False when fn said stop or
  // the stream is broken (a line or event over kMaxSseEvent: *broken).
  bool Feed(std::string_view bytes, const HttpClient::EventFn& fn, bool* broken) {
    pending_.append(bytes);
    size_t start = 0;
    while (true) {
      // Bytes before scanned_ were searched already: each byte is
      // searched once however many chunks a long line arrives in.
      const size_t nl = pending_.find('\n', std::max(start, scanned_));
      if (nl == std::string::npos) break;
      std::string_view line(pending_.data() + start, nl - start);
      start = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) {
        if (has_data_ || !event_.empty()) {
          const bool go = fn(event_.empty() ? "message" : event_, id_, data_);
          event_.clear();
          id_.clear();
          data_.clear();
          has_data_ = false;
          if (!go) {
            pending_.erase(0, start);
            scanned_ = 0;
            return false;
          }
        }
        continue;
      }
      if (line.front() == ':') continue;  // comment (heartbeat)
      const size_t colon = line.find(':');
      std::string_view field = line.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (field == "event") {
        event_ = value;
      } else if (field == "id") {
        id_ = value;
      } else if (field == "data") {
        if (has_data_) data_ += '\n';
        data_.append(value);
        has_data_ = true;
      }
    }
    pending_.erase(0, start);
    scanned_ = pending_.size();
    if (pending_.size() > kMaxSseEvent || data_.size() + pending_.size() > kMaxSseEvent) {
      *broken = true;
      return false;
    }
    return true;
  }

 private:
  std::string pending_, event_, id_, data_;
  size_t scanned_ = 0;  // pending_[0, scanned_) holds no newline
  bool has_data_ = false;
};

}  // namespace

std::string Response::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return "";
}

std::string EncodePathSegment(std::string_view key) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

struct HttpClient::Impl {
  GlobalOptions global;
  std::string url_error;  // non-empty: --url did not parse
  bool tls = false;
  std::string host;    // without brackets
  std::string port;
  std::string prefix;  // the URL's path, without a trailing '/'
  asio::io_context ioc;
  std::unique_ptr<ssl::context> ctx;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool connected = false;
  // When the request under way must be complete (--timeout from its
  // start): every step of it is armed with this one deadline, so an answer
  // that trickles in cannot stretch it.
  std::chrono::steady_clock::time_point deadline;

  void StartClock() {
    deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(global.timeout_ms);
  }
  void Arm() { Lowest().expires_at(deadline); }
  std::string TimeoutText() const {
    const long long ms = global.timeout_ms;
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
  }

  std::string Authority() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  }

  void ParseUrl(const std::string& url) {
    std::string_view rest = url;
    if (rest.substr(0, 7) == "http://") {
      rest.remove_prefix(7);
    } else if (rest.substr(0, 8) == "https://") {
      rest.remove_prefix(8);
      tls = true;
    } else {
      url_error = "bad --url \"" + url + "\": it must start with http:// or https://";
      return;
    }
    const size_t slash = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (!path.empty() && path.front() != '/') {
      url_error = "bad --url \"" + url + "\": a query or fragment is not allowed";
      return;
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    prefix = path;
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
      const size_t close = authority.find(']');
      if (close == std::string_view::npos) {
        url_error = "bad --url \"" + url + "\": unclosed [";
        return;
      }
      host = authority.substr(1, close - 1);
      std::string_view after = authority.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':') {
          url_error = "bad --url \"" + url + "\": junk after ]";
          return;
        }
        port_text = after.substr(1);
      }
    } else {
      const size_t colon = authority.rfind(':');
      host = authority.substr(0, colon);
      if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (host.empty() || host.find('@') != std::string::npos) {
      url_error = "bad --url \"" + url + "\": no host (or user info, which is not supported)";
      return;
    }
    if (port_text.empty()) {
      port = tls ? "443" : "80";
    } else {
      for (char c : port_text) {
        if (!std::isdigit(static_cast<unsigned char>(c))) {
          url_error = "bad --url \"" + url + "\": bad port";
          return;
        }
      }
      port = port_text;
    }
    if (tls) {
      ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
      error_code ec;
      if (global.insecure) {
        ctx->set_verify_mode(ssl::verify_none);
      } else {
        ctx->set_verify_mode(ssl::verify_peer);
        if (!global.cacert.empty()) {
          ctx->load_verify_file(global.cacert, ec);
          if (ec) url_error = "cannot use --cacert " + global.cacert + ": " + ec.message();
        } else {
          ctx->set_default_verify_paths(ec);
        }
      }
    }
  }

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*secure) : *plain; }

  // Runs one asynchronous operation to completion on this thread.
  template <class Start>
  error_code Run(Start&& start) {
    error_code result = asio::error::would_block;
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  void Close() {
    if (plain || secure) {
      error_code ignored;
      Lowest().socket().close(ignored);
    }
    plain.reset();
    secure.reset();
    buffer.clear();
    connected = false;
  }

  std::string Why(const error_code& ec) {
    if (ec == beast::error::timeout) return "timed out";
    std::string why = ec.message();
    if (tls && secure && ec.category() == asio::error::get_ssl_category()) {
      const long v = SSL_get_verify_result(secure->native_handle());
      if (v != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(v) + ")";
    }
    return why;
  }

  bool Connect(std::string* error) {
    Close();
    if (!url_error.empty()) {
      *error = url_error;
      return false;
    }
    tcp::resolver resolver(ioc);
    error_code ec;
    const auto endpoints = resolver.resolve(host, port, ec);
    if (ec) {
      *error = "cannot resolve " + host + ": " + ec.message();
      return false;
    }
    if (tls) {
      secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, *ctx);
      SSL* ssl = secure->native_handle();
      error_code addr_ec;
      asio::ip::make_address(host, addr_ec);
      if (addr_ec) {  // a name: SNI and name verification
        SSL_set_tlsext_host_name(ssl, host.c_str());
        SSL_set1_host(ssl, host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
      }
    } else {
      plain = std::make_unique<beast::tcp_stream>(ioc);
    }
    Arm();
    ec = Run([&](auto handler) { Lowest().async_connect(endpoints, std::move(handler)); });
    if (ec) {
      *error = "cannot connect to " + Authority() + ": " + Why(ec);
      Close();
      return false;
    }
    Lowest().socket().set_option(tcp::no_delay(true), ec);
    if (tls) {
      Arm();
      ec = Run([&](auto handler) {
        secure->async_handshake(ssl::stream_base::client, std::move(handler));
      });
      if (ec) {
        *error = "TLS handshake with " + Authority() + " failed: " + Why(ec);
        Close();
        return false;
      }
    }
    connected = true;
    return true;
  }

  http::request<http::string_body> MakeRequest(std::string_view method, std::string_view target,
                                               std::string_view body, const HeaderList& headers) {
    http::request<http::string_body> req;
    const http::verb verb = http::string_to_verb(method);
    if (verb == http::verb::unknown) {
      req.method_string(method);
    } else {
      req.method(verb);
    }
    req.target(prefix + std::string(target));
    req.version(11);
    req.set(http::field::host, Authority());
    req.set(http::field::user_agent, "casmem-cli");
    if (!global.token.empty()) req.set(http::field::authorization, "Bearer " + global.token);
    if (!global.writer.empty() && method != "GET") req.set("Casmem-Writer", global.writer);
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty() || (method != "GET" && method != "DELETE" && method != "HEAD")) {
      req.body() = std::string(body);
      req.prepare_payload();
    }
    return req;
  }

  template <class Stream>
  error_code Write(Stream& s, http::request<http::string_body>& req) {
    Arm();
    return Run([&](auto handler) { http::async_write(s, req, std::move(handler)); });
  }

  // Writes req and reads its answer; *got_any says whether any byte of
  // the answer arrived (a failure before that may be retried).
  template <class Stream>
  bool Exchange(Stream& s, http::request<http::string_body>& req, Response* out, bool* got_any,
                error_code* failure) {
    *got_any = false;
    error_code ec = Write(s, req);
    if (ec) {
      *failure = ec;
      return false;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    while (!parser.is_done()) {
      Arm();
      ec = Run([&](auto handler) { http::async_read_some(s, buffer, parser, std::move(handler)); });
      if (parser.got_some() || buffer.size() > 0) *got_any = true;
      if (ec) {
        *failure = ec;
        return false;
      }
    }
    auto& res = parser.get();
    out->status = res.result_int();
    out->headers.clear();
    for (const auto& field : res) {
      out->headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
    }
    out->body = std::move(res.body());
    if (!res.keep_alive()) Close();
    return true;
  }

  template <class Stream>
  bool WatchOn(Stream& s, http::request<http::string_body>& req, const EventFn& on_event,
               int* status, std::string* error, std::string* error_body) {
    error_code ec = Write(s, req);
    if (ec) {
      *error = "lost the connection to " + Authority() + ": " + Why(ec);
      return false;
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);  // an endless stream is the point; SseParser bounds what it keeps
    Arm();
    ec = Run([&](auto handler) { http::async_read_header(s, buffer, parser, std::move(handler)); });
    if (ec) {
      *error = "no answer from " + Authority() + ": " + Why(ec);
      return false;
    }
    *status = parser.get().result_int();
    if (*status != 200) {
      http::response_parser<http::string_body> rest(std::move(parser));
      rest.body_limit(kMaxBody);
      while (!rest.is_done()) {
        Arm();
        ec = Run([&](auto handler) { http::async_read_some(s, buffer, rest, std::move(handler)); });
        if (ec) break;
      }
      if (error_body) *error_body = rest.get().body();
      return true;
    }
    SseParser sse;
    char chunk[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      Lowest().expires_after(kWatchSilence);
      ec = Run([&](auto handler) { http::async_read_some(s, buffer, parser, std::move(handler)); });
      if (ec == http::error::need_buffer) ec = {};
      const size_t n = sizeof chunk - parser.get().body().size;
      bool broken = false;
      if (n > 0 && !sse.Feed(std::string_view(chunk, n), on_event, &broken)) {
        if (!broken) return true;
        *error = "bad event stream from " + Authority() + ": a line or event over 16 MiB";
        return false;
      }
      if (ec) {
        *error = ec == beast::error::timeout
                     ? "no data from " + Authority() + " for 90 s"
                     : "lost the connection to " + Authority() + ": " + Why(ec);
        return false;
      }
    }
    return true;
  }
};

HttpClient::HttpClient(const GlobalOptions& global) : impl_(std::make_unique<Impl>()) {
  impl_->global = global;
  impl_->ParseUrl(global.url);
}

HttpClient::~HttpClient() { impl_->Close(); }

std::string HttpClient::Authority() const { return impl_->Authority(); }

const std::string& HttpClient::UrlError() const { return impl_->url_error; }

bool HttpClient::Request(std::string_view method, std::string_view target, std::string_view body,
                         const HeaderList& headers, Response* out, std::string* error) {
  Impl& im = *impl_;
  auto req = im.MakeRequest(method, target, body, headers);
  im.StartClock();
  for (int attempt = 0;; ++attempt) {
    const bool reused = im.connected;
    if (!im.connected && !im.Connect(error)) return false;
    bool got_any = false;
    error_code failure;
    const bool ok = im.tls ? im.Exchange(*im.secure, req, out, &got_any, &failure)
                           : im.Exchange(*im.plain, req, out, &got_any, &failure);
    if (ok) return true;
    if (failure == http::error::body_limit) {
      *error = "the answer from " + im.Authority() + " is over 64 MiB: refused";
    } else {
      *error = failure == beast::error::timeout
                   ? "no complete answer from " + im.Authority() + " within " + im.TimeoutText() +
                         " (--timeout)"
                   : "lost the connection to " + im.Authority() + ": " + im.Why(failure);
    }
    im.Close();
    // A kept connection the server closed while idle: the request never
    // reached it, so sending it once more on a new connection is safe.
    if (!reused || got_any || attempt > 0 || !IsClosedByPeer(failure)) return false;
  }
}

bool HttpClient::Watch(std::string_view target, const HeaderList& headers, const EventFn& on_event,
                       int* status, std::string* error, std::string* error_body) {
  Impl& im = *impl_;
  *status = 0;
  auto req = im.MakeRequest("GET", target, "", headers);
  req.set(http::field::accept, "text/event-stream");
  im.StartClock();  // connecting and the answer's header; then kWatchSilence
  if (!im.Connect(error)) return false;
  const bool ok = im.tls ? im.WatchOn(*im.secure, req, on_event, status, error, error_body)
                         : im.WatchOn(*im.plain, req, on_event, status, error, error_body);
  im.Close();  // a stream's connection is never reused
  return ok;
}

}  // namespace casmem::cli
