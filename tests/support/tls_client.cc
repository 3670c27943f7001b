// TlsClient and the test certificates: see tls_client.h. Each blocking
// call runs one asynchronous operation on the client's own io_context for
// at most its timeout, then cancels it.
#include "tests/support/tls_client.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>

namespace casmem::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

bool MakeTestCertificate(const std::string& cert, const std::string& key, const std::string& cn) {
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj '/CN=" + cn +
      "' -addext subjectAltName=IP:127.0.0.1 -keyout '" + key + "' -out '" + cert + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

namespace {

std::string Hex(const unsigned char* p, unsigned n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

std::string Fingerprint(X509* x) {
  if (x == nullptr) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (X509_digest(x, EVP_sha256(), md, &n) != 1) return "";
  return Hex(md, n);
}

}  // namespace

std::string CertFingerprint(const std::string& cert) {
  std::FILE* f = std::fopen(cert.c_str(), "r");
  if (f == nullptr) return "";
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  std::string out = Fingerprint(x);
  X509_free(x);
  return out;
}

struct TlsClient::Impl {
  Impl() : ctx(ssl::context::tls_client) {}
  // Runs the operation `start` begins (it sets `done`) for at most
  // `timeout_ms`; on timeout cancels it and waits for its handler.
  template <class Start>
  bool RunFor(int timeout_ms, Start start) {
    bool done = false;
    ioc.restart();
    start(&done);
    ioc.run_for(std::chrono::milliseconds(timeout_ms));
    if (done) return true;
    beast::error_code ec;
    stream->next_layer().cancel(ec);
    ioc.restart();
    ioc.run();
    return false;
  }

  asio::io_context ioc;
  ssl::context ctx;
  std::optional<beast::ssl_stream<tcp::socket>> stream;  // made once ctx is set up
  beast::flat_buffer buffer;
  bool eof = false;
  bool close_notify = false;
  void Ended(const beast::error_code& ec) {
    eof = true;
    close_notify = ec == asio::error::eof;  // SSL_ERROR_ZERO_RETURN
  }
  // One read into `buffer` for at most `timeout_ms`; false on timeout. An
  // error ends the stream (Ended).
  bool ReadSome(int timeout_ms) {
    beast::error_code ec = asio::error::timed_out;
    const bool done = RunFor(timeout_ms, [&](bool* d) {
      stream->async_read_some(buffer.prepare(64 * 1024), [this, &ec, d](beast::error_code e, size_t n) {
        buffer.commit(n);
        ec = e;
        *d = true;
      });
    });
    if (!done) return false;
    if (ec) Ended(ec);
    return true;
  }
};

TlsClient::TlsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsClient::~TlsClient() = default;

std::unique_ptr<TlsClient> TlsClient::Connect(int port, const TlsClientOptions& options, std::string* error) {
  auto impl = std::make_unique<Impl>();
  SSL_CTX* native = impl->ctx.native_handle();
  beast::error_code ec;
  impl->ctx.load_verify_file(options.ca_file, ec);
  if (ec) {
    *error = "load_verify_file: " + ec.message();
    return nullptr;
  }
  if (options.max_version != 0) {
    SSL_CTX_set_security_level(native, 0);
    SSL_CTX_set_min_proto_version(native, 0);
    SSL_CTX_set_max_proto_version(native, options.max_version);
    SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
  }
  // After the context's settings: SSL_new copies them.
  impl->stream.emplace(impl->ioc, impl->ctx);
  impl->stream->set_verify_mode(ssl::verify_peer);
  impl->stream->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  impl->stream->next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)),
                                    ec);
  if (ec) {
    *error = "connect: " + ec.message();
    return nullptr;
  }
  impl->stream->next_layer().set_option(tcp::no_delay(true));
  beast::error_code hec = asio::error::timed_out;
  const bool done = impl->RunFor(10'000, [&](bool* d) {
    impl->stream->async_handshake(ssl::stream_base::client, [&hec, d](beast::error_code e) {
      hec = e;
      *d = true;
    });
  });
  if (!done || hec) {
    *error = "handshake: " + hec.message();
    return nullptr;
  }
  return std::unique_ptr<TlsClient>(new TlsClient(std::move(impl)));
}

bool TlsClient::SendRaw(const std::string& bytes) {
  beast::error_code ec = asio::error::timed_out;
  const bool done = impl_->RunFor(10'000, [&](bool* d) {
    asio::async_write(*impl_->stream, asio::buffer(bytes), [&ec, d](beast::error_code e, size_t) {
      ec = e;
      *d = true;
    });
  });
  return done && !ec;
}

bool TlsClient::Read(HttpReply* out, int timeout_ms) {
  *out = HttpReply{};
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code ec = asio::error::timed_out;
  const bool done = impl_->RunFor(timeout_ms, [&](bool* d) {
    http::async_read(*impl_->stream, impl_->buffer, parser, [&ec, d](beast::error_code e, size_t) {
      ec = e;
      *d = true;
    });
  });
  if (!done || ec) return false;
  const auto& res = parser.get();
  out->status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out->headers[name] = std::string(field.value());
  }
  out->chunked = res.chunked();
  out->body = res.body();
  return true;
}

HttpReply TlsClient::Request(const std::string& method, const std::string& target, const std::string& body,
                             const std::string& extra_headers) {
  HttpReply reply;
  if (!SendRaw(RawRequest(method, target, body, extra_headers)) || !Read(&reply)) reply.status = -1;
  return reply;
}

bool TlsClient::ReadUntil(const std::string& needle, std::string* got, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto data = impl_->buffer.data();
    const std::string have(static_cast<const char*>(data.data()), data.size());
    if (const size_t at = have.find(needle); at != std::string::npos) {
      *got = have.substr(0, at + needle.size());
      impl_->buffer.consume(at + needle.size());
      return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || impl_->eof) return false;
    if (!impl_->ReadSome(static_cast<int>(left.count()))) return false;
  }
}

bool TlsClient::ClosedByPeer(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!impl_->eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!impl_->ReadSome(static_cast<int>(left.count()))) return false;
  }
  return true;
}

bool TlsClient::CloseNotified() const { return impl_->close_notify; }

std::string TlsClient::PeerFingerprint() {
  X509* x = SSL_get1_peer_certificate(impl_->stream->native_handle());
  std::string out = Fingerprint(x);
  X509_free(x);
  return out;
}

}  // namespace casmem::testing
