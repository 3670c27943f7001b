// Fuzz target: wal::DecodeRecord. Input: a mode byte (bit 0: recompute the
// checksum first, to reach past it), then the record bytes. Invariants: a
// decoded record lies within the buffer, has a known type, in-bounds
// views and each length within its kMax* bound, and re-encodes
// (AppendRecord) to bytes that decode to the same record (the flags and
// reserved header bytes are not compared: the decoder ignores them).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

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
  FUZZ_CHECK(r.type == kRecordPut || r.type == kRecordTombstone);
  FUZZ_CHECK(r.workspace.size() <= kMaxWorkspaceBytes && r.key.size() <= kMaxKeyBytes &&
             r.value.size() <= kMaxRecordValueBytes);
  // The padding may be cut off at the end of the buffer: consumed is clamped.
  const size_t full = EncodedSize(r.workspace.size(), r.key.size(), r.value.size());
  FUZZ_CHECK(used == std::min(full, buf.size()));
  FUZZ_CHECK(full - used < kRecordAlign);
  const char* lo = buf.data();
  const char* hi = buf.data() + buf.size();
  for (std::string_view v : {r.workspace, r.key, r.value}) {
    FUZZ_CHECK(v.empty() || (v.data() >= lo && v.data() + v.size() <= hi));
  }
  std::string re;
  AppendRecord(r, &re);
  FUZZ_CHECK(re.size() == full);
  Record r2;
  size_t used2 = 0;
  FUZZ_CHECK(DecodeRecord(re, &r2, &used2) == DecodeStatus::kOk);
  FUZZ_CHECK(used2 == full && r2.type == r.type && r2.lsn == r.lsn && r2.version == r.version &&
             r2.updated_at_ms == r.updated_at_ms && r2.expires_at_ms == r.expires_at_ms &&
             r2.workspace == r.workspace && r2.key == r.key && r2.value == r.value);
  return 0;
}
