// Fuzz target: the HTTP/1.1 request decoder as a session runs it: Beast's
// request_parser with the session's limits, fed in pieces (as reads
// arrive), header first, then the Transfer-Encoding check
// (net/http_framing.h) before any body byte, then the body.
// Input: byte 0 chooses the piece size; the rest is the connection's
// bytes. Invariants: a request whose framing is accepted with a
// Transfer-Encoding is chunked and has no Content-Length; a complete body
// is within the body limit; the parser never consumes more than it was given.
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "net/http_framing.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
constexpr uint64_t kBodyLimit = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Pipelined requests: parse one after another, as a session does.
  for (int requests = 0; requests < 8 && !in.empty(); ++requests) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(casmem::net::kMaxHeaderBytes);
    parser.body_limit(kBodyLimit);
    parser.eager(false);
    bool checked = false;
    beast::error_code ec;
    size_t avail = std::min(in.size(), piece);  // bytes of `in` the parser is shown
    while (!parser.is_done()) {
      const size_t used = parser.put(boost::asio::buffer(in.data(), avail), ec);
      FUZZ_CHECK(used <= avail);
      in.remove_prefix(used);
      avail -= used;
      if (ec == http::error::need_more || (!ec && used == 0)) {
        ec = {};
        if (avail == in.size()) return 0;  // the connection has nothing more
        avail = std::min(in.size(), avail + piece);
        continue;
      }
      if (ec) return 0;  // refused: the session answers and closes
      if (parser.is_header_done() && !checked) {
        checked = true;
        const auto& req = parser.get();
        std::vector<std::string_view> te;
        for (auto [it, end] = req.equal_range(http::field::transfer_encoding); it != end; ++it) {
          te.emplace_back(it->value().data(), it->value().size());
        }
        const bool has_length = req.count(http::field::content_length) > 0;
        if (casmem::net::TransferEncodingError(te, req.version(), has_length, parser.chunked())) {
          return 0;  // refused and closed: nothing after it is parsed
        }
        if (!te.empty()) FUZZ_CHECK(parser.chunked() && !has_length);
        parser.eager(true);
      }
      if (avail == 0 && !parser.is_done()) {
        if (in.empty()) return 0;
        avail = std::min(in.size(), piece);
      }
    }
    FUZZ_CHECK(checked);
    FUZZ_CHECK(parser.get().body().size() <= kBodyLimit);
  }
  return 0;
}
