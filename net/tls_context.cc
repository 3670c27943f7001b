// TLS server contexts: see tls_context.h. OpenSSL 3 (Debian's libssl-dev).
#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509err.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace casmem::net {

namespace {

// TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only, strongest the
// client can do first. TLS 1.3's suites are all of that kind already.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// OpenSSL's reason for a failure ("PEM routines: no start line"): the
// first error queued, the root cause (later ones only say which call
// failed); the error queue is cleared.
std::string OpenSslReason() {
  const unsigned long e = ERR_peek_error();
  std::string out;
  if (e == 0) {
    out = "unknown OpenSSL error";
  } else {
    const char* lib = ERR_lib_error_string(e);
    const char* reason = ERR_reason_error_string(e);
    if (lib != nullptr) out = std::string(lib) + ": ";
    out += reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(e));
  }
  ERR_clear_error();
  return out;
}

// A file OpenSSL would fail to open gets the system's reason instead of
// OpenSSL's less clear one.
Status Readable(const char* what, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::InvalidArgument(std::string("cannot read TLS ") + what + " " + path + ": " + std::strerror(errno));
  }
  std::fclose(f);
  return Status::OK();
}

// No passphrase prompt on the terminal: an encrypted key fails to load.
int NoPassword(char*, int, int, void*) { return 0; }

}  // namespace

Status MakeTlsContext(const std::string& cert, const std::string& key, std::shared_ptr<SslContext>* out) {
  if (Status s = Readable("certificate", cert); !s.ok()) return s;
  if (Status s = Readable("key", key); !s.ok()) return s;
  ERR_clear_error();
  auto ctx = std::make_shared<SslContext>(SslContext::tls_server);
  SSL_CTX* native = ctx->native_handle();
  auto fail = [](const std::string& what) { return Status::InvalidArgument(what + ": " + OpenSslReason()); };
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) return fail("TLS setup");
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) return fail("TLS cipher list");
  SSL_CTX_set_default_passwd_cb(native, NoPassword);
  if (SSL_CTX_use_certificate_chain_file(native, cert.c_str()) != 1) {
    return fail("bad TLS certificate " + cert);
  }
  if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return fail("TLS key " + key + " does not match certificate " + cert);
    }
    return fail("bad TLS key " + key + " (for certificate " + cert + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail("TLS key " + key + " does not match certificate " + cert);
  }
  *out = std::move(ctx);
  return Status::OK();
}

Status TlsContextHolder::Load() {
  std::shared_ptr<SslContext> fresh;
  if (Status s = MakeTlsContext(cert_, key_, &fresh); !s.ok()) return s;
  std::lock_guard lk(mu_);
  ctx_ = std::move(fresh);
  return Status::OK();
}

}  // namespace casmem::net
