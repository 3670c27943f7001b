// The watch workload's casmem side: writers POST /workspaces/{ws}/memory
// (no guard) and read `revision` from the 200; watchers GET
// /workspaces/{ws}/watch?prefix=P&since=R and parse the SSE stream; the
// start revision is the Casmem-Revision header of a one-entry list.
// Deliveries are the events carrying `id:` (the last change of each
// transaction); the id is the revision. Every connection carries the
// target's token and is TLS for https:// targets (ConnSecurity); a 401 /
// 403 / 429 is reported by its refusal class.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>

#include "bench/contention/http_conn.h"
#include "bench/contention/sse_parser.h"
#include "bench/contention/stream_conn.h"
#include "bench/contention/watch_target.h"
#include "net/json_body.h"
#include "net/url.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

class CasmemWriter final : public WatchWriter {
 public:
  CasmemWriter(asio::io_context& io, std::string path, std::shared_ptr<const ConnSecurity> security)
      : http_(io, std::move(security)), path_(std::move(path)) {}
  void Open(const std::string& host, uint16_t port, std::function<void(std::string)> done) {
    http_.Open(host, port, std::move(done));
  }
  void Put(const std::string& key, const std::string& value_json, std::function<void(PutResult)> done) override {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("key");
    w.String(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Key("value");
    w.RawValue(value_json.data(), value_json.size(), rapidjson::kObjectType);
    w.EndObject();
    http_.Send(http::verb::post, path_, std::string(sb.GetString(), sb.GetSize()), [this, done](std::string err) {
      PutResult r;
      if (!err.empty()) {
        r.error = err;
        return done(r);
      }
      const auto& res = http_.response();
      if (const Refusal f = RefusalOf(res.result_int()); f != Refusal::kNone) {
        r.refusal = f;
        r.error = RefusalName(f);
        if (f == Refusal::kRateLimited) r.retry_after_s = RetryAfterSeconds(res[http::field::retry_after]);
        return done(r);
      }
      rapidjson::Document d;
      d.Parse(res.body().data(), res.body().size());
      auto rev = d.IsObject() ? d.FindMember("revision") : d.MemberEnd();
      if (res.result_int() != 200 || !d.IsObject() || rev == d.MemberEnd() || !rev->value.IsUint64()) {
        r.error = "write: HTTP " + std::to_string(res.result_int()) +
                  (res.result_int() == 200 ? " without a revision" : "");
        return done(r);
      }
      r.ok = true;
      r.revision = rev->value.GetUint64();
      done(r);
    });
  }

 private:
  HttpConn http_;
  const std::string path_;
};

class CasmemWatch final : public WatchStream {
 public:
  CasmemWatch(asio::io_context& io, WatchEvents ev, std::shared_ptr<const ConnSecurity> security)
      : conn_(io, std::move(security)), ev_(std::move(ev)), parser_([this](const SseEvent& e) { Event(e); }) {}

  void Start(const asio::ip::tcp::endpoint& to, const std::string& target) {
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "bench");
    req.set(http::field::accept, "text/event-stream");
    StreamConn::Handlers h;
    h.on_header = [this](const StreamConn::Header& head, std::string* why) {
      const bool sse = std::string_view(head[http::field::content_type]).rfind("text/event-stream", 0) == 0;
      if (const Refusal f = RefusalOf(head.result_int()); f != Refusal::kNone) {
        *why = std::string("watch: ") + RefusalName(f);
        return false;
      }
      if (head.result_int() != 200 || !sse) {
        *why = "watch: HTTP " + std::to_string(head.result_int()) + (sse ? "" : ", not text/event-stream");
        return false;
      }
      if (ev_.on_open) ev_.on_open();
      return true;
    };
    h.on_bytes = [this](const char* p, size_t n, uint64_t now) {
      now_ = now;
      parser_.Feed(p, n);
    };
    h.on_end = [this](const std::string& why, bool stopped) {
      if (ev_.on_end) ev_.on_end(why, stopped);
    };
    conn_.Start(to, std::move(req), std::move(h));
  }
  void Close() override { conn_.Close(); }
  uint64_t heartbeats() const override { return parser_.comments(); }

 private:
  void Event(const SseEvent& e) {
    if (e.type == "put" || e.type == "delete" || e.type == "expire") {
      if (!e.has_id) return;  // a transaction's change before its last: delivered with it
      const auto rev = net::ParseUnsigned(e.id);
      if (!rev) {
        if (ev_.on_notice) ev_.on_notice("event with a bad id '" + e.id + "'");
        return;
      }
      if (ev_.on_delivery) ev_.on_delivery(*rev, now_);
      return;
    }
    if (ev_.on_notice) ev_.on_notice(e.type + (e.data.empty() ? "" : " " + e.data));
  }

  StreamConn conn_;
  WatchEvents ev_;
  SseParser parser_;
  uint64_t now_ = 0;  // when the bytes being parsed were read
};

class CasmemWatchTarget final : public WatchTarget {
 public:
  CasmemWatchTarget(std::string host, uint16_t port, std::string ws, std::shared_ptr<const ConnSecurity> security)
      : host_(std::move(host)), port_(port), ws_(std::move(ws)), security_(std::move(security)) {}
  std::string name() const override { return "casmem"; }

  void OpenWriter(asio::io_context& io,
                  std::function<void(std::unique_ptr<WatchWriter>, std::string)> done) override {
    auto w = std::make_shared<std::unique_ptr<CasmemWriter>>(
        std::make_unique<CasmemWriter>(io, "/workspaces/" + ws_ + "/memory", security_));
    (*w)->Open(host_, port_, [w, done](std::string err) {
      if (!err.empty()) return done(nullptr, err);
      done(std::move(*w), "");
    });
  }

  std::unique_ptr<WatchStream> Watch(asio::io_context& io, const std::string& prefix, std::optional<uint64_t> since,
                                     WatchEvents events, const std::string& workspace) override {
    auto w = std::make_unique<CasmemWatch>(io, std::move(events), security_);
    std::string target = "/workspaces/" + (workspace.empty() ? ws_ : workspace) +
                         "/watch?prefix=" + net::PercentEncode(prefix);
    if (since) target += "&since=" + std::to_string(*since);
    w->Start(Endpoint(), target);
    return w;
  }

  void CurrentRevision(asio::io_context& io, const std::string& prefix,
                       std::function<void(std::optional<uint64_t>, std::string)> done) override {
    auto conn = std::make_shared<HttpConn>(io, security_);
    conn->Open(host_, port_, [this, conn, prefix, done](std::string err) {
      if (!err.empty()) return done(std::nullopt, err);
      conn->Send(http::verb::get, "/workspaces/" + ws_ + "/memory?limit=1&prefix=" + net::PercentEncode(prefix), "",
                 [conn, done](std::string err) {
                   if (!err.empty()) return done(std::nullopt, err);
                   const auto& res = conn->response();
                   if (const Refusal f = RefusalOf(res.result_int()); f != Refusal::kNone) {
                     return done(std::nullopt, std::string("list: ") + RefusalName(f));
                   }
                   if (res.result_int() != 200) {
                     return done(std::nullopt, "list: HTTP " + std::to_string(res.result_int()));
                   }
                   auto it = res.find("Casmem-Revision");
                   if (it == res.end()) return done(std::nullopt, "");
                   const auto rev = net::ParseUnsigned(std::string(it->value()));
                   done(rev, rev ? "" : "bad Casmem-Revision");
                 });
    });
  }

 private:
  asio::ip::tcp::endpoint Endpoint() const {
    return {asio::ip::make_address(host_ == "localhost" ? "127.0.0.1" : host_), port_};
  }
  std::string host_;
  uint16_t port_;
  std::string ws_;
  std::shared_ptr<const ConnSecurity> security_;
};

}  // namespace

std::unique_ptr<WatchTarget> MakeCasmemWatchTarget(const std::string& host, uint16_t port,
                                                   const std::string& workspace,
                                                   std::shared_ptr<const ConnSecurity> security) {
  return std::make_unique<CasmemWatchTarget>(host, port, workspace, std::move(security));
}

}  // namespace casmem::bench
