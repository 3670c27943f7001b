// Record: the encoding of one committed operation (the full result, never
// the request), shared by log segments and snapshots. Encoding appends to
// a byte buffer; decoding validates framing and checksum and reports why a
// record is unusable, so recovery can tell a torn tail from damage.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wal/format.h"

namespace casmem::wal {

struct Record {
  uint8_t type = kRecordPut;  // kRecordPut or kRecordTombstone
  uint64_t lsn = 0;
  uint64_t version = 0;
  int64_t updated_at_ms = 0;
  int64_t expires_at_ms = 0;  // 0 = no TTL
  std::string_view workspace;
  std::string_view key;
  std::string_view value;  // empty for a tombstone
};

// Bytes one encoded record occupies, padding included.
size_t EncodedSize(size_t ws_len, size_t key_len, size_t value_len);

// Appends the encoding of `r` (with padding) to `out`.
void AppendRecord(const Record& r, std::string* out);

enum class DecodeStatus {
  kOk,
  kEndOfData,    // an all-zero header: nothing was ever written here
  kTruncated,    // the buffer ends inside the record
  kBadLength,    // the header's lengths are impossible
  kBadChecksum,  // lengths plausible, checksum wrong
  kBadType,
};
const char* DecodeStatusName(DecodeStatus s);

// Decodes the record at the start of `buf`. On kOk, `*out` views into `buf`
// and `*consumed` is its size with padding.
DecodeStatus DecodeRecord(std::string_view buf, Record* out, size_t* consumed);

}  // namespace casmem::wal
