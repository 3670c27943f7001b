// The running-server target (import_target.h): items sent as JSON Lines to
// POST /admin/import (docs/api.md) in batches of at most kBatchItems items
// and about kBatchBytes, each batch applied by the server only once it has
// checked all of it, and answered once durable. A 503 (the server's log is
// busy) is retried after its Retry-After; sending a batch again is safe,
// since what it already applied is then "kept_newer". A 413 is sent again
// in halves (a server with a smaller body or value limit than this tool's).
#include <chrono>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/rfc3339.h"
#include "tools/cli/http_client.h"
#include "tools/import/import_target.h"

namespace casmem::importer {

namespace {

constexpr size_t kBatchItems = 1000;
constexpr size_t kBatchBytes = 512 << 10;
constexpr int kBusyRetries = 30;

void AppendLine(const ImportItem& it, std::string* out) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto str = [&w](const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  w.StartObject();
  w.Key("workspace");
  str(it.workspace);
  w.Key("key");
  str(it.key);
  if (it.tombstone()) {
    w.Key("tombstone");
    w.Bool(true);
  } else {
    w.Key("value");
    w.RawValue(it.value.data(), it.value.size(), rapidjson::kObjectType);
  }
  w.Key("version");
  w.Uint64(it.version);
  if (it.updated_at_ms > 0) {
    w.Key("updated_at");
    str(FormatRfc3339(it.updated_at_ms));
  }
  if (it.expires_at_ms > 0) {
    w.Key("expires_at");
    str(FormatRfc3339(it.expires_at_ms));
  }
  w.EndObject();
  out->append(sb.GetString(), sb.GetSize());
  *out += '\n';
}

// The "error" of a JSON error body, else the body itself (shortened).
std::string ErrorOf(const cli::Response& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str(), r.body.size());
  if (!d.HasParseError() && d.IsObject() && d.HasMember("error") && d["error"].IsString()) {
    return d["error"].GetString();
  }
  return r.body.substr(0, 200);
}

class HttpTarget final : public ImportTarget {
 public:
  explicit HttpTarget(const cli::GlobalOptions& global) : client_(global) {}

  bool Add(const ImportItem& it, bool expired, ImportCounts* counts, std::string* error) override {
    std::string line;
    AppendLine(it, &line);
    // Over the byte budget: what came before goes first (an item larger
    // than the budget goes alone).
    if (bytes_ + line.size() > kBatchBytes && !items_.empty() && !Flush(counts, error)) return false;
    bytes_ += line.size();
    items_.push_back({std::move(line), it.workspace + "/" + it.key, expired});
    return items_.size() < kBatchItems || Flush(counts, error);
  }

  bool Finish(ImportCounts* counts, std::string* error) override { return Flush(counts, error); }

 private:
  struct Held {
    std::string line;   // JSON Lines, with its newline
    std::string where;  // "workspace/key", for an invalid item's report
    bool expired = false;
  };

  bool Flush(ImportCounts* counts, std::string* error) {
    const bool ok = Send(0, items_.size(), counts, error);
    items_.clear();
    bytes_ = 0;
    return ok;
  }

  // Sends items [b, e) as one request. A 413 (the batch is over the
  // server's body limit, or an item's value over its --max-value-bytes,
  // which may be below this tool's 1 MiB) is sent again in halves, down to
  // a single item, which is then counted invalid with the server's reason.
  bool Send(size_t b, size_t e, ImportCounts* counts, std::string* error) {
    if (b == e) return true;
    std::string body;
    for (size_t i = b; i < e; ++i) body += items_[i].line;
    cli::Response r;
    for (int attempt = 0;; ++attempt) {
      if (!client_.Request("POST", "/admin/import", body, {{"Content-Type", "application/x-ndjson"}},
                           &r, error)) {
        return false;
      }
      if (r.status != 503 || attempt == kBusyRetries) break;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (r.status == 413) {
      if (e - b == 1) {
        ++counts->invalid;
        ReportInvalid(items_[b].where, "casmemd refused it: " + ErrorOf(r));
        return true;
      }
      const size_t mid = b + (e - b) / 2;
      return Send(b, mid, counts, error) && Send(mid, e, counts, error);
    }
    if (r.status != 200) {
      *error = "casmemd answered " + std::to_string(r.status) + ": " + ErrorOf(r);
      if (r.status == 401 || r.status == 403) *error += " (import needs an admin token: --token or CASMEM_TOKEN)";
      return false;
    }
    rapidjson::Document d;
    d.Parse(r.body.c_str(), r.body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("results") || !d["results"].IsArray() ||
        d["results"].Size() != e - b) {
      *error = "unexpected answer from casmemd: " + r.body.substr(0, 200);
      return false;
    }
    const auto& results = d["results"];
    for (rapidjson::SizeType i = 0; i < results.Size(); ++i) {
      const bool imported = results[i].IsObject() && results[i].HasMember("status") &&
                            results[i]["status"].IsString() &&
                            std::string_view(results[i]["status"].GetString()) == "imported";
      if (items_[b + i].expired) {
        ++counts->expired;
      } else if (imported) {
        ++counts->imported;
      } else {
        ++counts->kept_newer;
      }
    }
    return true;
  }

  cli::HttpClient client_;
  std::vector<Held> items_;  // the batch being built
  size_t bytes_ = 0;         // of its lines
};

}  // namespace

std::unique_ptr<ImportTarget> OpenHttpTarget(const cli::GlobalOptions& global) {
  return std::make_unique<HttpTarget>(global);
}

}  // namespace casmem::importer
