// POST /mcp and /workspaces/{ws}/mcp (memory-api.md §10): the Model
// Context Protocol over its Streamable HTTP transport, stateless (no
// Mcp-Session-Id, no server-sent stream): JSON-RPC in, application/json
// out, 202 with no body for a body of only notifications and responses.
//
// Each tool runs as the HTTP request it stands for (a GET, POST, DELETE or
// PATCH of /workspaces/{ws}/memory...), built here and passed through
// Handler::Dispatch with the caller's token: the same access check (read
// for memory_get and memory_list, write for the rest), validation, store
// call and reply as over HTTP. The reply becomes the tool result: its
// body as text (and, from 2025-06-18, as structuredContent), isError for
// any status >= 400. The MCP result's visible_lsn is the latest of its
// tools', so no answer reveals a write before it is durable.
#include <algorithm>
#include <cctype>

#include "engine/names.h"
#include "net/handler.h"
#include "net/handler_internal.h"
#include "net/json_body.h"
#include "net/json_out.h"
#include "net/json_writer.h"
#include "net/mcp_jsonrpc.h"
#include "net/mcp_tools.h"
#include "net/url.h"
#include "net/write_headers.h"

namespace casmem::net {
namespace {

using namespace mcp;

constexpr const char* kServerVersion = "0.12.0";

std::string RpcResult(const std::string& id, std::string_view result) {
  return R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":)" + std::string(result) + "}";
}

std::string RpcError(const std::string& id, int code, std::string_view message) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("id");
  w.RawValue(id.data(), id.size(), rapidjson::kStringType);
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.Int(code);
  w.Key("message");
  json::Str(w, message);
  w.EndObject();
  w.EndObject();
  return json::Done(sb);
}

// Accept (RFC 9110 §12.5.1): may the response be application/json? An
// absent header accepts anything; a media range with q=0 refuses.
bool AcceptsJson(std::optional<std::string_view> accept) {
  if (!accept) return true;
  std::string_view rest = *accept;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const std::string type = MediaType(part);
    if (type != "application/json" && type != "application/*" && type != "*/*") continue;
    // A q parameter of zero ("q=0", "q=0.0") means "not acceptable".
    std::string params(part.substr(std::min(part.size(), part.find(';'))));
    for (char& c : params) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    params.erase(std::remove(params.begin(), params.end(), ' '), params.end());
    const size_t q = params.find(";q=");
    if (q != std::string::npos) {
      const std::string value = params.substr(q + 3, params.find(';', q + 1) - (q + 3));
      if (!value.empty() && value.find_first_not_of("0.") == std::string::npos) continue;
    }
    return true;
  }
  return false;
}

HttpResponse McpRefusal(int status, std::string message) { return Handler::Error(status, message); }

// A tool argument of integer type: absent or null (not given), a JSON
// integer (its text, which the memory API then range-checks), or of
// another type (false).
bool IntegerArg(const Members& args, std::string_view name, std::optional<std::string_view>* out) {
  out->reset();
  const auto v = Find(args, name);
  if (!v || TypeOf(*v) == JsonType::kNull) return true;
  if (TypeOf(*v) != JsonType::kNumber || v->find_first_of(".eE") != std::string_view::npos) return false;
  *out = *v;
  return true;
}

// An optional string argument: absent or null, a string, or another type (false).
bool StringArg(const Members& args, std::string_view name, std::optional<std::string>* out) {
  out->reset();
  const auto v = Find(args, name);
  if (!v || TypeOf(*v) == JsonType::kNull) return true;
  if (TypeOf(*v) != JsonType::kString) return false;
  *out = StringOf(*v);
  return true;
}

void AddQuery(std::string* target, std::string_view name, std::string_view value) {
  target->push_back(target->find('?') == std::string::npos ? '?' : '&');
  target->append(name);
  target->push_back('=');
  target->append(PercentEncode(value));
}

// What one tools/call produced: a JSON-RPC result, or a protocol error.
struct CallOutcome {
  int code = 0;  // 0: `result` holds the result
  std::string message;
  std::string result;
};

CallOutcome Invalid(std::string message) { return {kInvalidParams, std::move(message), {}}; }

// The tool result for the memory API's answer `body` (a JSON object).
std::string ToolResult(std::string_view body, bool is_error, bool structured) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  w.Key("content");
  w.StartArray();
  w.StartObject();
  w.Key("type");
  w.String("text");
  w.Key("text");
  json::Str(w, body);
  w.EndObject();
  w.EndArray();
  // An outputSchema describes success: an error result carries its body
  // as text only (clients validate structuredContent against the schema).
  if (structured && !is_error) {
    w.Key("structuredContent");
    json::Raw(w, body);
  }
  w.Key("isError");
  w.Bool(is_error);
  w.EndObject();
  return json::Done(sb);
}

std::string HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

// memory_list's answer: the HTTP listing (an array) as {"entries": [...],
// "next_after": K when more remain (from the Link header), "revision": R}.
std::string ListObject(const HttpResponse& r) {
  std::string out = R"({"entries":)" + r.body;
  const std::string link = HeaderOf(r, "Link");
  const size_t open = link.find('<'), close = link.find('>');
  if (open != std::string::npos && close != std::string::npos && close > open) {
    std::string error;
    if (auto t = ParseTarget(std::string_view(link).substr(open + 1, close - open - 1), &error)) {
      if (const std::string* after = QueryParam(*t, "after")) {
        rapidjson::StringBuffer sb;
        json::Writer w(sb);
        json::Str(w, *after);
        out += R"(,"next_after":)" + json::Done(sb);
      }
    }
  }
  const std::string revision = HeaderOf(r, "Casmem-Revision");
  if (!revision.empty()) out += R"(,"revision":)" + revision;
  out += '}';
  return out;
}

}  // namespace

HandlerResult Handler::Mcp(const std::string& ws, const HttpRequest& req,
                           const std::shared_ptr<const TokenInfo>& token) {
  // The transport's HTTP rules first (no JSON-RPC is read before them).
  if (req.method != "POST") return MethodNotAllowed("POST");  // no SSE stream to GET
  if (!req.repeated_header.empty()) {
    return ResultOf(Error(400, std::string(req.repeated_header) + " given more than once"));
  }
  if (const char* problem = WorkspaceProblem(ws)) return ResultOf(Error(400, problem));
  if (!AcceptsJson(req.accept)) {
    return ResultOf(McpRefusal(406, "this endpoint answers application/json; the Accept header refuses it"));
  }
  if (MediaType(req.content_type) != "application/json") {
    HttpResponse r = McpRefusal(415, "an MCP message needs Content-Type application/json");
    r.headers.emplace_back("Accept-Post", "application/json");
    return ResultOf(std::move(r));
  }
  std::string_view version = kVersion20250326;  // absent: the transport spec's default
  if (req.mcp_protocol_version) {
    if (!SupportedVersion(*req.mcp_protocol_version)) {
      return ResultOf(McpRefusal(400, "unsupported MCP-Protocol-Version; supported: 2025-03-26, 2025-06-18"));
    }
    version = *req.mcp_protocol_version;
  }
  if (req.idempotency_key) {
    // One key cannot name the several writes a message (or batch) may make,
    // and an ignored key would promise a safety it does not give.
    return ResultOf(McpRefusal(400, "Idempotency-Key is not supported on /mcp (use if_match_version)"));
  }

  HandlerResult out;
  const Body body = ParseBody(req.body);
  if (body.error_code != 0 || (body.batch && Structured(version))) {
    const int code = body.error_code != 0 ? body.error_code : kInvalidRequest;
    const std::string message =
        body.error_code != 0 ? body.error : "batches are not part of MCP 2025-06-18 (send one message per POST)";
    out.response = Json(400, RpcError("null", code, message));
    return out;
  }

  // Runs a tool's HTTP request through the routes with the caller's token.
  auto run = [&](const HttpRequest& inner) {
    std::string error;
    auto target = ParseTarget(inner.target, &error);
    HandlerResult r = target ? Dispatch(inner, *target, token) : ResultOf(Error(400, error));
    out.visible_lsn = std::max(out.visible_lsn, r.visible_lsn);
    out.is_write = out.is_write || r.is_write;
    // A commit tells the server's conflict turns (one message only: one
    // key event per result). A stale loser is answered now: a held 409
    // would be rebuilt as HTTP, not as this tool result.
    if (!body.batch && r.key_event == KeyEvent::kCommitted) {
      out.key_event = KeyEvent::kCommitted;
      out.workspace = r.workspace;
      out.key = r.key;
    }
    return r;
  };

  auto call_tool = [&](std::string_view params) -> CallOutcome {
    if (params.empty() || TypeOf(params) != JsonType::kObject) {
      return Invalid("tools/call needs params {\"name\": ..., \"arguments\": {...}}");
    }
    const Members p = MembersOf(params);
    const auto name = Find(p, "name");
    if (!name || TypeOf(*name) != JsonType::kString) return Invalid("tools/call needs a tool \"name\"");
    const Tool tool = ToolNamed(StringOf(*name));
    if (tool == Tool::kUnknown) {
      return Invalid("unknown tool; the tools are memory_get, memory_set, memory_list, memory_delete, memory_patch");
    }
    std::string_view args_raw = "{}";
    if (const auto a = Find(p, "arguments"); a && TypeOf(*a) != JsonType::kNull) {
      if (TypeOf(*a) != JsonType::kObject) return Invalid("\"arguments\" must be an object");
      args_raw = *a;
    }
    const Members args = MembersOf(args_raw);
    std::optional<std::string> key;
    if (!StringArg(args, "key", &key)) return Invalid("\"key\" must be a string");
    if (!key && tool != Tool::kList) return Invalid("missing argument \"key\"");
    // A key the API refuses is its 400, as a tool error (an empty one
    // would otherwise make the path the collection's).
    if (key) {
      if (const char* problem = KeyProblem(*key)) return {0, {}, ToolResult(ErrorJson(problem), true, false)};
    }
    std::optional<std::string_view> guard, ttl;
    if (!IntegerArg(args, "if_match_version", &guard)) return Invalid("\"if_match_version\" must be an integer");
    if (!IntegerArg(args, "ttl_seconds", &ttl)) return Invalid("\"ttl_seconds\" must be an integer");

    const std::string base = "/workspaces/" + ws + "/memory";
    std::string target = key ? base + "/" + PercentEncode(*key) : base;
    HttpRequest inner;
    inner.remote_address = req.remote_address;
    if (Writes(tool)) inner.writer = req.writer;
    std::string_view patch_type;
    switch (tool) {
      case Tool::kGet:
        inner.method = "GET";
        break;
      case Tool::kSet:
        // The arguments are the POST body (key, value, if_match_version,
        // ttl_seconds; other members ignored, as by POST).
        if (!Find(args, "value")) return Invalid("missing argument \"value\"");
        inner.method = "POST";
        target = base;
        inner.body = args_raw;
        inner.content_type = "application/json";
        break;
      case Tool::kList: {
        std::optional<std::string> prefix, after;
        std::optional<std::string_view> limit;
        if (!StringArg(args, "prefix", &prefix)) return Invalid("\"prefix\" must be a string");
        if (!StringArg(args, "after", &after)) return Invalid("\"after\" must be a string");
        if (!IntegerArg(args, "limit", &limit)) return Invalid("\"limit\" must be an integer");
        inner.method = "GET";
        std::string n = limit ? std::string(*limit) : std::to_string(kListDefaultLimit);
        // Always a page: more than the most is served as the most (the
        // memory API refuses what is not 1-10000).
        if (auto v = ParseUnsigned(n); v && *v > static_cast<uint64_t>(kListMaxLimit)) {
          n = std::to_string(kListMaxLimit);
        }
        AddQuery(&target, "limit", n);
        if (prefix) AddQuery(&target, "prefix", *prefix);
        if (after) AddQuery(&target, "after", *after);
        break;
      }
      case Tool::kDelete:
        inner.method = "DELETE";
        if (guard) AddQuery(&target, "if_match_version", *guard);
        break;
      case Tool::kPatch: {
        const auto patch = Find(args, "patch");
        const auto merge = Find(args, "merge");
        // null stands for "not given" in both (models fill optional
        // fields with null; a merge patch of null would erase the value).
        const bool has_patch = patch && TypeOf(*patch) != JsonType::kNull;
        const bool has_merge = merge && TypeOf(*merge) != JsonType::kNull;
        if (has_patch == has_merge) {
          return Invalid("memory_patch needs exactly one of \"patch\" (a JSON Patch array) and \"merge\"");
        }
        if (has_patch && TypeOf(*patch) != JsonType::kArray) return Invalid("\"patch\" must be an array");
        inner.method = "PATCH";
        inner.body = has_patch ? *patch : *merge;
        patch_type = has_patch ? "application/json-patch+json" : "application/merge-patch+json";
        inner.content_type = patch_type;
        if (guard) AddQuery(&target, "if_match_version", *guard);
        if (ttl) AddQuery(&target, "ttl_seconds", *ttl);
        break;
      }
      case Tool::kUnknown:
        break;
    }
    inner.target = target;
    HandlerResult r = run(inner);
    if (r.stream || r.wait || r.watch) {  // not reachable: every listing has a limit
      return {kInvalidParams, "internal: the request did not answer at once", {}};
    }
    const bool is_error = r.response.status >= 400;
    const std::string object =
        tool == Tool::kList && !is_error ? ListObject(r.response) : r.response.body;
    return {0, {}, ToolResult(object, is_error, Structured(version))};
  };

  // One answer per request, in order; notifications and responses get none.
  std::vector<std::string> answers;
  auto answer_bytes = [&answers] {
    size_t n = 0;
    for (const std::string& a : answers) n += a.size();
    return n;
  };
  for (const Message& msg : body.messages) {
    // A batch's answer is built whole: past kMaxBatchAnswerBytes the
    // remaining requests are not run (each list page is bounded by
    // Handler::kPageBytes, so one request adds a few MiB at most).
    if (msg.kind == Message::Kind::kRequest && answer_bytes() >= kMaxBatchAnswerBytes) {
      answers.push_back(RpcError(msg.id, kAnswerTooLarge,
                                 "not run: this batch's answer passed 16 MiB; send the rest again"));
      continue;
    }
    switch (msg.kind) {
      case Message::Kind::kInvalid:
        answers.push_back(RpcError(msg.id, kInvalidRequest, msg.error));
        continue;
      case Message::Kind::kResponse:
      case Message::Kind::kNotification:
        continue;  // notifications/initialized, cancellations, replies: nothing to say
      case Message::Kind::kRequest:
        break;
    }
    const bool object_params = msg.params.empty() || TypeOf(msg.params) == JsonType::kObject;
    if (msg.method == "initialize") {
      std::optional<std::string> asked;
      if (object_params && !msg.params.empty()) {
        if (const auto v = Find(MembersOf(msg.params), "protocolVersion"); v && TypeOf(*v) == JsonType::kString) {
          asked = StringOf(*v);
        }
      }
      if (!asked) {
        answers.push_back(RpcError(msg.id, kInvalidParams, "initialize needs params.protocolVersion (a string)"));
        continue;
      }
      // The client's version if served, else the newest: the client
      // decides whether it can speak that.
      const std::string_view chosen = SupportedVersion(*asked) ? std::string_view(*asked) : kNewestVersion;
      rapidjson::StringBuffer sb;
      json::Writer w(sb);
      w.StartObject();
      w.Key("protocolVersion");
      json::Str(w, chosen);
      w.Key("capabilities");
      w.StartObject();
      w.Key("tools");
      w.StartObject();
      w.Key("listChanged");
      w.Bool(false);
      w.EndObject();
      w.EndObject();
      w.Key("serverInfo");
      w.StartObject();
      w.Key("name");
      w.String("casmem");
      w.Key("version");
      w.String(kServerVersion);
      w.EndObject();
      w.Key("instructions");
      w.String(kInstructions);
      w.EndObject();
      answers.push_back(RpcResult(msg.id, json::Done(sb)));
    } else if (msg.method == "ping") {
      answers.push_back(RpcResult(msg.id, "{}"));
    } else if (msg.method == "tools/list") {
      answers.push_back(RpcResult(msg.id, ToolsListResult(version)));
    } else if (msg.method == "tools/call") {
      const CallOutcome c = call_tool(msg.params);
      answers.push_back(c.code == 0 ? RpcResult(msg.id, c.result) : RpcError(msg.id, c.code, c.message));
    } else {
      answers.push_back(RpcError(msg.id, kMethodNotFound,
                                 "method not found; this server offers initialize, ping, tools/list, tools/call"));
    }
  }

  if (answers.empty()) {
    out.response.status = 202;  // accepted, nothing to answer
    return out;
  }
  std::string text;
  if (body.batch) {
    text = "[";
    for (size_t i = 0; i < answers.size(); ++i) text += (i ? "," : "") + answers[i];
    text += "]";
  } else {
    text = std::move(answers.front());
  }
  const bool invalid = !body.batch && body.messages.front().kind == Message::Kind::kInvalid;
  out.response = Json(invalid ? 400 : 200, std::move(text));
  return out;
}

}  // namespace casmem::net
