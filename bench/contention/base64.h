// Base64 of keys and values for etcd's JSON gateway (the contention
// driver and the watch workload), on Beast's codec.
#pragma once

#include <boost/beast/core/detail/base64.hpp>
#include <string>

namespace casmem::bench {

inline std::string Base64Encode(const std::string& s) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(b64::encoded_size(s.size()), '\0');
  out.resize(b64::encode(out.data(), s.data(), s.size()));
  return out;
}

inline std::string Base64Decode(const char* s, size_t n) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(b64::decoded_size(n), '\0');
  out.resize(b64::decode(out.data(), s, n).first);
  return out;
}

}  // namespace casmem::bench
