// Transfer-Encoding per RFC 9112 §6.1 and §6.3: see http_framing.h.
#include "net/http_framing.h"

namespace casmem::net {
namespace {

// RFC 9110 tchar.
bool IsTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;  // b is lower case
  }
  return true;
}

}  // namespace

std::optional<HttpResponse> TransferEncodingError(const std::vector<std::string_view>& fields,
                                                  unsigned version, bool has_content_length,
                                                  bool parser_chunked) {
  if (fields.empty()) return std::nullopt;
  if (version < 11) {
    return Handler::Error(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
  }
  std::string_view last;  // views into the header, which outlives it
  size_t codings = 0;
  for (const std::string_view v : fields) {
    size_t pos = 0;
    while (pos <= v.size()) {
      size_t comma = v.find(',', pos);
      if (comma == std::string_view::npos) comma = v.size();
      const std::string_view item = v.substr(pos, comma - pos);
      // transfer-coding = token *( OWS ";" OWS transfer-parameter ); an
      // empty item or one not starting with a token is malformed.
      const std::string_view coding = TrimOws(item.substr(0, item.find(';')));
      if (!IsToken(coding)) return Handler::Error(400, "malformed Transfer-Encoding");
      ++codings;
      last = coding;
      pos = comma + 1;
    }
  }
  if (!EqualsIgnoreCase(last, "chunked")) {
    return Handler::Error(400, "Transfer-Encoding must end with chunked");
  }
  if (has_content_length) {
    return Handler::Error(400, "a request must not have both Transfer-Encoding and Content-Length");
  }
  if (codings > 1) return Handler::Error(501, "transfer codings other than chunked are not supported");
  if (!parser_chunked) return Handler::Error(400, "malformed Transfer-Encoding");
  return std::nullopt;
}

}  // namespace casmem::net
