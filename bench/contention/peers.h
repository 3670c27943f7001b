// Builds the driver for a --target URL: casmem:// (or http://), https://
// (or casmems://), redis://, etcd://, postgres://. Peers that are not built
// in say so. `client` (token, TLS verification) applies to casmem targets.
#pragma once

#include <memory>
#include <string>

#include "bench/contention/client_security.h"
#include "bench/contention/driver.h"
#include "bench/contention/watch_target.h"

namespace casmem::bench {

std::unique_ptr<Driver> MakeDriver(const std::string& target, const std::string& workspace,
                                   std::string* error, const ClientOptions& client = {});
// The watch workload's side of a casmem (plain or TLS) or etcd:// target.
std::unique_ptr<WatchTarget> MakeWatchTarget(const std::string& target, const std::string& workspace,
                                             std::string* error, const ClientOptions& client = {});

}  // namespace casmem::bench
