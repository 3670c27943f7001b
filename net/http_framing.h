// HTTP/1.1 framing checks that Beast 1.81 does not make itself, as pure
// functions of the header fields (no Beast, no I/O), so that they are unit
// tested and fuzzed on their own. The session (net/session.cc) calls them
// once a request's header is parsed, before any body byte is read.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "net/handler.h"

namespace casmem::net {

// The most bytes of request line and header fields a request may have
// (431 beyond; Beast's header_limit).
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;

// Transfer-Encoding per RFC 9112 §6.1 and §6.3. Empty when the framing is
// acceptable; else the refusal: 501 for codings before `chunked`, 400 for
// everything else that is not exactly one `chunked` coding without a
// Content-Length in an HTTP/1.1 request.
// The body is framed by Beast, not by this check: Beast 1.81 sets chunked
// only when its own token_list ends in `chunked`, and its token_list stops
// early on input such as `;, chunked`. So the request is accepted only when
// Beast itself reads it as chunked (`parser_chunked`); any disagreement
// between this parse and Beast's is a refusal, never a second framing.
// A request with both fields is refused (§6.3 rule 3 requires closing the
// connection after it; the refusal does).
// `fields`: the values of every Transfer-Encoding field, in order.
std::optional<HttpResponse> TransferEncodingError(const std::vector<std::string_view>& fields,
                                                  unsigned version, bool has_content_length,
                                                  bool parser_chunked);

}  // namespace casmem::net
