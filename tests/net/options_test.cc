// casmemd's command line: defaults, durations with and without units,
// values refused with a message naming the option.
#include "net/options.h"

#include <gtest/gtest.h>

namespace casmem::net {
namespace {

using std::chrono::milliseconds;

TEST(Options, DefaultsAreTheDocumentedOnes) {
  DaemonOptions o;
  std::string error;
  ASSERT_TRUE(ParseOptions({}, &o, &error)) << error;
  EXPECT_EQ(o.store.data_dir, "./data");
  EXPECT_EQ(o.server.port, 7070);
  EXPECT_EQ(o.server.conflict_turn, milliseconds(10));
  EXPECT_EQ(o.server.read_timeout, milliseconds(30'000));
  EXPECT_NE(UsageText().find("--conflict-turn DURATION"), std::string::npos);
  // --help shows the structs' own defaults.
  EXPECT_NE(UsageText().find("(default 64M)"), std::string::npos);
  EXPECT_NE(UsageText().find("(default 127.0.0.1:7070)"), std::string::npos);
  EXPECT_EQ(o.server.max_body_bytes, o.store.max_value_bytes + kBodyOverheadBytes);
}

TEST(Options, DurationsTakeUnitsAndZeroNeedsNone) {
  DaemonOptions o;
  std::string error;
  ASSERT_TRUE(ParseOptions({"--conflict-turn", "0", "--read-timeout=2s", "--idle-timeout", "1m"}, &o, &error))
      << error;
  EXPECT_EQ(o.server.conflict_turn, milliseconds(0));
  EXPECT_EQ(o.server.read_timeout, milliseconds(2000));
  EXPECT_EQ(o.server.idle_timeout, milliseconds(60'000));
  ASSERT_TRUE(ParseOptions({"--conflict-turn", "250ms"}, &o, &error)) << error;
  EXPECT_EQ(o.server.conflict_turn, milliseconds(250));
  // A bare number is seconds (memory-api.md §3).
  ASSERT_TRUE(ParseOptions({"--idle-timeout", "15", "--tombstone-retention=2"}, &o, &error)) << error;
  EXPECT_EQ(o.server.idle_timeout, milliseconds(15'000));
  EXPECT_EQ(o.store.tombstone_retention, milliseconds(2'000));
}

TEST(Options, BadValuesAreRefusedByName) {
  DaemonOptions o;
  std::string error;
  EXPECT_FALSE(ParseOptions({"--read-timeout", "0"}, &o, &error));  // would drop every connection
  EXPECT_EQ(error, "bad value '0' for --read-timeout (expected DURATION)");
  EXPECT_FALSE(ParseOptions({"--conflict-turn"}, &o, &error));
  EXPECT_EQ(error, "--conflict-turn needs a value DURATION");
  EXPECT_FALSE(ParseOptions({"--no-such"}, &o, &error));
  EXPECT_EQ(error, "unknown option --no-such (see --help)");
}

TEST(Options, InlineCommitIsOnOrOff) {
  DaemonOptions o;
  std::string error;
  ASSERT_TRUE(ParseOptions({}, &o, &error)) << error;
  EXPECT_TRUE(o.store.wal_inline_commit);
  const std::string usage = UsageText();
  const size_t at = usage.find("--inline-commit on|off");
  ASSERT_NE(at, std::string::npos);
  EXPECT_NE(usage.substr(at, usage.find('\n', at) - at).find("(default on)"), std::string::npos);
  ASSERT_TRUE(ParseOptions({"--inline-commit", "off"}, &o, &error)) << error;
  EXPECT_FALSE(o.store.wal_inline_commit);
  ASSERT_TRUE(ParseOptions({"--inline-commit=on"}, &o, &error)) << error;
  EXPECT_TRUE(o.store.wal_inline_commit);
  EXPECT_FALSE(ParseOptions({"--inline-commit", "yes"}, &o, &error));
  EXPECT_EQ(error, "bad value 'yes' for --inline-commit (expected on|off)");
  EXPECT_FALSE(ParseOptions({"--inline-commit"}, &o, &error));
  EXPECT_EQ(error, "--inline-commit needs a value on|off");
}

TEST(Options, IdempotencyRetentionAndMemoryBound) {
  DaemonOptions o;
  std::string error;
  ASSERT_TRUE(ParseOptions({}, &o, &error)) << error;
  EXPECT_EQ(o.store.idempotency_retention, milliseconds(24LL * 3600 * 1000));
  EXPECT_EQ(o.store.idempotency_max_bytes, 64ULL << 20);
  EXPECT_NE(UsageText().find("--idempotency-retention DURATION"), std::string::npos);
  EXPECT_NE(UsageText().find("--idempotency-max-bytes SIZE"), std::string::npos);
  ASSERT_TRUE(ParseOptions({"--idempotency-retention", "90m", "--idempotency-max-bytes=8M"}, &o, &error))
      << error;
  EXPECT_EQ(o.store.idempotency_retention, milliseconds(90LL * 60 * 1000));
  EXPECT_EQ(o.store.idempotency_max_bytes, 8ULL << 20);
  EXPECT_FALSE(ParseOptions({"--idempotency-retention", "0"}, &o, &error));
  EXPECT_FALSE(ParseOptions({"--idempotency-max-bytes", "lots"}, &o, &error));
}

}  // namespace
}  // namespace casmem::net
