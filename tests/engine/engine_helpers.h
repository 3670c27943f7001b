// Helpers for engine tests: store factories on memory or MemFs, and short
// forms of the operations.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/store.h"
#include "tests/support/mem_fs.h"

namespace casmem {

inline constexpr int64_t kT0 = 1'800'000'000'000;  // 2027-01-15, a fixed wall clock

inline StoreOptions MemoryOptions(Clock* clock, uint32_t shards = 64) {
  StoreOptions o;
  o.shards = shards;
  o.clock = clock;
  o.sweep_interval = std::chrono::milliseconds(0);
  return o;
}

inline StoreOptions DurableOptions(testing::MemFs* fs, Clock* clock) {
  StoreOptions o = MemoryOptions(clock, 8);
  o.data_dir = "/data";
  o.fs = fs;
  o.wal_segment_bytes = 64 * 1024;
  return o;
}

inline std::unique_ptr<Store> MustOpen(const StoreOptions& o) {
  std::unique_ptr<Store> s;
  Status st = Store::Open(o, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

inline WriteResult Put(Store& s, std::string_view key, std::string_view value,
                       std::optional<uint64_t> if_match = std::nullopt, int64_t ttl_ms = 0,
                       std::string_view ws = "ws") {
  PutRequest r;
  r.workspace = ws;
  r.key = key;
  r.value = value;
  r.if_match_version = if_match;
  r.ttl_ms = ttl_ms;
  WriteResult res = s.Put(r);
  if (res.outcome == Outcome::kOk) {
    EXPECT_TRUE(s.WaitVisible(res.visible_lsn).ok());
  }
  return res;
}

}  // namespace casmem
