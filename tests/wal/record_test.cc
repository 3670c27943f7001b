// Record codec: round trip, alignment, and every decode failure kind.
#include <gtest/gtest.h>

#include "wal/format.h"
#include "wal/record.h"

namespace casmem::wal {
namespace {

Record Sample() {
  Record r;
  r.type = kRecordPut;
  r.lsn = 42;
  r.version = 7;
  r.updated_at_ms = 1'700'000'000'123;
  r.expires_at_ms = 1'700'000'060'123;
  r.workspace = "team-a";
  r.key = "research-backlog:pmm";
  r.value = R"({"n":12345678901234567890,"s":"é"})";
  return r;
}

TEST(Record, RoundTripKeepsEveryField) {
  std::string buf;
  AppendRecord(Sample(), &buf);
  ASSERT_EQ(buf.size() % kRecordAlign, 0u);
  ASSERT_EQ(buf.size(), EncodedSize(6, 20, Sample().value.size()));
  Record out;
  size_t used = 0;
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_EQ(used, buf.size());
  EXPECT_EQ(out.lsn, 42u);
  EXPECT_EQ(out.version, 7u);
  EXPECT_EQ(out.updated_at_ms, 1'700'000'000'123);
  EXPECT_EQ(out.expires_at_ms, 1'700'000'060'123);
  EXPECT_EQ(out.workspace, "team-a");
  EXPECT_EQ(out.key, "research-backlog:pmm");
  EXPECT_EQ(out.value, Sample().value);
  EXPECT_EQ(out.type, kRecordPut);
}

TEST(Record, TombstoneHasEmptyValue) {
  Record r = Sample();
  r.type = kRecordTombstone;
  r.value = {};
  std::string buf;
  AppendRecord(r, &buf);
  Record out;
  size_t used;
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_EQ(out.type, kRecordTombstone);
  EXPECT_TRUE(out.value.empty());
}

TEST(Record, EveryFlippedByteIsDetected) {
  std::string good;
  AppendRecord(Sample(), &good);
  const size_t meaningful = kRecordHeaderSize + kRecordFixedPayload + 6 + 20 + Sample().value.size();
  for (size_t i = 0; i < meaningful; ++i) {
    std::string bad = good;
    bad[i] ^= 0x40;
    Record out;
    size_t used;
    EXPECT_NE(DecodeRecord(bad, &out, &used), DecodeStatus::kOk) << "byte " << i;
  }
}

TEST(Record, ZeroHeaderIsEndOfDataAndShortBufferIsTruncated) {
  Record out;
  size_t used;
  EXPECT_EQ(DecodeRecord(std::string(64, '\0'), &out, &used), DecodeStatus::kEndOfData);
  std::string buf;
  AppendRecord(Sample(), &buf);
  EXPECT_EQ(DecodeRecord(std::string_view(buf).substr(0, buf.size() - 20), &out, &used),
            DecodeStatus::kTruncated);
  EXPECT_EQ(DecodeRecord(std::string_view(buf).substr(0, 5), &out, &used), DecodeStatus::kTruncated);
}

TEST(Record, ImpossibleLengthIsRejectedBeforeChecksum) {
  std::string buf;
  AppendRecord(Sample(), &buf);
  buf[8] = 1;  // payload_len = 1 < fixed payload
  buf[9] = buf[10] = buf[11] = 0;
  Record out;
  size_t used;
  EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kBadLength);
}

// Each length is bounded on its own, not only their sum (the sum bound,
// 256 MiB + 1152, leaves room for a 60,000-byte workspace or key). A
// record whose checksum verifies but whose field no writer allows
// (engine/store.cc) is kBadLength, so recovery never loads it.
TEST(Record, EachFieldLengthIsBoundedOnItsOwn) {
  struct Case {
    size_t ws, key, value;
  };
  for (const Case c : {Case{kMaxWorkspaceBytes + 1, 1, 0}, Case{60'000, 1, 0},
                       Case{1, kMaxKeyBytes + 1, 0}, Case{1, 60'000, 0}}) {
    const std::string ws(c.ws, 'w'), key(c.key, 'k');
    Record r = Sample();
    r.workspace = ws;
    r.key = key;
    r.value = "1";
    std::string buf;
    AppendRecord(r, &buf);  // the encoder does not check; the checksum is right
    Record out;
    size_t used;
    EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kBadLength)
        << "workspace " << c.ws << " key " << c.key;
  }
  // The largest lengths the writers accept still decode.
  const std::string ws(kMaxWorkspaceBytes, 'w'), key(kMaxKeyBytes, 'k');
  Record r = Sample();
  r.workspace = ws;
  r.key = key;
  std::string buf;
  AppendRecord(r, &buf);
  Record out;
  size_t used;
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_EQ(out.workspace.size(), kMaxWorkspaceBytes);
  EXPECT_EQ(out.key.size(), kMaxKeyBytes);
}

}  // namespace
}  // namespace casmem::wal
