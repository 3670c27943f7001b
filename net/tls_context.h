// TLS server contexts of casmemd (memory-api.md §9): building one from the
// PEM files of --tls-cert/--tls-key with casmemd's protocol policy, and
// the holder a SIGHUP reload swaps. Internal to net/ (OpenSSL and Asio
// inside); no public header includes it.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace casmem::net {

using SslContext = boost::asio::ssl::context;

// A server context: TLS 1.2 and 1.3 only, no compression, no
// renegotiation, the server's cipher order (AEAD with forward secrecy for
// TLS 1.2), the certificate chain `cert` and the key `key`, which must
// match. An encrypted key is refused (no passphrase prompt). On error a
// one-line message naming the file and OpenSSL's reason.
Status MakeTlsContext(const std::string& cert, const std::string& key, std::shared_ptr<SslContext>* out);

// The context given to new connections. A connection keeps the context it
// started with (its shared_ptr) for as long as it lives, so a reload never
// pulls one from under a connection. Thread-safe.
class TlsContextHolder {
 public:
  TlsContextHolder(std::string cert, std::string key) : cert_(std::move(cert)), key_(std::move(key)) {}
  // Reads both files again; on success new connections get the new
  // context, on error the current one stays and the error says why.
  Status Load();
  std::shared_ptr<SslContext> Get() const {
    std::lock_guard lk(mu_);
    return ctx_;
  }
  const std::string& cert() const { return cert_; }
  const std::string& key() const { return key_; }

 private:
  const std::string cert_, key_;
  mutable std::mutex mu_;
  std::shared_ptr<SslContext> ctx_;
};

}  // namespace casmem::net
