// Fuzz target: request-target parsing and percent-coding (net/url.h).
// Input: a request target. Invariants: PercentDecode(PercentEncode(x)) == x;
// PercentEncode writes only unreserved characters and %XX; a target parsed
// once, re-encoded piece by piece, parses back to the same pieces.
#include <cstddef>
#include <cstdint>
#include <string>

#include "net/url.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace casmem::net;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  const std::string enc = PercentEncode(in);
  for (char c : enc) {
    FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~' || c == '%');
  }
  auto dec = PercentDecode(enc);
  FUZZ_CHECK(dec && *dec == in);
  if (auto d = PercentDecode(in)) FUZZ_CHECK(d->size() <= in.size());
  (void)casmem::ValidUtf8(in);

  std::string error;
  auto t = ParseTarget(in, &error);
  if (!t) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  FUZZ_CHECK(!t->segments.empty());
  std::string rebuilt;
  for (const std::string& s : t->segments) rebuilt += "/" + PercentEncode(s);
  // ParseTarget drops one trailing empty segment ("/a/" is ["a"]), so a
  // kept one stood for two slashes.
  if (t->segments.size() > 1 && t->segments.back().empty()) rebuilt += "/";
  if (!t->query.empty()) {
    rebuilt += "?";
    for (size_t i = 0; i < t->query.size(); ++i) {
      if (i) rebuilt += "&";
      rebuilt += PercentEncode(t->query[i].first) + "=" + PercentEncode(t->query[i].second);
    }
  }
  auto t2 = ParseTarget(rebuilt, &error);
  FUZZ_CHECK(t2);
  FUZZ_CHECK(t2->segments == t->segments);
  FUZZ_CHECK(t2->query == t->query);
  for (const auto& [k, v] : t->query) {
    const std::string* last = QueryParam(*t, k);
    FUZZ_CHECK(last != nullptr);
  }
  return 0;
}
