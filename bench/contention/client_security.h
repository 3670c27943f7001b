// What every casmem connection of casmem-bench carries and how it is
// secured (spec section 9): the target URL's scheme (casmem:// and http://
// plain, https:// and casmems:// TLS), the bearer token (--token, else
// CASMEM_TOKEN), and the client TLS context (--cacert FILE: that CA or
// certificate, hostname or IP checked; --insecure: no verification;
// neither: the system's default verify paths).
//
// The secret lives only in ConnSecurity::authorization and the requests
// built from it; nothing here or in the callers puts it in an error text.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace casmem::bench {

// A --target URL split up. scheme is normalized: "casmem" for casmem://,
// http://, https:// and casmems:// (tls says which); the peers' schemes
// (redis, etcd, postgres, postgresql) are kept as given.
struct TargetUrl {
  std::string scheme;
  bool tls = false;
  std::string host;  // as written (the TLS server name)
  uint16_t port = 0;
  std::string rest;  // everything after "://"
};

// Parses `target`; nullopt with *error for an unknown scheme, or a casmem
// (or redis, etcd) target without HOST:PORT. postgres URLs are not looked
// into (libpq parses them).
std::optional<TargetUrl> ParseTargetUrl(const std::string& target, std::string* error);

// The token to send: the --token option's value when given, else the
// environment's CASMEM_TOKEN (`env`, nullptr when unset); empty: none.
std::string ResolveToken(const std::optional<std::string>& option, const char* env);

struct TlsOptions {
  std::string cacert;     // PEM file of the CA (or the server's own certificate)
  bool insecure = false;  // no verification at all
};

// The client's side of a casmem target, from the command line.
struct ClientOptions {
  std::string token;  // empty: no Authorization
  TlsOptions tls;     // https:// and casmems:// targets only
};

// Shared by all connections to one target; immutable once made.
struct ConnSecurity {
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain HTTP
  std::string server_name;    // SNI (host names only) and the name verified
  std::string authorization;  // the Authorization field's value ("Bearer ..."), or empty
};

// The client context for `host`: TLS 1.2 or later, peer verification
// (hostname or IP against the certificate) unless insecure. nullptr with
// *error when --cacert cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> MakeClientTlsContext(const TlsOptions& opts, const std::string& host,
                                                                std::string* error);

// Everything a casmem connection to `url` needs; nullptr with *error when
// the TLS context cannot be made. Plain URLs ignore `tls`.
std::shared_ptr<const ConnSecurity> MakeConnSecurity(const TargetUrl& url, const std::string& token,
                                                     const TlsOptions& tls, std::string* error);

// `host` as an address string HttpConn can connect to: an IP address as
// is, localhost as 127.0.0.1, a name resolved once (the first address);
// nullopt with *error when it does not resolve.
std::optional<std::string> ResolveHost(const std::string& host, std::string* error);

}  // namespace casmem::bench
