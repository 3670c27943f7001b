// Connection's defaults shared by every driver (driver.h). Out of line:
// GCC 12 at -O1 reports a false -Warray-bounds for the string built here
// once it is inlined into a test's Connection subclass.
#include "bench/contention/driver.h"

namespace casmem::bench {

WriteResult Connection::Unsupported(const char* workload) {
  return WriteError(std::string("this driver has no ") + workload + " workload");
}

}  // namespace casmem::bench
