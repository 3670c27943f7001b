// Test support for casmemd over HTTPS: a blocking HTTP/1.1 client on
// Beast's ssl_stream that verifies the server against a test certificate
// (raw writes allowed, for pipelining; bounded waits, so no test hangs),
// and the test certificates, made with the `openssl` command.
#pragma once

#include <memory>
#include <string>

#include "tests/support/http_client.h"

namespace casmem::testing {

// Writes a self-signed P-256 certificate for 127.0.0.1 with subject
// CN=`cn` to `cert` and its key to `key` (openssl req). False on failure.
bool MakeTestCertificate(const std::string& cert, const std::string& key, const std::string& cn);
// The SHA-256 fingerprint (hex) of the first certificate of PEM file `cert`.
std::string CertFingerprint(const std::string& cert);

struct TlsClientOptions {
  std::string ca_file;  // the certificate to trust (the test's self-signed one)
  // Nonzero: the highest protocol version offered (TLS1_1_VERSION: an old
  // client; the security level then drops to 0 so OpenSSL lets it try).
  int max_version = 0;
};

class TlsClient {
 public:
  // Connects to 127.0.0.1:port and completes the handshake (verifying the
  // certificate and its IP address) within 10 s; nullptr on failure, with
  // OpenSSL's reason in *error.
  static std::unique_ptr<TlsClient> Connect(int port, const TlsClientOptions& options, std::string* error);
  ~TlsClient();
  // Sends all of `bytes` (false on error or 10 s without progress).
  bool SendRaw(const std::string& bytes);
  // Reads one response (an interim 1xx counts as one, without a body);
  // false on EOF, error or `timeout_ms` without one.
  bool Read(HttpReply* out, int timeout_ms = 10'000);
  HttpReply Request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& extra_headers = "");
  // Reads raw bytes (a response head, then an event stream) until what
  // was read since the last call contains `needle`; false on timeout, EOF.
  bool ReadUntil(const std::string& needle, std::string* got, int timeout_ms = 10'000);
  // True when the server ended the connection (close_notify or TCP close)
  // within timeout_ms.
  bool ClosedByPeer(int timeout_ms = 5'000);
  // After ClosedByPeer (or a read that met the end): whether the server
  // sent close_notify (not only a TCP close).
  bool CloseNotified() const;
  // The SHA-256 fingerprint (hex) of the certificate the server presented.
  std::string PeerFingerprint();

  struct Impl;

 private:
  explicit TlsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace casmem::testing
