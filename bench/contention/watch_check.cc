// Watch accounting: per-watcher exactly-once / order check and latency.
#include "bench/contention/watch_check.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace casmem::bench {

uint64_t SortAcks(std::vector<Ack>* acks) {
  std::sort(acks->begin(), acks->end(), [](const Ack& a, const Ack& b) { return a.revision < b.revision; });
  const auto end = std::unique(acks->begin(), acks->end(),
                               [](const Ack& a, const Ack& b) { return a.revision == b.revision; });
  const auto repeats = static_cast<uint64_t>(acks->end() - end);
  acks->erase(end, acks->end());
  return repeats;
}

WatcherVerdict CheckWatcher(const std::vector<Ack>& acks, const std::vector<Delivery>& seen,
                            std::vector<uint32_t>* latencies) {
  WatcherVerdict v;
  std::vector<bool> got(acks.size(), false);
  std::unordered_set<uint64_t> other;  // unacked revisions delivered (for duplicates of them)
  uint64_t highest = 0;
  size_t cursor = 0;  // where the last delivery was found: feeds are mostly in order
  for (const Delivery& d : seen) {
    ++v.received;
    size_t at;
    if (cursor < acks.size() && acks[cursor].revision == d.revision) {
      at = cursor;
    } else if (cursor + 1 < acks.size() && acks[cursor + 1].revision == d.revision) {
      at = cursor + 1;
    } else {
      auto it = std::lower_bound(acks.begin(), acks.end(), d.revision,
                                 [](const Ack& a, uint64_t r) { return a.revision < r; });
      at = it != acks.end() && it->revision == d.revision ? static_cast<size_t>(it - acks.begin()) : acks.size();
    }
    const bool known = at < acks.size() && acks[at].expected;
    const bool repeat = known ? got[at] : !other.insert(d.revision).second;
    if (repeat) {
      ++v.duplicated;
      continue;
    }
    if (d.revision < highest) ++v.out_of_order;
    highest = std::max(highest, d.revision);
    if (!known) {
      ++v.unacked;
      continue;
    }
    cursor = at;
    got[at] = true;
    const Ack& a = acks[at];
    uint64_t lat = 0;
    if (d.recv_ns < a.ack_ns) ++v.early;
    else lat = (d.recv_ns - a.ack_ns) / 100;
    if (a.measured && latencies) {
      latencies->push_back(static_cast<uint32_t>(std::min<uint64_t>(lat, std::numeric_limits<uint32_t>::max())));
    }
  }
  for (size_t i = 0; i < acks.size(); ++i) {
    if (acks[i].expected && !got[i]) ++v.missing;
  }
  return v;
}

double QuantileMs(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return static_cast<double>(v[i]) / 1e4;
}

}  // namespace casmem::bench
