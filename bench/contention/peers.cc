// Target URL parsing and driver selection.
#include "bench/contention/peers.h"

#include <boost/asio/ip/address.hpp>

#include "net/json_body.h"

namespace casmem::bench {

std::unique_ptr<Driver> MakeDriver(const std::string& target, const std::string& workspace,
                                   std::string* error) {
  const size_t scheme_end = target.find("://");
  if (scheme_end == std::string::npos) {
    *error = "target must look like casmem://HOST:PORT";
    return nullptr;
  }
  const std::string scheme = target.substr(0, scheme_end);
  const std::string rest = target.substr(scheme_end + 3);
  const size_t colon = rest.rfind(':');
  std::optional<uint64_t> port;
  if (colon != std::string::npos) port = net::ParseUnsigned(std::string_view(rest).substr(colon + 1));
  if (scheme == "casmem") {
    if (!port.has_value() || port.value() > 65535) {
      *error = "bad casmem target " + target + " (expected casmem://HOST:PORT)";
      return nullptr;
    }
    return MakeCasmemDriver(rest.substr(0, colon), static_cast<uint16_t>(*port), workspace);
  }
  if (scheme == "redis") {
    if (!port.has_value() || port.value() > 65535) {
      *error = "bad redis target " + target + " (expected redis://HOST:PORT)";
      return nullptr;
    }
    return MakeRedisDriver(rest.substr(0, colon), static_cast<uint16_t>(*port));
  }
  if (scheme == "etcd") {
    if (!port.has_value() || port.value() > 65535) {
      *error = "bad etcd target " + target + " (expected etcd://HOST:PORT)";
      return nullptr;
    }
    return MakeEtcdDriver(rest.substr(0, colon), static_cast<uint16_t>(*port));
  }
  if (scheme == "postgres" || scheme == "postgresql") {
    return MakePostgresDriver(target, workspace);  // libpq parses the URI itself
  }
  *error = "no driver for '" + scheme + "' targets (casmem, redis, etcd, postgres)";
  return nullptr;
}

std::unique_ptr<WatchTarget> MakeWatchTarget(const std::string& target, const std::string& workspace,
                                             std::string* error) {
  const size_t scheme_end = target.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : target.substr(0, scheme_end);
  const std::string rest = scheme_end == std::string::npos ? "" : target.substr(scheme_end + 3);
  const size_t colon = rest.rfind(':');
  std::optional<uint64_t> port;
  if (colon != std::string::npos) port = net::ParseUnsigned(std::string_view(rest).substr(colon + 1));
  if ((scheme != "casmem" && scheme != "etcd") || !port || *port > 65535) {
    *error = "the watch workload needs casmem://HOST:PORT or etcd://HOST:PORT, not " + target;
    return nullptr;
  }
  const std::string host = rest.substr(0, colon);
  boost::system::error_code ec;
  boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    *error = "bad host " + host + " (an IP address or localhost)";
    return nullptr;
  }
  if (scheme == "casmem") return MakeCasmemWatchTarget(host, static_cast<uint16_t>(*port), workspace);
  return MakeEtcdWatchTarget(host, static_cast<uint16_t>(*port));
}

}  // namespace casmem::bench
