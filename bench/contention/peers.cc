// Target URL parsing and driver selection.
#include "bench/contention/peers.h"

#include <boost/asio/ip/address.hpp>

namespace casmem::bench {

namespace {

// A casmem target's address to connect to and its connections' security.
bool CasmemSide(const TargetUrl& u, const ClientOptions& client, std::string* host,
                std::shared_ptr<const ConnSecurity>* security, std::string* error) {
  auto resolved = ResolveHost(u.host, error);
  if (!resolved) return false;
  *host = *resolved;
  *security = MakeConnSecurity(u, client.token, client.tls, error);
  return *security != nullptr;
}

}  // namespace

std::unique_ptr<Driver> MakeDriver(const std::string& target, const std::string& workspace,
                                   std::string* error, const ClientOptions& client) {
  const auto u = ParseTargetUrl(target, error);
  if (!u) return nullptr;
  if (u->scheme == "casmem") {
    std::string host;
    std::shared_ptr<const ConnSecurity> security;
    if (!CasmemSide(*u, client, &host, &security, error)) return nullptr;
    return MakeCasmemDriver(host, u->port, workspace, std::move(security));
  }
  if (u->scheme == "redis") return MakeRedisDriver(u->host, u->port);
  if (u->scheme == "etcd") return MakeEtcdDriver(u->host, u->port);
  return MakePostgresDriver(target, workspace);  // libpq parses the URI itself
}

std::unique_ptr<WatchTarget> MakeWatchTarget(const std::string& target, const std::string& workspace,
                                             std::string* error, const ClientOptions& client) {
  std::string why;
  const auto u = ParseTargetUrl(target, &why);
  if (!u || (u->scheme != "casmem" && u->scheme != "etcd")) {
    *error = "the watch workload needs casmem://HOST:PORT or etcd://HOST:PORT (or https://HOST:PORT), not " + target;
    return nullptr;
  }
  if (u->scheme == "casmem") {
    std::string host;
    std::shared_ptr<const ConnSecurity> security;
    if (!CasmemSide(*u, client, &host, &security, error)) return nullptr;
    return MakeCasmemWatchTarget(host, u->port, workspace, std::move(security));
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(u->host == "localhost" ? "127.0.0.1" : u->host, ec);
  if (ec) {
    *error = "bad host " + u->host + " (an IP address or localhost)";
    return nullptr;
  }
  return MakeEtcdWatchTarget(u->host, u->port);
}

}  // namespace casmem::bench
