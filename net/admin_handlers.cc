// The /admin/tokens resource (memory-api.md §9), for admin tokens:
//   POST   /admin/tokens          {"name","workspace","role"} -> 201, the secret shown once
//   GET    /admin/tokens          every token, by name (never a secret)
//   GET    /admin/tokens/{name}   one token
//   DELETE /admin/tokens/{name}   revoke: refused from now on, on every connection
// The secret's answer waits, like any write's, until the token is durable.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/access_control.h"
#include "net/handler.h"
#include "net/handler_internal.h"
#include "net/json_out.h"
#include "net/token_json.h"
#include "net/write_headers.h"

namespace casmem::net {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// A store outcome that is not the resource's own answer.
HttpResponse StoreFailure(Outcome o, const std::string& error) {
  switch (o) {
    case Outcome::kInvalid: return Handler::Error(400, error);
    case Outcome::kConflict: return Handler::Error(409, error);
    case Outcome::kNotFound: return Handler::Error(404, error);
    case Outcome::kBusy: {
      HttpResponse r = Handler::Error(503, error);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    default: return Handler::Error(503, error.empty() ? "storage unavailable" : error);
  }
}

// {"name","workspace","role"}: all three strings, nothing else.
bool ParseCreate(std::string_view body, std::string* name, std::string* ws, std::string* role,
                 std::string* error) {
  // A raw NUL is never JSON, and RapidJSON would take it for the end of
  // the input: `{"a":1}` NUL `garbage` would pass as `{"a":1}`.
  if (body.find('\0') != std::string_view::npos) {
    *error = "body is not valid JSON: it holds a NUL byte";
    return false;
  }
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (d.HasParseError()) {
    *error = std::string("body is not valid JSON: ") + rapidjson::GetParseError_En(d.GetParseError());
    return false;
  }
  if (!d.IsObject()) {
    *error = "body must be a JSON object {\"name\",\"workspace\",\"role\"}";
    return false;
  }
  bool has_name = false, has_ws = false, has_role = false;
  // (By index: clang warns that comparing RapidJSON 1.1's member
  // iterators is ambiguous in C++20.)
  for (rapidjson::SizeType i = 0; i < d.MemberCount(); ++i) {
    const auto it = d.MemberBegin() + i;
    const std::string_view k(it->name.GetString(), it->name.GetStringLength());
    std::string* slot = k == "name" ? name : k == "workspace" ? ws : k == "role" ? role : nullptr;
    bool* seen = k == "name" ? &has_name : k == "workspace" ? &has_ws : k == "role" ? &has_role : nullptr;
    if (slot == nullptr) {
      // Named only when it is short printable ASCII: an error never echoes
      // bytes that would not be valid in a JSON string.
      bool plain = k.size() <= 64;
      for (char c : k) plain = plain && c >= 0x20 && c < 0x7f;
      *error = (plain ? "unknown field \"" + std::string(k) + "\"" : std::string("unknown field")) +
               " (expected name, workspace, role)";
      return false;
    }
    if (*seen) {
      *error = "field \"" + std::string(k) + "\" given twice";
      return false;
    }
    if (!it->value.IsString()) {
      *error = "field \"" + std::string(k) + "\" must be a string";
      return false;
    }
    *seen = true;
    slot->assign(it->value.GetString(), it->value.GetStringLength());
  }
  if (!has_name || !has_ws || !has_role) {
    *error = std::string("missing field \"") + (!has_name ? "name" : !has_ws ? "workspace" : "role") + "\"";
    return false;
  }
  return true;
}

}  // namespace

HandlerResult Handler::AdminTokens(const std::vector<std::string>& seg, const HttpRequest& req,
                                   std::string_view by) {
  if (access_ == nullptr) return ResultOf(Error(404, "no such endpoint (this server has no access control)"));
  TokenRegistry& tokens = access_->tokens();
  if (seg.size() > 3) return ResultOf(Error(404, "no such endpoint"));
  if (seg.size() == 2) {
    if (req.method == "GET") {
      return ResultOf(Json(200, TokensJson(tokens.List())));
    }
    if (req.method != "POST") return MethodNotAllowed("GET, POST");
    // JSON only: a form or text/plain POST (what a web page may send
    // without a CORS preflight) never makes a token.
    if (MediaType(req.content_type) != "application/json") {
      HttpResponse r = Error(415, "POST /admin/tokens needs Content-Type: application/json");
      r.headers.emplace_back("Accept-Post", "application/json");
      return ResultOf(std::move(r));
    }
    std::string name, ws, role, error;
    if (!ParseCreate(req.body, &name, &ws, &role, &error)) return ResultOf(Error(400, error));
    TokenRegistry::Created c = tokens.Create(name, ws, role, by);
    if (c.outcome != Outcome::kOk) return ResultOf(StoreFailure(c.outcome, c.error));
    HandlerResult r = ResultOf(Json(201, TokenJson(*c.token, &c.secret)));
    r.response.headers.emplace_back("Location", "/admin/tokens/" + c.token->name);
    r.response.headers.emplace_back("Cache-Control", "no-store");
    r.visible_lsn = c.visible_lsn;
    r.is_write = true;
    return r;
  }
  const std::string& name = seg[2];
  if (TokenNameProblem(name) != nullptr) {
    // Not a name a token can have (and not echoed: it may be any bytes).
    if (req.method != "GET" && req.method != "DELETE") return MethodNotAllowed("GET, DELETE");
    return ResultOf(Error(404, "no such token"));
  }
  if (req.method == "GET") {
    auto t = tokens.Get(name);
    if (!t) return ResultOf(Error(404, "no token named '" + name + "'"));
    return ResultOf(Json(200, TokenJson(*t)));
  }
  if (req.method != "DELETE") return MethodNotAllowed("GET, DELETE");
  TokenRegistry::Revoked rv = tokens.Revoke(name, by, /*keep_last_admin=*/true);
  if (rv.outcome != Outcome::kOk) {
    if (rv.outcome == Outcome::kNotFound) {
      return ResultOf(Error(404, "no token named '" + name + "'"));
    }
    return ResultOf(StoreFailure(rv.outcome, rv.error));
  }
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("name");
  w.String(rv.token->name.data(), static_cast<rapidjson::SizeType>(rv.token->name.size()));
  w.Key("revoked");
  w.Bool(true);
  w.EndObject();
  HandlerResult r = ResultOf(Json(200, std::string(sb.GetString(), sb.GetSize())));
  r.visible_lsn = rv.visible_lsn;
  r.is_write = true;
  return r;
}

}  // namespace casmem::net
