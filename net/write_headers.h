// The request headers every write may carry (memory-api.md §7):
// Idempotency-Key and Casmem-Writer, their validation, and the
// fingerprint that tells a repeat of a request from a different one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/handler.h"

namespace casmem::net {

inline constexpr size_t kMaxIdempotencyKeyBytes = 255;
inline constexpr size_t kMaxWriterBytes = 128;

// The validated headers of a write. `idempotency_key` empty: none given;
// `writer` empty: none given.
struct WriteHeaders {
  std::string_view idempotency_key;
  std::string_view writer;
};

// Idempotency-Key: 1-255 bytes of 0x21-0x7E (no space: a key is a token).
// Casmem-Writer: 1-128 bytes of 0x20-0x7E (a name may hold spaces; HTTP
// has already trimmed leading and trailing ones). nullopt with *error set
// (a sentence for the client, answered with 400) otherwise.
std::optional<WriteHeaders> ParseWriteHeaders(const HttpRequest& req, std::string* error);

// 16 bytes, XXH3-128 over the method, the target (path and query as
// sent), the If-Match value (or its absence), for a PATCH its media type
// (lower case, without parameters), and the body, each preceded by its
// length so that no two different requests share an encoding.
std::string RequestFingerprint(const HttpRequest& req);

// The media type of a Content-Type value: parameters (`; charset=utf-8`)
// and surrounding whitespace dropped, lower case. Empty when absent.
std::string MediaType(std::optional<std::string_view> content_type);

}  // namespace casmem::net

namespace casmem::net {

// The Idempotency<R> a store call takes for a request that carries an
// Idempotency-Key (get() is nullptr for one that does not). `render`
// must be the function that renders the handler's own reply for the
// result, so that a replay is byte for byte the first answer.
template <class R>
class IdempotencyFor {
 public:
  template <class Render>
  IdempotencyFor(const WriteHeaders& h, const HttpRequest& req, Render render) {
    if (h.idempotency_key.empty()) return;
    fingerprint_ = RequestFingerprint(req);
    idem_.key = h.idempotency_key;
    idem_.fingerprint = fingerprint_;
    idem_.render = [render](const R& r) {
      HttpResponse resp = render(r);
      return IdempotencyAnswer{resp.status, std::move(resp.body)};
    };
  }
  IdempotencyFor(const IdempotencyFor&) = delete;
  IdempotencyFor& operator=(const IdempotencyFor&) = delete;
  const Idempotency<R>* get() const { return idem_.key.empty() ? nullptr : &idem_; }

 private:
  std::string fingerprint_;
  Idempotency<R> idem_;
};

}  // namespace casmem::net
