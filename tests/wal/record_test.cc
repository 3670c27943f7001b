// Record codec: round trip, alignment, and every decode failure kind.
#include <gtest/gtest.h>

#include <xxhash.h>

#include <cstring>
#include <vector>

#include "wal/format.h"
#include "wal/record.h"

namespace casmem::wal {
namespace {

uint32_t GetU32Test(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
// Recomputes a record's checksum after surgery on its bytes.
void ResealTest(std::string* buf, uint32_t payload) {
  const uint64_t sum = XXH3_64bits_withSeed(buf->data() + 8, 8 + payload, kChecksumSeed);
  std::memcpy(buf->data(), &sum, 8);
}

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

// Issue 8: a commit record (a transaction's writes under one lsn) with a
// writer and a remembered answer.
struct CommitSample {
  std::vector<CommitOp> ops{
      CommitOp{kRecordPut, 3, 0, "queue", R"([1,2])"},
      CommitOp{kRecordTombstone, 9, 0, "stale", ""},
      CommitOp{kRecordPut, 1, 1'700'000'600'000, "claim:42", R"({"by":"dev-lead"})"},
  };
  Record record() const {
    Record r;
    r.type = kRecordCommit;
    r.lsn = 77;
    r.updated_at_ms = 1'700'000'000'123;
    r.workspace = "team-a";
    r.ops = ops;
    r.writer = "dev-lead";
    r.has_idempotency = true;
    r.idempotency = IdempotencyPart{"retry-1", "0123456789abcdef", 200, R"({"status":"ok"})"};
    return r;
  }
};

TEST(Record, CommitRoundTripKeepsEveryOpWriterAndAnswer) {
  const CommitSample sample;
  std::string buf;
  AppendRecord(sample.record(), &buf);
  ASSERT_EQ(buf.size() % kRecordAlign, 0u);
  ASSERT_EQ(buf.size(), EncodedSize(sample.record()));
  Record out;
  size_t used = 0;
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_EQ(used, buf.size());
  EXPECT_EQ(out.type, kRecordCommit);
  EXPECT_EQ(out.lsn, 77u);
  EXPECT_EQ(out.updated_at_ms, 1'700'000'000'123);
  EXPECT_EQ(out.workspace, "team-a");
  EXPECT_EQ(out.writer, "dev-lead");
  ASSERT_TRUE(out.has_idempotency);
  EXPECT_EQ(out.idempotency.key, "retry-1");
  EXPECT_EQ(out.idempotency.fingerprint, "0123456789abcdef");
  EXPECT_EQ(out.idempotency.status, 200);
  EXPECT_EQ(out.idempotency.body, R"({"status":"ok"})");
  ASSERT_EQ(out.op_count, 3);
  std::string_view rest = out.op_bytes;
  for (const CommitOp& want : sample.ops) {
    CommitOp op;
    ASSERT_TRUE(NextCommitOp(&rest, &op));
    EXPECT_EQ(op.type, want.type);
    EXPECT_EQ(op.version, want.version);
    EXPECT_EQ(op.expires_at_ms, want.expires_at_ms);
    EXPECT_EQ(op.key, want.key);
    EXPECT_EQ(op.value, want.value);
  }
  EXPECT_TRUE(rest.empty());
}

TEST(Record, PutWithExtensionsAndAnswerOnlyCommitRoundTrip) {
  Record r = Sample();
  r.writer = "pm";
  std::string buf;
  AppendRecord(r, &buf);
  Record out;
  size_t used;
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_EQ(out.writer, "pm");
  EXPECT_FALSE(out.has_idempotency);
  EXPECT_EQ(out.value, Sample().value);
  // A record holding only a remembered 409.
  Record a;
  a.type = kRecordCommit;
  a.lsn = 5;
  a.workspace = "ws";
  a.has_idempotency = true;
  a.idempotency = IdempotencyPart{"k", "0123456789abcdef", 409, R"({"error":"x"})"};
  buf.clear();
  AppendRecord(a, &buf);
  ASSERT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk);
  EXPECT_EQ(out.op_count, 0);
  EXPECT_EQ(out.idempotency.status, 409);
  // Records from before issue 8 (flags 0) read as before: Sample() has none.
  buf.clear();
  AppendRecord(Sample(), &buf);
  EXPECT_EQ(buf[13], 0);
}

TEST(Record, EveryFlippedByteOfACommitIsDetected) {
  const CommitSample sample;
  std::string good;
  AppendRecord(sample.record(), &good);
  const size_t end = good.find_last_not_of('\0') + 1;
  for (size_t i = 0; i < end; ++i) {
    std::string bad = good;
    bad[i] ^= 0x40;
    Record out;
    size_t used;
    EXPECT_NE(DecodeRecord(bad, &out, &used), DecodeStatus::kOk) << "byte " << i;
  }
}

// Lengths inside a commit that no writer produces are refused even with a
// right checksum: an op count that does not fill the payload, a key too
// long, an unknown flag.
TEST(Record, CommitLengthsMustAddUp) {
  CommitSample sample;
  Record r = sample.record();
  std::vector<CommitOp> ops = sample.ops;
  const std::string long_key(kMaxKeyBytes + 1, 'k');
  ops[0].key = long_key;
  r.ops = ops;
  std::string buf;
  AppendRecord(r, &buf);
  Record out;
  size_t used;
  EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kBadLength);
  // Claim one op more than there are, then re-seal the checksum.
  buf.clear();
  AppendRecord(sample.record(), &buf);
  const uint32_t payload = GetU32Test(buf.data() + 8);
  buf[kRecordHeaderSize + 18] = 4;
  ResealTest(&buf, payload);
  EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kBadLength);
  buf.clear();
  AppendRecord(sample.record(), &buf);
  buf[13] |= 0x10;  // an unknown flag
  ResealTest(&buf, payload);
  EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kBadLength);
}

}  // namespace
}  // namespace casmem::wal

namespace casmem::wal {
namespace {

// What no writer produces is refused even under a right checksum: each
// case re-encodes a valid record with one field broken.
TEST(Record, ExtensionsAndCommitsNoWriterProducesAreRefused) {
  auto refused = [](const Record& r, const char* what) {
    std::string buf;
    AppendRecord(r, &buf);
    Record out;
    size_t used;
    EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kBadLength) << what;
  };
  const std::string long_writer(kMaxWriterBytes + 1, 'w');
  Record r = Sample();
  r.writer = long_writer;
  refused(r, "writer longer than 128");
  r.writer = "tab\there";
  refused(r, "writer not printable");
  r = Sample();
  r.value = {};
  refused(r, "a put without a value");
  r = Sample();
  r.has_idempotency = true;
  r.idempotency = IdempotencyPart{"k", "0123456789abcdef", 99, "{}"};
  refused(r, "status 99");
  r.idempotency.status = 200;
  r.idempotency.key = "\x01";
  refused(r, "answer key not printable");
  Record c;
  c.type = kRecordCommit;
  c.lsn = 1;
  c.workspace = "ws";
  refused(c, "a commit with no op and no answer");
  const std::vector<CommitOp> twice = {CommitOp{kRecordPut, 1, 0, "k", "1"},
                                       CommitOp{kRecordPut, 2, 0, "k", "2"}};
  c.ops = twice;
  refused(c, "one key written twice");
  const std::vector<CommitOp> empty = {CommitOp{kRecordPut, 1, 0, "k", ""}};
  c.ops = empty;
  refused(c, "a put op without a value");
  std::vector<CommitOp> many;
  std::vector<std::string> keys;
  for (size_t i = 0; i <= kMaxCommitOps; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto& k : keys) many.push_back(CommitOp{kRecordPut, 1, 0, k, "1"});
  c.ops = many;
  refused(c, "more than 128 ops");
  many.pop_back();
  c.ops = many;
  std::string buf;
  AppendRecord(c, &buf);
  Record out;
  size_t used;
  EXPECT_EQ(DecodeRecord(buf, &out, &used), DecodeStatus::kOk) << "128 ops is a transaction";
}

}  // namespace
}  // namespace casmem::wal
