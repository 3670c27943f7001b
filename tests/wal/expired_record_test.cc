// The expired flag (kRecordFlagExpired, issue 10): a tombstone the sweep
// logged because a TTL ran out. It round-trips; on anything but a plain
// tombstone (a put, a commit, a tombstone with a writer or an answer) it
// is damage; records without it read as before.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "wal/format.h"
#include "wal/record.h"

namespace casmem::wal {
namespace {

Record Expired() {
  Record r;
  r.type = kRecordTombstone;
  r.expired = true;
  r.lsn = 9;
  r.version = 4;
  r.updated_at_ms = 1'800'000'000'010;  // the expiry instant
  r.workspace = "ws";
  r.key = "lease:7";
  return r;
}

TEST(ExpiredRecord, RoundTripsOnATombstone) {
  std::string buf;
  AppendRecord(Expired(), &buf);
  EXPECT_EQ(static_cast<uint8_t>(buf[13]), kRecordFlagExpired) << "the header's flags byte";
  EXPECT_EQ(buf.size(), EncodedSize(2, 7, 0)) << "the flag costs no payload byte";
  Record out;
  size_t used = 0;
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_EQ(used, buf.size());
  EXPECT_EQ(out.type, kRecordTombstone);
  EXPECT_TRUE(out.expired);
  EXPECT_EQ(out.lsn, 9u);
  EXPECT_EQ(out.version, 4u);
  EXPECT_EQ(out.updated_at_ms, 1'800'000'000'010);
  EXPECT_EQ(out.key, "lease:7");
  EXPECT_TRUE(out.writer.empty());
  EXPECT_FALSE(out.has_idempotency);
}

TEST(ExpiredRecord, RecordsWithoutTheFlagReadAsBefore) {
  Record r = Expired();
  r.expired = false;  // a DELETE's tombstone, as every log before issue 10 has
  std::string buf;
  AppendRecord(r, &buf);
  EXPECT_EQ(buf[13], 0);
  Record out;
  size_t used = 0;
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_EQ(out.type, kRecordTombstone);
  EXPECT_FALSE(out.expired);
  // A put with a writer: flags 1, not expired.
  r.type = kRecordPut;
  r.value = "1";
  r.writer = "agent";
  buf.clear();
  AppendRecord(r, &buf);
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_FALSE(out.expired);
  EXPECT_EQ(out.writer, "agent");
}

TEST(ExpiredRecord, TheFlagAnywhereElseIsDamage) {
  // The encoder writes what it is given (with a valid checksum); decode
  // refuses every combination the sweep never writes.
  std::vector<std::pair<std::string, Record>> cases;
  Record put = Expired();
  put.type = kRecordPut;
  put.value = "1";
  cases.emplace_back("put", put);
  const CommitOp op{kRecordTombstone, 3, 0, "k", {}};
  Record commit = Expired();
  commit.type = kRecordCommit;
  commit.ops = std::span<const CommitOp>(&op, 1);
  cases.emplace_back("commit", commit);
  Record with_writer = Expired();
  with_writer.writer = "agent";
  cases.emplace_back("tombstone with a writer", with_writer);
  const std::string fingerprint(kFingerprintBytes, 'f');
  Record with_answer = Expired();
  with_answer.has_idempotency = true;
  with_answer.idempotency = IdempotencyPart{"idem", fingerprint, 200, "{}"};
  cases.emplace_back("tombstone with an answer", with_answer);
  for (const auto& [name, r] : cases) {
    std::string buf;
    AppendRecord(r, &buf);
    Record out;
    size_t used = 0;
    EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kBadType) << name;
    // The same record without the flag is fine: only the flag is wrong.
    Record plain = r;
    plain.expired = false;
    buf.clear();
    AppendRecord(plain, &buf);
    EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk) << name;
  }
  EXPECT_STREQ(DecodeStatusName(DecodeStatus::kBadType), "unknown record type or flags");
}

}  // namespace
}  // namespace casmem::wal
