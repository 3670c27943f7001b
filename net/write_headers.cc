// ParseWriteHeaders and RequestFingerprint.
#include "net/write_headers.h"

#include <xxhash.h>

#include <cstring>

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

std::string RequestFingerprint(const HttpRequest& req) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  Field(st, req.method);
  Field(st, req.target);
  // An absent If-Match differs from an empty one.
  const unsigned char has_if_match = req.if_match ? 1 : 0;
  XXH3_128bits_update(st, &has_if_match, 1);
  Field(st, req.if_match.value_or(std::string_view{}));
  Field(st, req.body);
  const XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  return std::string(reinterpret_cast<const char*>(c.digest), sizeof c.digest);
}

}  // namespace casmem::net
