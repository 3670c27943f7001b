// The tool definitions of the MCP endpoint (mcp_tools.h). The schemas say
// what mcp_handler.cc enforces (types: -32602) and what the memory API
// enforces after it (values: a tool error with the API's 400 body).
#include "net/mcp_tools.h"

#include <vector>

namespace casmem::net::mcp {
namespace {

// The pieces the tools share. `value` is any JSON value: an empty schema.
constexpr const char* kKey =
    R"("key":{"type":"string","minLength":1,"description":"The key: 1-1024 bytes of UTF-8, no NUL. Any text; '/' and ':' are ordinary characters (e.g. \"tasks:42\")."})";
constexpr const char* kGuard =
    R"("if_match_version":{"type":"integer","minimum":0,"description":"Compare-and-set guard: apply only if the key is at this version (the `version` memory_get returned). 0 = only if the key does not exist. On a mismatch the result is an error carrying current_version and current_value: redo your change on current_value and retry with if_match_version = current_version. Omit to write unconditionally (last write wins)."})";
constexpr const char* kTtl =
    R"("ttl_seconds":{"type":"integer","minimum":1,"maximum":315360000,"description":"Expire the key this many seconds after this write."})";
constexpr const char* kEntryProps =
    R"("key":{"type":"string"},"value":{"description":"The stored JSON value."},"version":{"type":"integer"},"revision":{"type":"integer"},"updated_at":{"type":"string"},"expires_at":{"type":"string"},"writer":{"type":"string"})";

std::string Annotations(const char* title, bool read_only, bool destructive, bool idempotent) {
  std::string a = std::string(R"("annotations":{"title":")") + title + "\"";
  a += std::string(R"(,"readOnlyHint":)") + (read_only ? "true" : "false");
  if (!read_only) {
    a += std::string(R"(,"destructiveHint":)") + (destructive ? "true" : "false");
    a += std::string(R"(,"idempotentHint":)") + (idempotent ? "true" : "false");
  }
  a += R"(,"openWorldHint":false})";
  return a;
}

struct Def {
  const char* name;
  const char* title;
  const char* description;
  std::string input;   // the inputSchema object
  std::string output;  // the outputSchema object
  bool read_only, destructive, idempotent;
};

std::string Object(const std::string& props, const char* required) {
  return std::string(R"({"type":"object","properties":{)") + props + "}" +
         (required[0] ? std::string(R"(,"required":[)") + required + "]" : std::string()) + "}";
}

std::vector<Def> Defs() {
  const std::string s = ",";
  const std::string write_ok = Object(
      R"("status":{"type":"string"},"key":{"type":"string"},"version":{"type":"integer","description":"The key's new version: pass it as if_match_version to your next write."},"revision":{"type":"integer"})",
      R"("status","key","version")");
  return {
      {"memory_get", "Read a key",
       "Read one key of the shared memory. Returns the entry {key, value, version, revision, updated_at, "
       "expires_at?, writer?}. Keep `version` and pass it as if_match_version when you write the key "
       "back, so that your write cannot silently overwrite another agent's change. A key that does not "
       "exist is an error result {\"error\":\"key not found\"}.",
       Object(kKey, R"("key")"), Object(kEntryProps, R"("key","value","version")"), true, false, true},
      {"memory_set", "Write a key",
       "Create or replace a key's value (any JSON value). With if_match_version the write applies only "
       "if the key is still at that version (0: only if it does not exist); otherwise the result is an "
       "error {\"error\":\"if_match_version mismatch\", current_version, current_value, "
       "current_writer?}: apply your change to current_value and call memory_set again with "
       "if_match_version = current_version. Returns {status, key, version, revision}. A write without "
       "ttl_seconds clears any TTL.",
       Object(std::string(kKey) + s + R"("value":{"description":"The new value: any JSON value (object, array, string, number, boolean or null)."})" + s + kGuard + s + kTtl,
              R"("key","value")"),
       write_ok, false, true, false},
      {"memory_list", "List keys",
       "List the live entries of the shared memory in key order, a page at a time. Returns {entries: "
       "[entry...], next_after?, revision}; when next_after is present more entries remain: call again "
       "with after = next_after (and the same prefix).",
       Object(R"("prefix":{"type":"string","description":"Only keys starting with this text."},"after":{"type":"string","description":"Only keys after this one (the next_after of the previous page)."},"limit":{"type":"integer","minimum":1,"maximum":1000,"default":100,"description":"At most this many entries (1-1000, default 100)."})",
              ""),
       Object(std::string(R"("entries":{"type":"array","items":)") + Object(kEntryProps, R"("key","value","version")") +
                  R"(},"next_after":{"type":"string"},"revision":{"type":"integer"})",
              R"("entries")"),
       true, false, true},
      {"memory_delete", "Delete a key",
       "Delete a key (succeeds whether or not it existed). With if_match_version the delete applies only "
       "at that version, else an error result with current_version and current_value. Returns "
       "{status: \"deleted\", revision?} (revision only when a live key was deleted).",
       Object(std::string(kKey) + s + kGuard, R"("key")"),
       Object(R"("status":{"type":"string"},"revision":{"type":"integer"})", R"("status")"), false, true,
       true},
      {"memory_patch", "Change part of a key",
       "Change a key's value in place, atomically, without reading it first: give either `merge` (a JSON "
       "Merge Patch, RFC 7396: an object whose members replace those of the value, null removes one) or "
       "`patch` (a JSON Patch, RFC 6902: an array of {op, path, value?, from?} with op add, remove, "
       "replace, move, copy, test, or casmem's increment {\"op\":\"increment\",\"path\":\"/count\",\"value\":1}). "
       "Agents patching one key concurrently never conflict unless they pass if_match_version. A missing "
       "key is the document null (a merge creates it). A failed test or missing path is an error result "
       "with current_version and current_value. Keeps the key's TTL unless ttl_seconds is given. Returns "
       "{status, key, version, revision, value} with the new value.",
       Object(std::string(kKey) + s +
                  R"("patch":{"type":"array","items":{"type":"object"},"description":"A JSON Patch (RFC 6902) array of operations."},"merge":{"description":"A JSON Merge Patch (RFC 7396), usually an object."})" +
                  s + kGuard + s + kTtl,
              R"("key")"),
       Object(R"("status":{"type":"string"},"key":{"type":"string"},"version":{"type":"integer"},"revision":{"type":"integer"},"value":{"description":"The new value."})",
              R"("status","key","version","value")"),
       false, false, false},
  };
}

std::string Render(bool structured) {
  std::string out = R"({"tools":[)";
  bool first = true;
  for (const Def& d : Defs()) {
    if (!first) out += ',';
    first = false;
    out += std::string(R"({"name":")") + d.name + "\"";
    if (structured) out += std::string(R"(,"title":")") + d.title + "\"";
    out += R"(,"description":)";
    // Descriptions are ASCII with only \" to escape, written escaped above.
    out += '"';
    for (const char* p = d.description; *p; ++p) {
      if (*p == '"' || *p == '\\') out += '\\';
      out += *p;
    }
    out += '"';
    out += R"(,"inputSchema":)" + d.input;
    if (structured) out += R"(,"outputSchema":)" + d.output;
    out += "," + Annotations(d.title, d.read_only, d.destructive, d.idempotent);
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace

const char* const kInstructions =
    "casmem is a key/value memory shared by several agents at once. Read a key with memory_get and keep "
    "its version. When you write a key that others may write too, pass if_match_version (the version "
    "you read; 0 to create a key only if it does not exist): if another agent wrote it first, the tool "
    "returns an error result with current_version and current_value: apply your change to "
    "current_value and retry with if_match_version = current_version, without reading again. "
    "memory_patch (merge, or JSON Patch ops such as increment) changes part of a value atomically with "
    "no retry loop. memory_list pages through keys (pass next_after as after).";

bool SupportedVersion(std::string_view v) { return v == kVersion20250326 || v == kVersion20250618; }

Tool ToolNamed(std::string_view name) {
  if (name == "memory_get") return Tool::kGet;
  if (name == "memory_set") return Tool::kSet;
  if (name == "memory_list") return Tool::kList;
  if (name == "memory_delete") return Tool::kDelete;
  if (name == "memory_patch") return Tool::kPatch;
  return Tool::kUnknown;
}

bool Writes(Tool t) { return t == Tool::kSet || t == Tool::kDelete || t == Tool::kPatch; }

const std::string& ToolsListResult(std::string_view version) {
  static const std::string plain = Render(false);
  static const std::string structured = Render(true);
  return Structured(version) ? structured : plain;
}

}  // namespace casmem::net::mcp
