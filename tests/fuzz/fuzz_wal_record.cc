// Fuzz target: wal::DecodeRecord. Input: a mode byte (bit 0: recompute the
// checksum first, to reach past it), then the record bytes. Invariants: a
// decoded record lies within the buffer, has a known type (put,
// tombstone, commit; the expired flag only on a plain tombstone),
// in-bounds views (ops, writer and remembered answer included) and each
// length within its kMax* bound, and re-encodes (AppendRecord) to bytes
// that decode to the same record (the flags and reserved header bytes are
// not compared: the decoder ignores them).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "wal/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace casmem::wal;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const bool fix = casmem::fuzz::WantsFixup(in);
  std::string buf(in.substr(1));
  if (fix) casmem::fuzz::FixRecordChecksums(&buf, 0);

  Record r;
  size_t used = 0;
  const DecodeStatus ds = DecodeRecord(buf, &r, &used);
  FUZZ_CHECK(DecodeStatusName(ds) != nullptr);
  if (ds != DecodeStatus::kOk) return 0;
  FUZZ_CHECK(r.type == kRecordPut || r.type == kRecordTombstone || r.type == kRecordCommit);
  FUZZ_CHECK(!r.expired || (r.type == kRecordTombstone && r.writer.empty() && !r.has_idempotency));
  FUZZ_CHECK(r.workspace.size() <= kMaxWorkspaceBytes && r.key.size() <= kMaxKeyBytes &&
             r.value.size() <= kMaxRecordValueBytes && r.writer.size() <= kMaxWriterBytes);
  const char* lo = buf.data();
  const char* hi = buf.data() + buf.size();
  auto inside = [&](std::string_view v) {
    FUZZ_CHECK(v.empty() || (v.data() >= lo && v.data() + v.size() <= hi));
  };
  for (std::string_view v : {r.workspace, r.key, r.value, r.writer, r.op_bytes, r.idempotency.key,
                             r.idempotency.fingerprint, r.idempotency.body}) {
    inside(v);
  }
  if (r.has_idempotency) FUZZ_CHECK(r.idempotency.fingerprint.size() == kFingerprintBytes);
  // A commit's ops: exactly op_count of them fill op_bytes, each in bounds.
  std::vector<CommitOp> ops;
  if (r.type == kRecordCommit) {
    FUZZ_CHECK(r.op_count <= kMaxCommitOps);
    std::string_view rest = r.op_bytes;
    for (uint16_t i = 0; i < r.op_count; ++i) {
      CommitOp op;
      FUZZ_CHECK(NextCommitOp(&rest, &op));
      FUZZ_CHECK(op.key.size() <= kMaxKeyBytes && op.value.size() <= kMaxRecordValueBytes);
      inside(op.key);
      inside(op.value);
      ops.push_back(op);
    }
    FUZZ_CHECK(rest.empty());
    r.ops = ops;
  }
  // The padding may be cut off at the end of the buffer: consumed is clamped.
  const size_t full = EncodedSize(r);
  FUZZ_CHECK(used == std::min(full, buf.size()));
  FUZZ_CHECK(full - used < kRecordAlign);
  std::string re;
  AppendRecord(r, &re);
  FUZZ_CHECK(re.size() == full);
  Record r2;
  size_t used2 = 0;
  FUZZ_CHECK(DecodeRecord(re, &r2, &used2) == DecodeStatus::kOk);
  FUZZ_CHECK(used2 == full && r2.type == r.type && r2.lsn == r.lsn && r2.version == r.version &&
             r2.updated_at_ms == r.updated_at_ms && r2.expires_at_ms == r.expires_at_ms &&
             r2.workspace == r.workspace && r2.key == r.key && r2.value == r.value &&
             r2.writer == r.writer && r2.expired == r.expired &&
             r2.has_idempotency == r.has_idempotency &&
             r2.idempotency.key == r.idempotency.key &&
             r2.idempotency.fingerprint == r.idempotency.fingerprint &&
             r2.idempotency.status == r.idempotency.status &&
             r2.idempotency.body == r.idempotency.body && r2.op_count == r.op_count &&
             r2.op_bytes == r.op_bytes);
  return 0;
}
