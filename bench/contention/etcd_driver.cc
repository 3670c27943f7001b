// The etcd driver: etcd 3.4's HTTP/JSON gateway (/v3/kv/range, /v3/kv/txn).
// A guarded write is a txn comparing the key's mod_revision (as last read
// on this connection) whose success branch puts and reads back the key and
// whose failure branch reads the current key, so a refusal carries the
// current value like casmem's 409. Versions are etcd's per-key `version`
// (+1 per put). Keys and values travel base64-encoded; the gateway writes
// 64-bit numbers as strings and omits zero values.
#include <rapidjson/document.h>

#include <boost/beast/core/detail/base64.hpp>
#include <unordered_map>

#include "bench/contention/driver.h"
#include "bench/contention/http_conn.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace b64 = boost::beast::detail::base64;

std::string Encode(const std::string& s) {
  std::string out(b64::encoded_size(s.size()), '\0');
  out.resize(b64::encode(out.data(), s.data(), s.size()));
  return out;
}

std::string Decode(const char* s, size_t n) {
  std::string out(b64::decoded_size(n), '\0');
  out.resize(b64::decode(out.data(), s, n).first);
  return out;
}

uint64_t Num(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return 0;  // the gateway omits zeros
  if (it->value.IsString()) return std::stoull(it->value.GetString());
  return it->value.IsUint64() ? it->value.GetUint64() : 0;
}

struct Kv {
  bool present = false;
  uint64_t version = 0, mod_revision = 0;
  std::string value;
};

// The first kv of a range response object ({"kvs":[...]}).
Kv FirstKv(const rapidjson::Value& range) {
  Kv kv;
  auto kvs = range.FindMember("kvs");
  if (kvs == range.MemberEnd() || !kvs->value.IsArray() || kvs->value.Empty()) return kv;
  const rapidjson::Value& k = kvs->value[0];
  kv.present = true;
  kv.version = Num(k, "version");
  kv.mod_revision = Num(k, "mod_revision");
  auto v = k.FindMember("value");
  if (v != k.MemberEnd() && v->value.IsString()) kv.value = Decode(v->value.GetString(), v->value.GetStringLength());
  return kv;
}

class EtcdConnection final : public Connection {
 public:
  explicit EtcdConnection(asio::io_context& io) : http_(io) {}
  void Open(const std::string& host, uint16_t port, std::function<void(std::string)> done) {
    http_.Open(host, port, std::move(done));
  }

  void Read(const std::string& key, ReadCallback cb) override {
    http_.Send(http::verb::post, "/v3/kv/range", "{\"key\":\"" + Encode(key) + "\"}",
               [this, key, cb](std::string err) {
                 ReadResult r;
                 rapidjson::Document d;
                 if (err.empty()) d.Parse(http_.response().body().c_str());
                 if (!err.empty() || http_.response().result_int() != 200 || d.HasParseError() || !d.IsObject()) {
                   r.error = err.empty() ? "range: HTTP " + std::to_string(http_.response().result_int()) : err;
                   return cb(std::move(r));
                 }
                 const Kv kv = FirstKv(d);
                 Remember(key, kv);
                 r.ok = true;
                 r.version = kv.present ? kv.version : 0;
                 r.value = kv.value;
                 cb(std::move(r));
               });
  }

  void Write(const std::string& key, const std::string& value, std::optional<uint64_t> if_match,
             WriteCallback cb) override {
    const std::string k = Encode(key);
    std::string compare;
    if (if_match && *if_match == 0) {
      compare = R"([{"key":")" + k + R"(","target":"CREATE","result":"EQUAL","create_revision":"0"}])";
    } else if (if_match) {
      auto it = last_.find(key);
      if (it == last_.end() || it->second.version != *if_match) {
        WriteResult w;  // this connection never saw that version: read again
        w.kind = WriteResult::kConflict;
        return cb(std::move(w));
      }
      compare = R"([{"key":")" + k + R"(","target":"MOD","result":"EQUAL","mod_revision":")" +
                std::to_string(it->second.mod_revision) + R"("}])";
    } else {
      compare = "[]";
    }
    const std::string range = R"({"request_range":{"key":")" + k + R"("}})";
    const std::string body = R"({"compare":)" + compare + R"(,"success":[{"request_put":{"key":")" + k +
                             R"(","value":")" + Encode(value) + R"("}},)" + range + R"(],"failure":[)" +
                             range + "]}";
    http_.Send(http::verb::post, "/v3/kv/txn", body, [this, key, cb](std::string err) {
      WriteResult w;
      rapidjson::Document d;
      if (err.empty()) d.Parse(http_.response().body().c_str());
      if (!err.empty() || http_.response().result_int() != 200 || d.HasParseError() || !d.IsObject()) {
        w.error = err.empty() ? "txn: HTTP " + std::to_string(http_.response().result_int()) : err;
        return cb(std::move(w));
      }
      auto ok = d.FindMember("succeeded");
      const bool succeeded = ok != d.MemberEnd() && ok->value.IsBool() && ok->value.GetBool();
      auto responses = d.FindMember("responses");
      Kv kv;
      if (responses != d.MemberEnd() && responses->value.IsArray()) {
        for (const auto& r : responses->value.GetArray()) {
          auto rr = r.FindMember("response_range");
          if (rr != r.MemberEnd()) kv = FirstKv(rr->value);
        }
      }
      Remember(key, kv);
      if (succeeded) {
        w.kind = WriteResult::kCommitted;
        w.version = kv.version;
      } else {
        w.kind = WriteResult::kConflict;
        w.has_current = true;
        w.current_version = kv.present ? kv.version : 0;
        w.current_value = kv.value;
      }
      cb(std::move(w));
    });
  }

 private:
  void Remember(const std::string& key, const Kv& kv) {
    if (kv.present) last_[key] = kv;
    else last_.erase(key);
  }
  HttpConn http_;
  std::unordered_map<std::string, Kv> last_;  // per key: version and mod_revision last seen
};

class EtcdDriver final : public Driver {
 public:
  EtcdDriver(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
  std::string name() const override { return "etcd"; }
  void Connect(asio::io_context& io,
               std::function<void(std::unique_ptr<Connection>, std::string)> done) override {
    OpenConnection<EtcdConnection>(host_, port_, std::move(done), io);
  }


 private:
  std::string host_;
  uint16_t port_;
};

}  // namespace

std::unique_ptr<Driver> MakeEtcdDriver(const std::string& host, uint16_t port) {
  return std::make_unique<EtcdDriver>(host, port);
}

}  // namespace casmem::bench
