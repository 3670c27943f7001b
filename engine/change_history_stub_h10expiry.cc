// TEMPORARY (branch h10-expiry only): the destructor of ChangeHistory, so
// that engine_test links before the h10-history branch brings
// engine/change_history.cc. The lead drops this file at merge.
#include "engine/change_history.h"

namespace casmem {

struct ChangeHistory::SegmentCache {};
ChangeHistory::~ChangeHistory() = default;

}  // namespace casmem
