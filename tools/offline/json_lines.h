// The dump format: one JSON object per line per key, written by `dump`
// and read back by `restore` (docs/tools.md "Offline commands"):
//   {"workspace","key","value","version","revision","updated_at",
//    "expires_at"?,"writer"?}                          a live key
//   {"workspace","key","version","revision","updated_at","tombstone":true,
//    "expired"?:true}                                  a deleted / expired key
// Times are RFC 3339 UTC with milliseconds, as the API writes them
// (common/rfc3339.h; read back with any offset).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tools/offline/key_table.h"

namespace casmem::offline {

// Appends one line (with its newline). `as_tombstone`: written as a
// tombstone even though the state is live (a key past its TTL).
void AppendDumpLine(std::string_view workspace, std::string_view key, const KeyState& state,
                    bool as_tombstone, std::string* out);

// One parsed line, views into the caller's strings.
struct DumpLine {
  std::string workspace, key, value, writer;  // value: compact JSON, empty for a tombstone
  uint64_t version = 0;
  int64_t updated_at_ms = 0;
  int64_t expires_at_ms = 0;
  bool tombstone = false;
};

// Parses and validates one line (names, version, times, value). False
// with *error saying why.
bool ParseDumpLine(std::string_view line, DumpLine* out, std::string* error);

}  // namespace casmem::offline
