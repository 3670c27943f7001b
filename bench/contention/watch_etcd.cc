// The watch workload's etcd 3.4 side, through its gRPC gateway: writers
// POST /v3/kv/put and read header.revision; a watcher POSTs
// /v3/watch {"create_request":{key, range_end, start_revision}} and reads
// the streamed answer, one JSON object per line ({"result":{...}}): the
// first says `created`, then each carries `events` whose kv.mod_revision
// is the write's revision. A message's events of one revision (a txn) are
// one delivery. `canceled` or `compact_revision` end the watch (notices).
// The start revision is the header revision of a range.
#include <rapidjson/document.h>

#include <memory>

#include "bench/contention/base64.h"
#include "bench/contention/http_conn.h"
#include "bench/contention/stream_conn.h"
#include "bench/contention/watch_target.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// The gateway writes int64 fields as strings and leaves zeros out.
uint64_t Num(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return 0;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return 0;
  if (it->value.IsString()) return std::strtoull(it->value.GetString(), nullptr, 10);
  return it->value.IsUint64() ? it->value.GetUint64() : 0;
}

uint64_t HeaderRevision(const rapidjson::Document& d) {
  if (!d.IsObject()) return 0;
  auto h = d.FindMember("header");
  return h == d.MemberEnd() ? 0 : Num(h->value, "revision");
}

// The end of the range of keys starting with `prefix` (etcd's prefix+1).
std::string RangeEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::string(1, '\0');  // every key
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

class EtcdWriter final : public WatchWriter {
 public:
  explicit EtcdWriter(asio::io_context& io) : http_(io) {}
  void Open(const std::string& host, uint16_t port, std::function<void(std::string)> done) {
    http_.Open(host, port, std::move(done));
  }
  void Put(const std::string& key, const std::string& value_json, std::function<void(PutResult)> done) override {
    const std::string body =
        R"({"key":")" + Base64Encode(key) + R"(","value":")" + Base64Encode(value_json) + R"("})";
    http_.Send(http::verb::post, "/v3/kv/put", body, [this, done](std::string err) {
      PutResult r;
      if (!err.empty()) {
        r.error = err;
        return done(r);
      }
      rapidjson::Document d;
      d.Parse(http_.response().body().c_str());
      r.revision = d.HasParseError() ? 0 : HeaderRevision(d);
      if (http_.response().result_int() != 200 || r.revision == 0) {
        r.error = "put: HTTP " + std::to_string(http_.response().result_int());
        return done(r);
      }
      r.ok = true;
      done(r);
    });
  }

 private:
  HttpConn http_;
};

class EtcdWatch final : public WatchStream {
 public:
  EtcdWatch(asio::io_context& io, WatchEvents ev) : conn_(io), ev_(std::move(ev)) {}

  void Start(const asio::ip::tcp::endpoint& to, std::string body) {
    http::request<http::string_body> req{http::verb::post, "/v3/watch", 11};
    req.set(http::field::host, "bench");
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    StreamConn::Handlers h;
    h.on_header = [](const StreamConn::Header& head, std::string* why) {
      if (head.result_int() == 200) return true;
      *why = "watch: HTTP " + std::to_string(head.result_int());
      return false;
    };
    h.on_bytes = [this](const char* p, size_t n, uint64_t now) { Bytes(p, n, now); };
    h.on_end = [this](const std::string& why, bool stopped) {
      if (ev_.on_end) ev_.on_end(why, stopped);
    };
    conn_.Start(to, std::move(req), std::move(h));
  }
  void Close() override { conn_.Close(); }

 private:
  void Bytes(const char* p, size_t n, uint64_t now) {
    line_.append(p, n);
    size_t from = 0;
    for (size_t nl; (nl = line_.find('\n', from)) != std::string::npos; from = nl + 1) {
      if (nl > from) Message(line_.substr(from, nl - from), now);
    }
    line_.erase(0, from);
  }

  void Message(const std::string& text, uint64_t now) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    auto result = d.IsObject() ? d.FindMember("result") : d.MemberEnd();
    if (d.HasParseError() || result == d.MemberEnd() || !result->value.IsObject()) {
      if (ev_.on_notice) ev_.on_notice("unexpected message: " + text.substr(0, 200));
      return;
    }
    const rapidjson::Value& r = result->value;
    auto flag = [&r](const char* name) {
      auto it = r.FindMember(name);
      return it != r.MemberEnd() && it->value.IsBool() && it->value.GetBool();
    };
    if (flag("created") && ev_.on_open) ev_.on_open();
    if (flag("canceled") || Num(r, "compact_revision") > 0) {
      if (ev_.on_notice) ev_.on_notice("canceled: " + text.substr(0, 200));
    }
    auto events = r.FindMember("events");
    if (events == r.MemberEnd() || !events->value.IsArray()) return;
    uint64_t last = 0;
    for (const auto& e : events->value.GetArray()) {
      auto kv = e.IsObject() ? e.FindMember("kv") : e.MemberEnd();
      const uint64_t rev = kv == e.MemberEnd() ? 0 : Num(kv->value, "mod_revision");
      if (rev == 0 || rev == last) continue;
      last = rev;
      if (ev_.on_delivery) ev_.on_delivery(rev, now);
    }
  }

  StreamConn conn_;
  WatchEvents ev_;
  std::string line_;  // an unfinished line
};

class EtcdWatchTarget final : public WatchTarget {
 public:
  EtcdWatchTarget(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
  std::string name() const override { return "etcd"; }

  void OpenWriter(asio::io_context& io,
                  std::function<void(std::unique_ptr<WatchWriter>, std::string)> done) override {
    auto w = std::make_shared<std::unique_ptr<EtcdWriter>>(std::make_unique<EtcdWriter>(io));
    (*w)->Open(host_, port_, [w, done](std::string err) {
      if (!err.empty()) return done(nullptr, err);
      done(std::move(*w), "");
    });
  }

  std::unique_ptr<WatchStream> Watch(asio::io_context& io, const std::string& prefix, std::optional<uint64_t> since,
                                     WatchEvents events, const std::string&) override {
    auto w = std::make_unique<EtcdWatch>(io, std::move(events));
    std::string body = R"({"create_request":{"key":")" + Base64Encode(prefix) + R"(","range_end":")" +
                       Base64Encode(RangeEnd(prefix)) + "\"";
    if (since) body += R"(,"start_revision":")" + std::to_string(*since + 1) + "\"";
    body += "}}";
    w->Start({asio::ip::make_address(host_ == "localhost" ? "127.0.0.1" : host_), port_}, std::move(body));
    return w;
  }

  void CurrentRevision(asio::io_context& io, const std::string& prefix,
                       std::function<void(std::optional<uint64_t>, std::string)> done) override {
    auto conn = std::make_shared<HttpConn>(io);
    conn->Open(host_, port_, [conn, prefix, done](std::string err) {
      if (!err.empty()) return done(std::nullopt, err);
      conn->Send(http::verb::post, "/v3/kv/range", R"({"key":")" + Base64Encode(prefix) + R"(","count_only":true})",
                 [conn, done](std::string err) {
                   if (!err.empty()) return done(std::nullopt, err);
                   rapidjson::Document d;
                   d.Parse(conn->response().body().c_str());
                   const uint64_t rev = d.HasParseError() ? 0 : HeaderRevision(d);
                   if (conn->response().result_int() != 200 || rev == 0) {
                     return done(std::nullopt, "range: HTTP " + std::to_string(conn->response().result_int()));
                   }
                   done(rev, "");
                 });
    });
  }

 private:
  std::string host_;
  uint16_t port_;
};

}  // namespace

std::unique_ptr<WatchTarget> MakeEtcdWatchTarget(const std::string& host, uint16_t port) {
  return std::make_unique<EtcdWatchTarget>(host, port);
}

}  // namespace casmem::bench
