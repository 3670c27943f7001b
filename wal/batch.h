// Batch framing (segment format 2): the header the log writer puts in
// front of the records of each write, and the check that a batch is whole.
// A batch is the unit recovery applies: all of its records or none.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wal/format.h"
#include "wal/record.h"

namespace casmem::wal {

struct BatchHeader {
  uint32_t count = 0;
  uint64_t first_lsn = 0;
  uint64_t body_len = 0;
  uint64_t body_checksum = 0;
  uint64_t synced_lsn = 0;
};

// Appends the 48-byte header of a batch whose records are `body`.
void AppendBatchHeader(uint32_t count, uint64_t first_lsn, uint64_t synced_lsn,
                       std::string_view body, std::string* out);

enum class BatchStatus {
  kOk,
  kEndOfData,    // an all-zero header
  kTruncated,    // the buffer ends inside the header or the body
  kBadHeader,    // wrong kind or header checksum
  kBadBody,      // body checksum, or a record that does not match the header
};
const char* BatchStatusName(BatchStatus s);

// Decodes and checks only the header at the start of `buf`.
BatchStatus DecodeBatchHeader(std::string_view buf, BatchHeader* out);

struct RecordAt {
  Record record;      // views into the buffer given to DecodeBatch
  uint64_t offset;    // of the record, relative to that buffer
  size_t size;        // encoded size, padding included
};

// Decodes the whole batch at the start of `buf`: header, body checksum,
// then every record, which must be exactly `count` records with lsns
// first_lsn, first_lsn + 1, ... filling body_len. On kOk `records` holds
// them (offsets relative to `buf`) and *consumed is the batch's size.
BatchStatus DecodeBatch(std::string_view buf, BatchHeader* header, std::vector<RecordAt>* records,
                        size_t* consumed);

}  // namespace casmem::wal
