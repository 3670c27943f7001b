// Target URL schemes, the bearer token's source, and the client TLS
// context of casmem-bench (client_security.h).
#include "bench/contention/client_security.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

#include "net/json_body.h"

namespace casmem::bench {

namespace ssl = boost::asio::ssl;

std::optional<TargetUrl> ParseTargetUrl(const std::string& target, std::string* error) {
  const size_t scheme_end = target.find("://");
  if (scheme_end == std::string::npos) {
    *error = "target must look like casmem://HOST:PORT";
    return std::nullopt;
  }
  TargetUrl u;
  const std::string scheme = target.substr(0, scheme_end);
  u.rest = target.substr(scheme_end + 3);
  if (scheme == "casmem" || scheme == "http") {
    u.scheme = "casmem";
  } else if (scheme == "https" || scheme == "casmems") {
    u.scheme = "casmem";
    u.tls = true;
  } else if (scheme == "redis" || scheme == "etcd" || scheme == "postgres" || scheme == "postgresql") {
    u.scheme = scheme;
  } else {
    *error = "no driver for '" + scheme + "' targets (casmem, http, https, casmems, redis, etcd, postgres)";
    return std::nullopt;
  }
  if (u.scheme == "postgres" || u.scheme == "postgresql") return u;
  // HOST:PORT, nothing after (a trailing slash is forgiven).
  std::string hostport = u.rest;
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  const size_t colon = hostport.rfind(':');
  std::optional<uint64_t> port;
  if (colon != std::string::npos) port = net::ParseUnsigned(std::string_view(hostport).substr(colon + 1));
  if (!port || *port == 0 || *port > 65535 || colon == 0) {
    *error = "bad " + scheme + " target " + target + " (expected " + scheme + "://HOST:PORT)";
    return std::nullopt;
  }
  u.host = hostport.substr(0, colon);
  // [::1]:7070
  if (u.host.size() > 2 && u.host.front() == '[' && u.host.back() == ']') u.host = u.host.substr(1, u.host.size() - 2);
  u.port = static_cast<uint16_t>(*port);
  return u;
}

std::string ResolveToken(const std::optional<std::string>& option, const char* env) {
  if (option) return *option;
  return env != nullptr ? std::string(env) : std::string();
}

std::shared_ptr<ssl::context> MakeClientTlsContext(const TlsOptions& opts, const std::string& host,
                                                   std::string* error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (opts.insecure) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  boost::system::error_code ec;
  if (!opts.cacert.empty()) {
    ctx->load_verify_file(opts.cacert, ec);
    if (ec) {
      *error = "--cacert " + opts.cacert + ": " + ec.message();
      return nullptr;
    }
  } else {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      *error = "the system's CA certificates: " + ec.message();
      return nullptr;
    }
  }
  ctx->set_verify_mode(ssl::verify_peer);
  // An IP address is matched against the certificate's IP entries, a name
  // against its DNS names (the subject's CN only when it has none).
  ctx->set_verify_callback(ssl::host_name_verification(host));
  return ctx;
}

std::shared_ptr<const ConnSecurity> MakeConnSecurity(const TargetUrl& url, const std::string& token,
                                                     const TlsOptions& tls, std::string* error) {
  auto s = std::make_shared<ConnSecurity>();
  s->server_name = url.host;
  if (!token.empty()) s->authorization = "Bearer " + token;
  if (url.tls) {
    s->tls = MakeClientTlsContext(tls, url.host, error);
    if (!s->tls) return nullptr;
  }
  return s;
}

std::optional<std::string> ResolveHost(const std::string& host, std::string* error) {
  if (host == "localhost") return std::string("127.0.0.1");
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (!ec) return host;
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, "", ec);
  if (ec || results.empty()) {
    *error = "cannot resolve " + host + (ec ? ": " + ec.message() : "");
    return std::nullopt;
  }
  return results.begin()->endpoint().address().to_string();
}

}  // namespace casmem::bench
