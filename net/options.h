// casmemd's command line: every option with its default and help text,
// parsed into the store's and the server's option structs.
#pragma once

#include <string>
#include <vector>

#include "engine/store.h"
#include "net/server.h"
#include "common/logger.h"

namespace casmem::net {

// A request body may exceed --max-value-bytes by this much (the other
// fields, whitespace, escapes the compact value loses); past it, 413.
inline constexpr uint64_t kBodyOverheadBytes = 64 << 10;

struct DaemonOptions {
  StoreOptions store;
  ServerOptions server;
  LogLevel log_level = LogLevel::kInfo;
  bool help = false;
};

// Defaults: --listen 127.0.0.1:7070, --data-dir ./data, and the rest as in
// UsageText(). Returns false with a one-line *error on bad input.
bool ParseOptions(const std::vector<std::string>& args, DaemonOptions* out, std::string* error);
std::string UsageText();

}  // namespace casmem::net
