// casmem-bench's command line: ParseBenchArgs turns argv (and the
// CASMEM_TOKEN environment variable) into BenchOptions, or an error text
// for the usage message. Kept out of main.cc so tests can call it.
//
// The token is never part of an error text.
#pragma once

#include <optional>
#include <string>

#include "bench/contention/client_security.h"
#include "bench/contention/runner.h"
#include "bench/contention/watch_runner.h"

namespace casmem::bench {

extern const char kUsage[];

struct BenchOptions {
  RunConfig cfg;
  WatchConfig wcfg;
  bool keys_given = false;
  std::string target = "casmem://127.0.0.1:7070";
  std::string workspace = "bench";
  std::string format = "table";  // table | json | csv
  bool header = true;
  bool help = false;
  ClientOptions client;  // token (--token, else CASMEM_TOKEN), --cacert, --insecure
};

// `env_token`: CASMEM_TOKEN's value, nullptr when unset. Checks the
// options against each other and the target's scheme (not the workload's
// limits: main does that). false with *error on a usage error.
bool ParseBenchArgs(int argc, const char* const* argv, const char* env_token, BenchOptions* o, std::string* error);

}  // namespace casmem::bench
