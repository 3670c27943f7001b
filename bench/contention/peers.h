// Builds the driver for a --target URL: casmem://, redis://, etcd://,
// postgres://. Peers that are not built in say so.
#pragma once

#include <memory>
#include <string>

#include "bench/contention/driver.h"
#include "bench/contention/watch_target.h"

namespace casmem::bench {

std::unique_ptr<Driver> MakeDriver(const std::string& target, const std::string& workspace,
                                   std::string* error);
// The watch workload's side of a casmem:// or etcd:// target.
std::unique_ptr<WatchTarget> MakeWatchTarget(const std::string& target, const std::string& workspace,
                                             std::string* error);

}  // namespace casmem::bench
