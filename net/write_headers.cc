// ParseWriteHeaders and RequestFingerprint.
#include "net/write_headers.h"

#include <xxhash.h>

#include <cctype>
#include <cstring>

#include "net/handler_internal.h"
#include "net/json_body.h"
#include "net/url.h"

namespace casmem::net {
namespace {

bool AllIn(std::string_view s, char lo, char hi) {
  for (char c : s)
    if (c < lo || c > hi) return false;
  return true;
}

// Feeds a 64-bit little-endian length, then the bytes.
void Field(XXH3_state_t* st, std::string_view s) {
  unsigned char len[8];
  const uint64_t n = s.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
  XXH3_128bits_update(st, len, sizeof len);
  XXH3_128bits_update(st, s.data(), s.size());
}

}  // namespace

// If-Match: exactly one strong entity tag of a version, `"V"` (what GET's
// ETag sends). Weak tags (W/"V") never match under If-Match's strong
// comparison (RFC 9110 §13.1.1) and `*` or a list of tags has no version
// guard to map to: all are refused with 400 rather than ignored.
std::optional<uint64_t> IfMatchVersion(std::string_view v) {
  if (v.size() < 3 || v.front() != '"' || v.back() != '"') return std::nullopt;
  return ParseUnsigned(v.substr(1, v.size() - 2));
}

std::optional<HttpResponse> GuardOf(const Target& t, const HttpRequest& http,
                                    std::optional<uint64_t>* guard) {
  guard->reset();
  if (const std::string* v = QueryParam(t, "if_match_version")) {
    *guard = ParseUnsigned(*v);
    if (!*guard) return Handler::Error(400, "if_match_version must be a non-negative integer");
  }
  if (http.if_match) {
    const std::optional<uint64_t> tag = IfMatchVersion(*http.if_match);
    if (!tag) {
      return Handler::Error(400,
                            "If-Match must be one version entity tag such as \"5\" (the ETag of GET)");
    }
    if (*guard && **guard != *tag) {
      return Handler::Error(400, "If-Match and if_match_version name different versions");
    }
    *guard = tag;
  }
  return std::nullopt;
}

std::optional<WriteHeaders> ParseWriteHeaders(const HttpRequest& req, std::string* error) {
  WriteHeaders h;
  if (req.idempotency_key) {
    const std::string_view k = *req.idempotency_key;
    if (k.empty() || k.size() > kMaxIdempotencyKeyBytes || !AllIn(k, 0x21, 0x7e)) {
      *error = "Idempotency-Key must be 1-255 printable ASCII characters without spaces";
      return std::nullopt;
    }
    h.idempotency_key = k;
  }
  if (req.writer) {
    const std::string_view w = *req.writer;
    if (w.empty() || w.size() > kMaxWriterBytes || !AllIn(w, 0x20, 0x7e)) {
      *error = "Casmem-Writer must be 1-128 printable ASCII characters";
      return std::nullopt;
    }
    h.writer = w;
  }
  return h;
}

std::string MediaType(std::optional<std::string_view> content_type) {
  if (!content_type) return {};
  std::string_view v = *content_type;
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string lower(v);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

std::string RequestFingerprint(const HttpRequest& req) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  Field(st, req.method);
  Field(st, req.target);
  // An absent If-Match differs from an empty one.
  const unsigned char has_if_match = req.if_match ? 1 : 0;
  XXH3_128bits_update(st, &has_if_match, 1);
  Field(st, req.if_match.value_or(std::string_view{}));
  // A PATCH body means what its media type says (JSON Patch or merge
  // patch): the same bytes under the other type are another request.
  if (req.method == "PATCH") Field(st, MediaType(req.content_type));
  Field(st, req.body);
  const XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  return std::string(reinterpret_cast<const char*>(c.digest), sizeof c.digest);
}

}  // namespace casmem::net
