// The casmem driver: one keep-alive HTTP/1.1 connection per agent (Beast),
// GET /workspaces/{ws}/memory/{key} and POST with if_match_version; a 409
// body's current_version / current_value feed the retry. Patch is one
// PATCH (JSON Patch with casmem's increment, no guard), Move one
// POST /workspaces/{ws}/txn of two patch ops (increments: no guard
// needed). Both may carry an Idempotency-Key; with drop_response the first
// answer is thrown away with its connection and the request sent again
// with the same key until an answer comes back: a 409 "request in
// progress" is waited out (1 ms, then again). A 401 / 403 / 429 is
// reported as its refusal class (refusal.h), a 429 with its Retry-After;
// the runner decides what to do about it.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/steady_timer.hpp>
#include <memory>

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

// A 401 / 403 / 429: fills r's refusal, error and (429) retry_after_s;
// true when `res` was one.
template <class Result>
bool Refused(const http::response<http::string_body>& res, Result& r) {
  const Refusal f = RefusalOf(res.result_int());
  if (f == Refusal::kNone) return false;
  r.refusal = f;
  r.error = RefusalName(f);
  if (f == Refusal::kRateLimited) r.retry_after_s = RetryAfterSeconds(res[http::field::retry_after]);
  return true;
}

class CasmemConnection final : public Connection {
 public:
  CasmemConnection(asio::io_context& io, std::string workspace, std::shared_ptr<const ConnSecurity> security)
      : http_(io, std::move(security)),
        timer_(io),
        prefix_("/workspaces/" + workspace + "/memory"),
        txn_("/workspaces/" + workspace + "/txn") {}

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
      if (Refused(res(), r)) return cb(std::move(r));
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
      if (Refused(res(), r)) return cb(std::move(r));
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

 public:
  void Patch(const std::string& key, int agent, bool bounded, const OpOptions& opts,
             WriteCallback cb) override {
    std::string body = R"([{"op":"increment","path":"/counter","value":1},{"op":"add","path":"/agents/-","value":)" +
                       std::to_string(agent) + "}";
    if (bounded) body += R"(,{"op":"remove","path":"/agents/0"})";
    body += "]";
    auto req = std::make_shared<Request>(Request{http::verb::patch, prefix_ + "/" + net::PercentEncode(key),
                                                 std::move(body), "application/json-patch+json", {}});
    Start(std::move(req), opts, std::move(cb));
  }

  void Move(const std::string& first, const std::string& second, int64_t delta, const OpOptions& opts,
            WriteCallback cb) override {
    auto op = [](const std::string& key, int64_t by) {
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      w.String(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      return R"({"op":"patch","key":)" + std::string(sb.GetString(), sb.GetSize()) +
             R"(,"patch":[{"op":"increment","path":"/counter","value":)" + std::to_string(by) + "}]}";
    };
    std::string body = R"({"ops":[)" + op(first, -delta) + "," + op(second, delta) + "]}";
    auto req = std::make_shared<Request>(Request{http::verb::post, txn_, std::move(body), "application/json", {}});
    Start(std::move(req), opts, std::move(cb));
  }

  void FsyncCount(std::function<void(std::optional<uint64_t>)> cb) override {
    Send(http::verb::get, "/metrics", "", [this, cb](std::string err) {
      if (!err.empty() || res().result_int() != 200) return cb(std::nullopt);
      cb(ParseFsyncs(res().body()));
    });
  }

 private:
  struct Request {
    http::verb verb;
    std::string target, body, content_type;
    HttpConn::Headers headers;
  };

  void Start(std::shared_ptr<Request> req, const OpOptions& opts, WriteCallback cb) {
    if (!opts.idempotency_key.empty()) req->headers.emplace_back("Idempotency-Key", opts.idempotency_key);
    auto result = std::make_shared<WriteResult>();
    if (!opts.drop_response) return Attempt(req, result, std::move(cb));
    result->dropped = true;
    http_.SendAndDrop(req->verb, req->target, req->body, [this, req, result, cb](std::string err) {
      if (!err.empty()) {
        result->error = err;  // in doubt: the dropped request may have been applied
        return cb(*result);
      }
      Attempt(req, result, cb);
    }, req->content_type, req->headers);
  }

  // Sends `req` (again, after a drop or a 409 "request in progress") and
  // completes with the first definite answer.
  void Attempt(std::shared_ptr<Request> req, std::shared_ptr<WriteResult> result, WriteCallback cb) {
    http_.Send(req->verb, req->target, req->body, [this, req, result, cb](std::string err) {
      WriteResult& r = *result;
      if (!err.empty()) {
        r.error = err;
        return cb(r);
      }
      const int status = res().result_int();
      if (Refused(res(), r)) {
        r.refused = true;  // nothing written
        return cb(r);
      }
      rapidjson::Document d;
      d.Parse(res().body().data(), res().body().size());
      if (d.HasParseError() || !d.IsObject()) {
        r.error = "HTTP " + std::to_string(status) + " with a body that is not JSON";
        return cb(r);
      }
      auto error = d.FindMember("error");
      if (status == 409 && error != d.MemberEnd() && error->value.IsString() &&
          std::string(error->value.GetString()) == "request in progress") {
        ++r.in_progress;
        timer_.expires_after(std::chrono::milliseconds(1));
        timer_.async_wait([this, req, result, cb](boost::system::error_code) { Attempt(req, result, cb); });
        return;
      }
      r.replayed = res()["Idempotency-Replayed"] == "true";
      auto version = d.FindMember("version");
      auto revision = d.FindMember("revision");
      if (status == 200 && ((version != d.MemberEnd() && version->value.IsUint64()) ||
                            (revision != d.MemberEnd() && revision->value.IsUint64()))) {
        r.kind = WriteResult::kCommitted;
        r.version = version != d.MemberEnd() && version->value.IsUint64() ? version->value.GetUint64() : 0;
      } else if (status == 409) {
        r.kind = WriteResult::kConflict;  // nothing written
        r.error = error != d.MemberEnd() && error->value.IsString() ? error->value.GetString() : "409";
      } else {
        // 4xx: refused, nothing written; 5xx (503 storage unavailable):
        // not acknowledged, yet the record may reach the log.
        r.refused = status >= 400 && status < 500;
        r.error = "HTTP " + std::to_string(status) +
                  (error != d.MemberEnd() && error->value.IsString() ? std::string(": ") + error->value.GetString() : "");
      }
      cb(r);
    }, req->content_type, req->headers);
  }

  HttpConn http_;
  asio::steady_timer timer_;  // waits out a 409 "request in progress"
  const std::string prefix_, txn_;
};

class CasmemDriver final : public Driver {
 public:
  CasmemDriver(std::string host, uint16_t port, std::string ws, std::shared_ptr<const ConnSecurity> security)
      : host_(std::move(host)), port_(port), ws_(std::move(ws)), security_(std::move(security)) {}
  std::string name() const override { return "casmem"; }
  bool Supports(const std::string&) const override { return true; }
  void Connect(asio::io_context& io,
               std::function<void(std::unique_ptr<Connection>, std::string)> done) override {
    OpenConnection<CasmemConnection>(host_, port_, std::move(done), io, ws_, security_);
  }

 private:
  std::string host_;
  uint16_t port_;
  std::string ws_;
  std::shared_ptr<const ConnSecurity> security_;
};

}  // namespace

std::optional<uint64_t> ParseFsyncs(const std::string& metrics) {
  static const std::string kName = "\ncasmem_wal_fsyncs_total ";
  const size_t at = ("\n" + metrics).find(kName);
  if (at == std::string::npos) return std::nullopt;
  const char* p = metrics.c_str() + at + kName.size() - 1;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(p, &end, 10);
  if (end == p) return std::nullopt;
  return n;
}

std::unique_ptr<Driver> MakeCasmemDriver(const std::string& host, uint16_t port,
                                         const std::string& workspace,
                                         std::shared_ptr<const ConnSecurity> security) {
  return std::make_unique<CasmemDriver>(host, port, workspace, std::move(security));
}

}  // namespace casmem::bench
