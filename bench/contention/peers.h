// Builds the driver for a --target URL: casmem://, redis://, etcd://,
// postgres://. Peers that are not built in say so.
#pragma once

#include <memory>
#include <string>

#include "bench/contention/driver.h"

namespace casmem::bench {

std::unique_ptr<Driver> MakeDriver(const std::string& target, const std::string& workspace,
                                   std::string* error);

}  // namespace casmem::bench
