// Record encoding and decoding; the grammar is in wal/format.h.
#include "wal/record.h"

#include <xxhash.h>

#include <cstring>

#include "wal/endian.h"

namespace casmem::wal {

static size_t AlignUp(size_t n) { return (n + kRecordAlign - 1) & ~(kRecordAlign - 1); }

size_t EncodedSize(size_t ws_len, size_t key_len, size_t value_len) {
  return AlignUp(kRecordHeaderSize + kRecordFixedPayload + ws_len + key_len + value_len);
}

void AppendRecord(const Record& r, std::string* out) {
  const size_t payload =
      kRecordFixedPayload + r.workspace.size() + r.key.size() + r.value.size();
  const size_t total = EncodedSize(r.workspace.size(), r.key.size(), r.value.size());
  const size_t start = out->size();
  out->resize(start + total);  // zero-fills the padding
  char* p = out->data() + start;
  PutU32(p + 8, static_cast<uint32_t>(payload));
  p[12] = static_cast<char>(r.type);
  p[13] = 0;
  PutU16(p + 14, 0);
  char* q = p + kRecordHeaderSize;
  PutU64(q, r.lsn);
  PutU64(q + 8, r.version);
  PutU64(q + 16, static_cast<uint64_t>(r.updated_at_ms));
  PutU64(q + 24, static_cast<uint64_t>(r.expires_at_ms));
  PutU16(q + 32, static_cast<uint16_t>(r.workspace.size()));
  PutU16(q + 34, static_cast<uint16_t>(r.key.size()));
  PutU32(q + 36, static_cast<uint32_t>(r.value.size()));
  q += kRecordFixedPayload;
  std::memcpy(q, r.workspace.data(), r.workspace.size());
  q += r.workspace.size();
  std::memcpy(q, r.key.data(), r.key.size());
  q += r.key.size();
  if (!r.value.empty()) std::memcpy(q, r.value.data(), r.value.size());
  PutU64(p, XXH3_64bits_withSeed(p + 8, 8 + payload, kChecksumSeed));
}

const char* DecodeStatusName(DecodeStatus s) {
  switch (s) {
    case DecodeStatus::kOk: return "ok";
    case DecodeStatus::kEndOfData: return "end of data";
    case DecodeStatus::kTruncated: return "truncated record";
    case DecodeStatus::kBadLength: return "impossible record length";
    case DecodeStatus::kBadChecksum: return "checksum mismatch";
    case DecodeStatus::kBadType: return "unknown record type";
  }
  return "?";
}

DecodeStatus DecodeRecord(std::string_view buf, Record* out, size_t* consumed) {
  if (buf.size() < kRecordHeaderSize) {
    for (char c : buf)
      if (c != 0) return DecodeStatus::kTruncated;
    return DecodeStatus::kEndOfData;
  }
  const char* p = buf.data();
  const uint64_t checksum = GetU64(p);
  const uint32_t payload = GetU32(p + 8);
  if (checksum == 0 && payload == 0 && GetU32(p + 12) == 0) return DecodeStatus::kEndOfData;
  const uint64_t max_payload = kRecordFixedPayload + kMaxWorkspaceBytes + kMaxKeyBytes +
                               static_cast<uint64_t>(kMaxRecordValueBytes);
  if (payload < kRecordFixedPayload || payload > max_payload) return DecodeStatus::kBadLength;
  const size_t total = AlignUp(kRecordHeaderSize + payload);
  if (buf.size() < kRecordHeaderSize + payload) return DecodeStatus::kTruncated;
  if (XXH3_64bits_withSeed(p + 8, 8 + payload, kChecksumSeed) != checksum)
    return DecodeStatus::kBadChecksum;
  const char* q = p + kRecordHeaderSize;
  const uint16_t ws_len = GetU16(q + 32);
  const uint16_t key_len = GetU16(q + 34);
  const uint32_t value_len = GetU32(q + 36);
  if (kRecordFixedPayload + uint64_t{ws_len} + key_len + value_len != payload)
    return DecodeStatus::kBadLength;
  // Each field within the bound the writers enforce (engine/store.cc), not
  // only their sum: a record no writer could produce is never loaded.
  if (ws_len > kMaxWorkspaceBytes || key_len > kMaxKeyBytes || value_len > kMaxRecordValueBytes)
    return DecodeStatus::kBadLength;
  const uint8_t type = static_cast<uint8_t>(p[12]);
  if (type != kRecordPut && type != kRecordTombstone) return DecodeStatus::kBadType;
  out->type = type;
  out->lsn = GetU64(q);
  out->version = GetU64(q + 8);
  out->updated_at_ms = static_cast<int64_t>(GetU64(q + 16));
  out->expires_at_ms = static_cast<int64_t>(GetU64(q + 24));
  q += kRecordFixedPayload;
  out->workspace = std::string_view(q, ws_len);
  out->key = std::string_view(q + ws_len, key_len);
  out->value = std::string_view(q + ws_len + key_len, value_len);
  // Padding may be cut off at the very end of a buffer; that is harmless.
  *consumed = total <= buf.size() ? total : buf.size();
  return DecodeStatus::kOk;
}

}  // namespace casmem::wal
