// Batch header encoding and whole-batch verification; layout in wal/format.h.
#include "wal/batch.h"

#include <xxhash.h>

#include <algorithm>

#include "wal/endian.h"

namespace casmem::wal {

void AppendBatchHeader(uint32_t count, uint64_t first_lsn, uint64_t synced_lsn,
                       std::string_view body, std::string* out) {
  const size_t start = out->size();
  out->resize(start + kBatchHeaderSize);
  char* p = out->data() + start;
  PutU32(p + 8, kBatchKind);
  PutU32(p + 12, count);
  PutU64(p + 16, first_lsn);
  PutU64(p + 24, body.size());
  PutU64(p + 32, XXH3_64bits_withSeed(body.data(), body.size(), kChecksumSeed));
  PutU64(p + 40, synced_lsn);
  PutU64(p, XXH3_64bits_withSeed(p + 8, kBatchHeaderSize - 8, kChecksumSeed));
}

const char* BatchStatusName(BatchStatus s) {
  switch (s) {
    case BatchStatus::kOk: return "ok";
    case BatchStatus::kEndOfData: return "end of data";
    case BatchStatus::kTruncated: return "truncated batch";
    case BatchStatus::kBadHeader: return "bad batch header";
    case BatchStatus::kBadBody: return "batch body does not match its header";
  }
  return "?";
}

BatchStatus DecodeBatchHeader(std::string_view buf, BatchHeader* out) {
  const size_t n = std::min(buf.size(), kBatchHeaderSize);
  bool zero = true;
  for (size_t i = 0; i < n && zero; ++i) zero = buf[i] == 0;
  if (zero) return BatchStatus::kEndOfData;
  if (buf.size() < kBatchHeaderSize) return BatchStatus::kTruncated;
  const char* p = buf.data();
  if (GetU32(p + 8) != kBatchKind ||
      GetU64(p) != XXH3_64bits_withSeed(p + 8, kBatchHeaderSize - 8, kChecksumSeed)) {
    return BatchStatus::kBadHeader;
  }
  out->count = GetU32(p + 12);
  out->first_lsn = GetU64(p + 16);
  out->body_len = GetU64(p + 24);
  out->body_checksum = GetU64(p + 32);
  out->synced_lsn = GetU64(p + 40);
  // A verified header with an impossible shape was written by no writer.
  if (out->count == 0 || out->body_len % kRecordAlign != 0 || out->first_lsn == 0) {
    return BatchStatus::kBadHeader;
  }
  return BatchStatus::kOk;
}

BatchStatus DecodeBatch(std::string_view buf, BatchHeader* header, std::vector<RecordAt>* records,
                        size_t* consumed) {
  records->clear();
  const BatchStatus hs = DecodeBatchHeader(buf, header);
  if (hs != BatchStatus::kOk) return hs;
  if (buf.size() - kBatchHeaderSize < header->body_len) return BatchStatus::kTruncated;
  const std::string_view body = buf.substr(kBatchHeaderSize, header->body_len);
  if (XXH3_64bits_withSeed(body.data(), body.size(), kChecksumSeed) != header->body_checksum) {
    return BatchStatus::kBadBody;
  }
  size_t pos = 0;
  while (pos < body.size()) {
    RecordAt r;
    size_t used = 0;
    if (DecodeRecord(body.substr(pos), &r.record, &used) != DecodeStatus::kOk ||
        records->size() >= header->count ||
        r.record.lsn != header->first_lsn + records->size()) {
      records->clear();
      return BatchStatus::kBadBody;
    }
    r.offset = kBatchHeaderSize + pos;
    r.size = used;
    records->push_back(r);
    pos += used;
  }
  if (records->size() != header->count) {
    records->clear();
    return BatchStatus::kBadBody;
  }
  *consumed = kBatchHeaderSize + body.size();
  return BatchStatus::kOk;
}

}  // namespace casmem::wal
