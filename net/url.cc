// Percent-coding, UTF-8 validation and request-target parsing.
#include "net/url.h"

#include <cstdint>

namespace casmem::net {
namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<Target> ParseTarget(std::string_view target, std::string* error) {
  Target t;
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  size_t pos = 0;
  if (!path.empty() && path[0] == '/') pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    auto seg = PercentDecode(path.substr(pos, slash - pos));
    if (!seg) {
      *error = "malformed percent-encoding in the path";
      return std::nullopt;
    }
    t.segments.push_back(std::move(*seg));
    pos = slash + 1;
  }
  // "/memory/" has a trailing empty segment; "/" has one empty segment.
  if (!t.segments.empty() && t.segments.back().empty() && t.segments.size() > 1) {
    t.segments.pop_back();
  }
  size_t qp = 0;
  while (qp < query.size()) {
    size_t amp = query.find('&', qp);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view pair = query.substr(qp, amp - qp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      auto name = PercentDecode(pair.substr(0, eq));
      auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      if (!name || !value) {
        *error = "malformed percent-encoding in the query";
        return std::nullopt;
      }
      t.query.emplace_back(std::move(*name), std::move(*value));
    }
    qp = amp + 1;
  }
  return t;
}

const std::string* QueryParam(const Target& t, std::string_view name) {
  const std::string* found = nullptr;
  for (const auto& [k, v] : t.query)
    if (k == name) found = &v;
  return found;
}

}  // namespace casmem::net
