// RFC 3339 times as the API writes and reads them: milliseconds since the
// Unix epoch <-> "2026-11-28T10:15:30.123Z". The one formatter and the one
// parser of the API's answers, /admin/import, `casmem dump`/`restore` and
// `casmem import-pg`, so that what one writes the others read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace casmem {

// UTC with milliseconds, always "Z": "2026-11-28T10:15:30.123Z".
std::string FormatRfc3339(int64_t ms);

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), "t" and "z" also in
// lower case, a fraction of 1-9 digits (truncated to milliseconds), a
// real calendar date (no February 30), seconds up to 60 (a leap second
// counts as the next second's first). False when `s` is anything else.
bool ParseRfc3339(std::string_view s, int64_t* ms);

}  // namespace casmem
