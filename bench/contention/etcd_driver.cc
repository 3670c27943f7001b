// The etcd driver: etcd 3.4's HTTP/JSON gateway (/v3/kv/range, /v3/kv/txn).
// A guarded write is a txn comparing the key's mod_revision (as last read
// on this connection) whose success branch puts and reads back the key and
// whose failure branch reads the current key, so a refusal carries the
// current value like casmem's 409. Versions are etcd's per-key `version`
// (+1 per put). Keys and values travel base64-encoded; the gateway writes
// 64-bit numbers as strings and omits zero values.
// etcd has no server-side update of a value, so Patch and Move are the
// read + txn(compare mod_revision) loop, inside the driver: Patch reads the
// key (once; afterwards the failure branch of each txn returns the current
// state), changes it, and retries the guarded txn until it succeeds; Move
// reads both keys in one txn, then retries one txn comparing both keys'
// mod_revision and putting both. Each reports how many txns it sent.
#include <rapidjson/document.h>

#include <unordered_map>

#include "bench/contention/app_value.h"
#include "bench/contention/base64.h"
#include "bench/contention/driver.h"
#include "bench/contention/http_conn.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::string Encode(const std::string& s) { return Base64Encode(s); }
std::string Decode(const char* s, size_t n) { return Base64Decode(s, n); }

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

 public:
  void Patch(const std::string& key, int agent, bool bounded, const OpOptions&, WriteCallback cb) override {
    auto it = last_.find(key);
    if (it == last_.end()) {
      return Read(key, [this, key, agent, bounded, cb](ReadResult r) {
        if (!r.ok) return cb(WriteError(r.error));
        if (r.version == 0) return cb(WriteError("patch: key absent"));
        PatchLoop(key, agent, bounded, 0, cb);
      });
    }
    PatchLoop(key, agent, bounded, 0, cb);
  }

  void Move(const std::string& first, const std::string& second, int64_t delta, const OpOptions&,
            WriteCallback cb) override {
    if (last_.count(first) && last_.count(second)) return MoveLoop(first, second, delta, 0, cb);
    // Both keys in one round trip: a txn without compares that only reads.
    Txn("[]", "[" + Range(first) + "," + Range(second) + "]", "[]",
        [this, first, second, delta, cb](std::string err, bool, std::vector<Kv> kvs) {
          if (!err.empty()) return cb(WriteError(err));
          if (kvs.size() != 2) return cb(WriteError("move: keys absent"));
          Remember(first, kvs[0]);
          Remember(second, kvs[1]);
          MoveLoop(first, second, delta, 0, cb);
        });
  }

 private:
  static std::string Range(const std::string& key) {
    return R"({"request_range":{"key":")" + Encode(key) + R"("}})";
  }
  static std::string Put(const std::string& key, const std::string& value) {
    return R"({"request_put":{"key":")" + Encode(key) + R"(","value":")" + Encode(value) + R"("}})";
  }
  static std::string ModEquals(const std::string& key, uint64_t mod_revision) {
    return R"({"key":")" + Encode(key) + R"(","target":"MOD","result":"EQUAL","mod_revision":")" +
           std::to_string(mod_revision) + R"("})";
  }

  // One txn; hands over whether it succeeded and the kvs of its range
  // responses, in order (absent keys left out).
  void Txn(const std::string& compare, const std::string& success, const std::string& failure,
           std::function<void(std::string, bool, std::vector<Kv>)> done) {
    const std::string body =
        R"({"compare":)" + compare + R"(,"success":)" + success + R"(,"failure":)" + failure + "}";
    http_.Send(http::verb::post, "/v3/kv/txn", body, [this, done](std::string err) {
      rapidjson::Document d;
      if (err.empty()) d.Parse(http_.response().body().c_str());
      if (!err.empty() || http_.response().result_int() != 200 || d.HasParseError() || !d.IsObject()) {
        return done(err.empty() ? "txn: HTTP " + std::to_string(http_.response().result_int()) : err, false, {});
      }
      auto ok = d.FindMember("succeeded");
      const bool succeeded = ok != d.MemberEnd() && ok->value.IsBool() && ok->value.GetBool();
      std::vector<Kv> kvs;
      auto responses = d.FindMember("responses");
      if (responses != d.MemberEnd() && responses->value.IsArray()) {
        for (const auto& r : responses->value.GetArray()) {
          auto rr = r.FindMember("response_range");
          if (rr == r.MemberEnd()) continue;
          Kv kv = FirstKv(rr->value);
          if (kv.present) kvs.push_back(std::move(kv));
        }
      }
      done("", succeeded, std::move(kvs));
    });
  }

  void PatchLoop(const std::string& key, int agent, bool bounded, int sent, WriteCallback cb) {
    const Kv& kv = last_[key];
    auto v = AppValue::FromJson(kv.value);
    if (!v) return cb(WriteError("patch: value is not the benchmark's"));
    const std::string next = v->Patched(agent, bounded).ToJson();
    Txn("[" + ModEquals(key, kv.mod_revision) + "]", "[" + Put(key, next) + "," + Range(key) + "]",
        "[" + Range(key) + "]", [this, key, agent, bounded, sent, cb](std::string err, bool ok, std::vector<Kv> kvs) {
          WriteResult w;
          w.attempts = sent + 1;
          if (!err.empty() || kvs.size() != 1) {
            last_.erase(key);
            w.error = err.empty() ? "patch: key absent" : err;
            return cb(std::move(w));
          }
          Remember(key, kvs[0]);
          if (!ok) return PatchLoop(key, agent, bounded, sent + 1, cb);
          w.kind = WriteResult::kCommitted;
          w.version = kvs[0].version;
          cb(std::move(w));
        });
  }

  void MoveLoop(const std::string& first, const std::string& second, int64_t delta, int sent, WriteCallback cb) {
    const Kv& a = last_[first];
    const Kv& b = last_[second];
    auto va = AppValue::FromJson(a.value);
    auto vb = AppValue::FromJson(b.value);
    if (!va || !vb) return cb(WriteError("move: value is not the benchmark's"));
    va->counter -= delta;
    vb->counter += delta;
    const std::string reads = Range(first) + "," + Range(second);
    Txn("[" + ModEquals(first, a.mod_revision) + "," + ModEquals(second, b.mod_revision) + "]",
        "[" + Put(first, va->ToJson()) + "," + Put(second, vb->ToJson()) + "," + reads + "]", "[" + reads + "]",
        [this, first, second, delta, sent, cb](std::string err, bool ok, std::vector<Kv> kvs) {
          WriteResult w;
          w.attempts = sent + 1;
          if (!err.empty() || kvs.size() != 2) {
            last_.erase(first);
            last_.erase(second);
            w.error = err.empty() ? "move: keys absent" : err;
            return cb(std::move(w));
          }
          Remember(first, kvs[0]);
          Remember(second, kvs[1]);
          if (!ok) return MoveLoop(first, second, delta, sent + 1, cb);
          w.kind = WriteResult::kCommitted;
          w.version = kvs[1].version;
          cb(std::move(w));
        });
  }

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
  bool Supports(const std::string&) const override { return true; }
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
