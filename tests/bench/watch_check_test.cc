// CheckWatcher: the exactly-once, in-order verdict and the latency of a
// watcher's deliveries against the writers' acknowledgements.
#include "bench/contention/watch_check.h"

#include <gtest/gtest.h>

namespace casmem::bench {
namespace {

std::vector<Ack> Acks(std::initializer_list<uint64_t> revs) {
  std::vector<Ack> out;
  for (uint64_t r : revs) out.push_back({r, r * 1000, true, true});
  return out;
}

TEST(WatchCheck, EveryAckOnceInOrderIsClean) {
  const auto acks = Acks({3, 5, 9});
  std::vector<uint32_t> lat;
  const auto v = CheckWatcher(acks, {{3, 3500}, {5, 5000}, {9, 9100}}, &lat);
  EXPECT_TRUE(v.clean());
  EXPECT_EQ(v.received, 3u);
  EXPECT_EQ(v.early, 0u);
  ASSERT_EQ(lat.size(), 3u);
  EXPECT_EQ(lat[0], 5u);  // 500 ns in 100 ns units
  EXPECT_EQ(lat[1], 0u);
  EXPECT_EQ(lat[2], 1u);
}

TEST(WatchCheck, MissingDuplicatedOutOfOrderUnacked) {
  const auto acks = Acks({1, 2, 3, 4});
  auto v = CheckWatcher(acks, {{1, 2000}, {3, 4000}, {4, 5000}}, nullptr);
  EXPECT_EQ(v.missing, 1u);
  EXPECT_FALSE(v.clean());
  v = CheckWatcher(acks, {{1, 2000}, {2, 3000}, {2, 3000}, {3, 4000}, {4, 5000}}, nullptr);
  EXPECT_EQ(v.duplicated, 1u);
  EXPECT_EQ(v.missing, 0u);
  EXPECT_EQ(v.out_of_order, 0u);
  v = CheckWatcher(acks, {{1, 2000}, {3, 4000}, {2, 4000}, {4, 5000}}, nullptr);
  EXPECT_EQ(v.out_of_order, 1u);
  EXPECT_EQ(v.duplicated, 0u);
  EXPECT_EQ(v.missing, 0u);
  v = CheckWatcher(acks, {{1, 2000}, {2, 3000}, {3, 4000}, {4, 5000}, {7, 6000}, {7, 6000}}, nullptr);
  EXPECT_EQ(v.unacked, 1u);
  EXPECT_EQ(v.duplicated, 1u);  // a repeat of an unacknowledged revision is still a repeat
}

TEST(WatchCheck, EarlyDeliveriesCountAsZeroAndAreCounted) {
  const auto acks = Acks({10});
  std::vector<uint32_t> lat;
  const auto v = CheckWatcher(acks, {{10, 9000}}, &lat);  // before the ack at 10000
  EXPECT_TRUE(v.clean());
  EXPECT_EQ(v.early, 1u);
  ASSERT_EQ(lat.size(), 1u);
  EXPECT_EQ(lat[0], 0u);
}

TEST(WatchCheck, UnexpectedAndUnmeasuredAcks) {
  std::vector<Ack> acks = Acks({1, 2, 3});
  acks[1].expected = false;  // a key outside the watched prefix: must not be delivered
  acks[2].measured = false;  // warm-up: checked, no latency
  std::vector<uint32_t> lat;
  auto v = CheckWatcher(acks, {{1, 1000}, {3, 3000}}, &lat);
  EXPECT_TRUE(v.clean());
  EXPECT_EQ(lat.size(), 1u);
  v = CheckWatcher(acks, {{1, 1000}, {2, 2000}, {3, 3000}}, nullptr);
  EXPECT_EQ(v.unacked, 1u);
}

TEST(WatchCheck, SortAcksDropsAndCountsRepeats) {
  std::vector<Ack> acks = Acks({5, 2, 5, 9});
  EXPECT_EQ(SortAcks(&acks), 1u);
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[0].revision, 2u);
  EXPECT_EQ(acks[2].revision, 9u);
}

TEST(WatchCheck, Quantiles) {
  std::vector<uint32_t> v;
  for (uint32_t i = 1; i <= 100; ++i) v.push_back(i * 10);  // 0.001 .. 0.1 ms
  EXPECT_DOUBLE_EQ(QuantileMs(v, 1.0), 0.1);
  EXPECT_DOUBLE_EQ(QuantileMs(v, 0.5), 0.051);
  std::vector<uint32_t> empty;
  EXPECT_EQ(QuantileMs(empty, 0.99), 0);
}

}  // namespace
}  // namespace casmem::bench
