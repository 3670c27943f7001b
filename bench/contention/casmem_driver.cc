// The casmem driver: one keep-alive HTTP/1.1 connection per agent (Beast),
// GET /workspaces/{ws}/memory/{key} and POST with if_match_version; a 409
// body's current_version / current_value feed the retry.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "bench/contention/driver.h"
#include "bench/contention/http_conn.h"
#include "net/url.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return {sb.GetString(), sb.GetSize()};
}

class CasmemConnection final : public Connection {
 public:
  CasmemConnection(asio::io_context& io, std::string workspace)
      : http_(io), prefix_("/workspaces/" + workspace + "/memory") {}

  void Open(const std::string& host, uint16_t port, std::function<void(std::string)> done) {
    http_.Open(host, port, std::move(done));
  }

  void Read(const std::string& key, ReadCallback cb) override {
    Send(http::verb::get, prefix_ + "/" + net::PercentEncode(key), "", [this, cb](std::string err) {
      ReadResult r;
      if (!err.empty()) {
        r.error = err;
        return cb(std::move(r));
      }
      if (res().result_int() == 404) {
        r.ok = true;
        return cb(std::move(r));
      }
      rapidjson::Document d;
      d.Parse(res().body().data(), res().body().size());
      if (res().result_int() != 200 || d.HasParseError() || !d.IsObject() || !d.HasMember("version") ||
          !d.HasMember("value")) {
        r.error = "read: HTTP " + std::to_string(res().result_int());
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
      d.Parse(res().body().data(), res().body().size());
      const int status = res().result_int();
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
    http_.Send(verb, target, std::move(body), std::move(done));
  }
  const http::response<http::string_body>& res() const { return http_.response(); }

  HttpConn http_;
  const std::string prefix_;
};

class CasmemDriver final : public Driver {
 public:
  CasmemDriver(std::string host, uint16_t port, std::string ws)
      : host_(std::move(host)), port_(port), ws_(std::move(ws)) {}
  std::string name() const override { return "casmem"; }
  void Connect(asio::io_context& io,
               std::function<void(std::unique_ptr<Connection>, std::string)> done) override {
    OpenConnection<CasmemConnection>(host_, port_, std::move(done), io, ws_);
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
