// JSON response bodies of the memory API, compact, built with RapidJSON's
// writer. Stored values are inserted verbatim (they are compact JSON
// already), so numbers keep their digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/store.h"

namespace casmem::net {

// RFC 3339, UTC, millisecond precision: "2026-11-28T10:15:30.123Z".
std::string FormatTimestamp(int64_t ms);

std::string ErrorJson(std::string_view message);
std::string EntryJson(const Entry& e);
// Appends `e` to a list body being built ("[" and "," are the caller's).
void AppendEntryJson(const Entry& e, std::string* out);
std::string WriteOkJson(std::string_view key, uint64_t version);
std::string ConflictJson(std::optional<uint64_t> expected,
                         const std::optional<uint64_t>& current_version,
                         const std::optional<std::string>& current_value);

}  // namespace casmem::net
