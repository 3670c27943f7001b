// FormatResponseHead: the bytes of a response's status line and header,
// formatted straight into one string (no Beast message, no allocated
// field list, no serializer). The session sends them and the body as a
// gather of two buffers, so the body is never copied.
//
// The bytes are those Beast 1.81 wrote for the same response, as the
// session built it before (tests/net/response_format_test.cc compares
// them): "HTTP/1.x NNN <reason>", then Server, Content-Type, the
// handler's extra headers in order, Connection when keep-alive needs
// saying (HTTP/1.1 closing: "close"; HTTP/1.0 kept alive: "keep-alive"),
// then Content-Length, and the blank line.
#pragma once

#include <string>

#include "net/handler.h"

namespace casmem::net {

// Replaces *out with the head of `r` for a request of HTTP `version`
// (10 or 11, Beast's encoding), announcing `keep_alive`. Reuses *out's
// capacity. REQUIRES: 100 <= r.status <= 999; the names of r.headers are
// distinct and none is Server, Content-Type, Connection or Content-Length
// (the handler's contract).
void FormatResponseHead(const HttpResponse& r, unsigned version, bool keep_alive, std::string* out);

}  // namespace casmem::net
