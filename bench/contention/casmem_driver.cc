// The casmem driver: one keep-alive HTTP/1.1 connection per agent (Beast),
// GET /workspaces/{ws}/memory/{key} and POST with if_match_version; a 409
// body's current_version / current_value feed the retry.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "bench/contention/driver.h"
#include "net/url.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return {sb.GetString(), sb.GetSize()};
}

class CasmemConnection final : public Connection {
 public:
  CasmemConnection(asio::io_context& io, std::string workspace)
      : stream_(io), prefix_("/workspaces/" + workspace + "/memory") {}

  void Open(const tcp::endpoint& ep, std::function<void(std::string)> done) {
    stream_.async_connect(ep, [this, done](beast::error_code ec) {
      if (!ec) stream_.socket().set_option(tcp::no_delay(true), ec);
      done(ec ? "connect: " + ec.message() : "");
    });
  }

  void Read(const std::string& key, ReadCallback cb) override {
    Send(http::verb::get, prefix_ + "/" + net::PercentEncode(key), "", [this, cb](std::string err) {
      ReadResult r;
      if (!err.empty()) {
        r.error = err;
        return cb(std::move(r));
      }
      if (res_.result_int() == 404) {
        r.ok = true;
        return cb(std::move(r));
      }
      rapidjson::Document d;
      d.Parse(res_.body().data(), res_.body().size());
      if (res_.result_int() != 200 || d.HasParseError() || !d.IsObject() || !d.HasMember("version") ||
          !d.HasMember("value")) {
        r.error = "read: HTTP " + std::to_string(res_.result_int());
        return cb(std::move(r));
      }
      r.ok = true;
      r.version = d["version"].GetUint64();
      r.value = Serialize(d["value"]);
      cb(std::move(r));
    });
  }

  void Write(const std::string& key, const std::string& value, std::optional<uint64_t> if_match,
             WriteCallback cb) override {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("key");
    w.String(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Key("value");
    w.RawValue(value.data(), value.size(), rapidjson::kObjectType);
    if (if_match) {
      w.Key("if_match_version");
      w.Uint64(*if_match);
    }
    w.EndObject();
    Send(http::verb::post, prefix_, std::string(sb.GetString(), sb.GetSize()), [this, cb](std::string err) {
      WriteResult r;
      if (!err.empty()) {
        r.error = err;
        return cb(std::move(r));
      }
      rapidjson::Document d;
      d.Parse(res_.body().data(), res_.body().size());
      const int status = res_.result_int();
      if (d.HasParseError() || !d.IsObject()) {
        r.error = "write: HTTP " + std::to_string(status) + " with a body that is not JSON";
      } else if (status == 200 && d.HasMember("version")) {
        r.kind = WriteResult::kCommitted;
        r.version = d["version"].GetUint64();
      } else if (status == 409) {
        r.kind = WriteResult::kConflict;
        auto cv = d.FindMember("current_version");
        if (cv != d.MemberEnd() && cv->value.IsUint64() && d.HasMember("current_value")) {
          r.has_current = true;
          r.current_version = cv->value.GetUint64();
          r.current_value = Serialize(d["current_value"]);
        } else if (cv != d.MemberEnd() && cv->value.IsNull()) {
          r.has_current = true;  // absent
        }
      } else {
        r.error = "write: HTTP " + std::to_string(status);
      }
      cb(std::move(r));
    });
  }

 private:
  void Send(http::verb verb, std::string target, std::string body,
            std::function<void(std::string)> done) {
    req_ = {};
    req_.method(verb);
    req_.target(target);
    req_.version(11);
    req_.set(http::field::host, "casmem");
    req_.keep_alive(true);
    if (verb == http::verb::post) {
      req_.set(http::field::content_type, "application/json");
      req_.body() = std::move(body);
    }
    req_.prepare_payload();
    http::async_write(stream_, req_, [this, done](beast::error_code ec, size_t) {
      if (ec) return done("send: " + ec.message());
      res_ = {};
      http::async_read(stream_, buf_, res_, [done](beast::error_code ec, size_t) {
        done(ec ? "receive: " + ec.message() : "");
      });
    });
  }

  beast::tcp_stream stream_;
  const std::string prefix_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

class CasmemDriver final : public Driver {
 public:
  CasmemDriver(std::string host, uint16_t port, std::string ws)
      : host_(std::move(host)), port_(port), ws_(std::move(ws)) {}
  std::string name() const override { return "casmem"; }
  void Connect(asio::io_context& io,
               std::function<void(std::unique_ptr<Connection>, std::string)> done) override {
    beast::error_code ec;
    const auto addr = asio::ip::make_address(host_ == "localhost" ? "127.0.0.1" : host_, ec);
    if (ec) return done(nullptr, "bad host " + host_);
    auto conn = std::make_unique<CasmemConnection>(io, ws_);
    CasmemConnection* raw = conn.get();
    auto holder = std::make_shared<std::unique_ptr<CasmemConnection>>(std::move(conn));
    raw->Open(tcp::endpoint(addr, port_), [holder, done](std::string err) {
      if (!err.empty()) return done(nullptr, err);
      done(std::move(*holder), "");
    });
  }

 private:
  std::string host_;
  uint16_t port_;
  std::string ws_;
};

}  // namespace

std::unique_ptr<Driver> MakeCasmemDriver(const std::string& host, uint16_t port,
                                         const std::string& workspace) {
  return std::make_unique<CasmemDriver>(host, port, workspace);
}

}  // namespace casmem::bench
