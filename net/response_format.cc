// FormatResponseHead (see response_format.h): one response head into one
// string, without Beast's field list or serializer.
#include "net/response_format.h"

#include <boost/beast/http/status.hpp>

#include <charconv>

namespace casmem::net {

namespace {

void Field(std::string* out, std::string_view name, std::string_view value) {
  out->append(name);
  out->append(": ");
  out->append(value);
  out->append("\r\n");
}

}  // namespace

void FormatResponseHead(const HttpResponse& r, unsigned version, bool keep_alive, std::string* out) {
  out->clear();
  const unsigned code = static_cast<unsigned>(r.status);
  const char line[] = {'H',
                       'T',
                       'T',
                       'P',
                       '/',
                       static_cast<char>('0' + version / 10),
                       '.',
                       static_cast<char>('0' + version % 10),
                       ' ',
                       static_cast<char>('0' + code / 100),
                       static_cast<char>('0' + code / 10 % 10),
                       static_cast<char>('0' + code % 10),
                       ' '};
  out->append(line, sizeof line);
  // The reason phrase Beast writes for a code (RFC 9110's; an unknown
  // code gets Beast's placeholder, as before).
  const auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(code));
  out->append(reason.data(), reason.size());
  out->append("\r\nServer: casmemd\r\n");
  Field(out, "Content-Type", r.content_type);
  for (const auto& [name, value] : r.headers) Field(out, name, value);
  // As Beast's keep_alive(): HTTP/1.1 is persistent unless told "close",
  // HTTP/1.0 closes unless told "keep-alive" (RFC 9112 §9.3).
  if (version >= 11 && !keep_alive) out->append("Connection: close\r\n");
  if (version < 11 && keep_alive) out->append("Connection: keep-alive\r\n");
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, r.body.size());
  (void)ec;  // 24 digits hold any size_t
  out->append("Content-Length: ");
  out->append(digits, end);
  out->append("\r\n\r\n");
}

}  // namespace casmem::net
