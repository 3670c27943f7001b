// Change JSON and SSE framing (change_json.h).
#include "net/change_json.h"

#include "net/json_out.h"
#include "net/json_writer.h"

namespace casmem::net {
namespace {
using json::Raw;
using json::Str;
using json::Writer;

// The data members of a change, inside an object the caller opened: a
// put's are the entry's; a delete's or an expire's the tombstone's key,
// version, revision and time, and the delete's writer.
void ChangeMembers(Writer& w, const ChangeEvent& e) {
  if (e.kind == ChangeKind::kPut) {
    return json::EntryMembers(w, e.key, e.value, e.version, e.revision, e.updated_at_ms,
                              e.expires_at_ms, e.writer);
  }
  w.Key("key");
  Str(w, e.key);
  w.Key("version");
  w.Uint64(e.version);
  w.Key("revision");
  w.Uint64(e.revision);
  w.Key("updated_at");
  Str(w, FormatRfc3339(e.updated_at_ms));
  if (!e.writer.empty()) {
    w.Key("writer");
    Str(w, e.writer);
  }
}

}  // namespace

std::string ChangeDataJson(const ChangeEvent& e) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  ChangeMembers(w, e);
  w.EndObject();
  return json::Done(sb);
}

void AppendSseRecord(std::span<const FeedEvent> changes, std::string* out) {
  for (size_t i = 0; i < changes.size(); ++i) {
    if (i + 1 == changes.size()) {
      out->append("id: ");
      out->append(std::to_string(changes[i].event.revision));
      out->push_back('\n');
    }
    out->append("event: ");
    out->append(ChangeKindName(changes[i].event.kind));
    out->append("\ndata: ");
    // Compact JSON has no raw newline (strings escape it): one data line.
    out->append(changes[i].data);
    out->append("\n\n");
  }
}

std::string SseCompacted(uint64_t compact_revision) {
  return "event: compacted\ndata: {\"compact_revision\":" + std::to_string(compact_revision) + "}\n\n";
}

std::string SseLagged(uint64_t buffer_bytes) {
  return "event: lagged\ndata: {\"error\":\"watcher fell behind: more than " +
         std::to_string(buffer_bytes) +
         " bytes unsent; resume with the last event id\",\"buffer_bytes\":" +
         std::to_string(buffer_bytes) + "}\n\n";
}

std::string ChangesJson(const std::vector<ChangeEvent>& changes, uint64_t revision) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("changes");
  w.StartArray();
  for (const ChangeEvent& e : changes) {
    w.StartObject();
    w.Key("event");
    w.String(ChangeKindName(e.kind));
    ChangeMembers(w, e);
    w.EndObject();
  }
  w.EndArray();
  w.Key("revision");
  w.Uint64(revision);
  w.EndObject();
  return json::Done(sb);
}

std::string CompactedJson(uint64_t compact_revision) {
  return "{\"error\":\"compacted\",\"compact_revision\":" + std::to_string(compact_revision) + "}";
}

}  // namespace casmem::net
