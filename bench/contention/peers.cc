// Target URL parsing and driver selection.
#include "bench/contention/peers.h"

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

}  // namespace casmem::bench
