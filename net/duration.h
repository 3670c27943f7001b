// Durations as the API writes them (memory-api.md §3), in options and in
// query parameters: an integer with a unit, `ms`, `s`, `m` or `h`
// ("300ms", "5s", "24h"); a bare integer is seconds.
#pragma once

#include <chrono>
#include <string_view>

namespace casmem::net {

// False for anything else, and beyond about 292 years.
bool ParseDuration(std::string_view s, std::chrono::milliseconds* out);

}  // namespace casmem::net
