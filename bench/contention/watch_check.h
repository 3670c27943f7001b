// The watch workload's verdict and delivery latency, computed after the
// run from what the writers and each watcher recorded (nothing here runs
// while the benchmark does, so the accounting costs the measurement
// nothing).
//
// Each acknowledged write is an Ack: its revision (from the 200 / put
// response) and when the writer received that response. Each watcher
// records its Deliveries in the order it received them: a revision (the
// event's `id:`, one per transaction) and when the bytes carrying it were
// read. A correct feed delivers, to every watcher, each expected ack's
// revision exactly once, in increasing order, and no other revision.
//
// Latency = delivery time - ack time, both on the bench's steady clock.
// An event can legitimately arrive before the writer has read its 200 (the
// server sends both once the write is durable); such a negative latency
// counts as 0 and is counted in `early`.
#pragma once

#include <cstdint>
#include <vector>

namespace casmem::bench {

struct Ack {
  uint64_t revision = 0;
  uint64_t ack_ns = 0;
  bool expected = true;   // the key is under the watched prefix
  bool measured = true;   // acknowledged inside the measured window: latency counted
};

struct Delivery {
  uint64_t revision = 0;
  uint64_t recv_ns = 0;
};

struct WatcherVerdict {
  uint64_t received = 0;      // deliveries
  uint64_t missing = 0;       // expected acks never delivered
  uint64_t duplicated = 0;    // deliveries of a revision already delivered
  uint64_t out_of_order = 0;  // deliveries of a new revision lower than an earlier one
  uint64_t unacked = 0;       // deliveries of a revision no expected write was acknowledged with
  uint64_t early = 0;         // deliveries before the writer's ack (latency counted as 0)
  bool clean() const { return missing == 0 && duplicated == 0 && out_of_order == 0 && unacked == 0; }
};

// `acks` sorted by revision, revisions unique. Appends the latency of each
// delivery of a measured ack, in units of 100 ns (saturating), to
// `latencies`.
WatcherVerdict CheckWatcher(const std::vector<Ack>& acks, const std::vector<Delivery>& seen,
                            std::vector<uint32_t>* latencies);

// Sorts `acks` by revision; returns how many revisions appeared twice
// (two acknowledged writes with one revision: a server bug) and drops the
// repeats.
uint64_t SortAcks(std::vector<Ack>* acks);

// The q-quantile (0..1) of `v` in milliseconds (v in 100 ns units);
// reorders v. 0 when empty.
double QuantileMs(std::vector<uint32_t>& v, double q);

}  // namespace casmem::bench
