// The MCP endpoint's tools (memory-api.md §10): their names, what each
// argument must be, and the tools/list result a model reads (descriptions,
// JSON Schema of inputs and, from protocol 2025-06-18, of outputs).
#pragma once

#include <string>
#include <string_view>

namespace casmem::net::mcp {

// The protocol versions served, oldest first; an absent
// MCP-Protocol-Version header means the first (the transport spec's rule).
inline constexpr std::string_view kVersion20250326 = "2025-03-26";
inline constexpr std::string_view kVersion20250618 = "2025-06-18";
inline constexpr std::string_view kNewestVersion = kVersion20250618;
bool SupportedVersion(std::string_view v);
// 2025-06-18 and later: outputSchema in tools/list, structuredContent in
// tool results, titles; no batches.
inline bool Structured(std::string_view version) { return version == kVersion20250618; }

// memory_list pages: without `limit` this many entries, and never more.
inline constexpr int kListDefaultLimit = 100;
inline constexpr int kListMaxLimit = 1000;

enum class Tool { kGet, kSet, kList, kDelete, kPatch, kUnknown };
Tool ToolNamed(std::string_view name);
// Whether the tool writes (needs the write role).
bool Writes(Tool t);

// The `result` of tools/list for a protocol version: {"tools":[...]}.
const std::string& ToolsListResult(std::string_view version);

// The `instructions` of initialize: how a model uses the tools safely.
extern const char* const kInstructions;

}  // namespace casmem::net::mcp
