// Record: the encoding of one committed operation (the full result, never
// the request), shared by log segments and snapshots. Encoding appends to
// a byte buffer; decoding validates framing and checksum and reports why a
// record is unusable, so recovery can tell a torn tail from damage.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "wal/format.h"

namespace casmem::wal {

// One key's new state in a commit record.
struct CommitOp {
  uint8_t type = kRecordPut;  // kRecordPut or kRecordTombstone
  uint64_t version = 0;
  int64_t expires_at_ms = 0;
  std::string_view key;
  std::string_view value;  // empty for a tombstone
};

// A remembered Idempotency-Key answer (memory-api.md §7).
struct IdempotencyPart {
  std::string_view key;
  std::string_view fingerprint;  // kFingerprintBytes
  uint16_t status = 0;
  std::string_view body;
};

struct Record {
  uint8_t type = kRecordPut;  // kRecordPut, kRecordTombstone or kRecordCommit
  uint64_t lsn = 0;
  // Put / tombstone only.
  uint64_t version = 0;
  int64_t updated_at_ms = 0;  // all types
  int64_t expires_at_ms = 0;  // 0 = no TTL
  std::string_view workspace;  // all types
  std::string_view key;
  std::string_view value;  // empty for a tombstone
  // Tombstone only: logged by TTL expiry (kRecordFlagExpired), not a delete.
  bool expired = false;
  // Extensions (all types); empty writer = none.
  std::string_view writer;
  bool has_idempotency = false;
  IdempotencyPart idempotency;
  // Commit only. Encoding reads `ops`; decoding fills `op_count` and
  // `op_bytes` (validated; walk them with NextCommitOp).
  std::span<const CommitOp> ops;
  uint16_t op_count = 0;
  std::string_view op_bytes;
};

// Walks a decoded commit's op_bytes: true and *op (views into the
// record's buffer) while ops remain, advancing *rest.
bool NextCommitOp(std::string_view* rest, CommitOp* op);

// Bytes one encoded put or tombstone without extensions occupies, padding
// included.
size_t EncodedSize(size_t ws_len, size_t key_len, size_t value_len);
// Bytes the encoding of `r` occupies, padding included.
size_t EncodedSize(const Record& r);

// Appends the encoding of `r` (with padding) to `out`.
void AppendRecord(const Record& r, std::string* out);

enum class DecodeStatus {
  kOk,
  kEndOfData,    // an all-zero header: nothing was ever written here
  kTruncated,    // the buffer ends inside the record
  kBadLength,    // the header's lengths are impossible
  kBadChecksum,  // lengths plausible, checksum wrong
  kBadType,      // unknown type, or flags that type cannot carry (kRecordFlagExpired
                 // on anything but a plain tombstone)
};
const char* DecodeStatusName(DecodeStatus s);

// Decodes the record at the start of `buf`. On kOk, `*out` views into `buf`
// and `*consumed` is its size with padding.
DecodeStatus DecodeRecord(std::string_view buf, Record* out, size_t* consumed);

}  // namespace casmem::wal
