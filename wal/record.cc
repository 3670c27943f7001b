// Record encoding and decoding; the grammar is in wal/format.h.
#include "wal/record.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "wal/endian.h"

namespace casmem::wal {

static size_t AlignUp(size_t n) { return (n + kRecordAlign - 1) & ~(kRecordAlign - 1); }

namespace {

// Encodes what the record says, even a combination decode refuses (the
// expired flag on a put or a commit): tests build damage with it.
uint8_t Flags(const Record& r) {
  return static_cast<uint8_t>((r.writer.empty() ? 0 : kRecordFlagWriter) |
                              (r.has_idempotency ? kRecordFlagIdempotency : 0) |
                              (r.expired ? kRecordFlagExpired : 0));
}

size_t ExtensionBytes(const Record& r) {
  size_t n = 0;
  if (!r.writer.empty()) n += 1 + r.writer.size();
  if (r.has_idempotency) {
    n += 1 + r.idempotency.key.size() + kFingerprintBytes + 2 + 4 + r.idempotency.body.size();
  }
  return n;
}

size_t PayloadBytes(const Record& r) {
  if (r.type != kRecordCommit) {
    return kRecordFixedPayload + r.workspace.size() + r.key.size() + r.value.size() +
           ExtensionBytes(r);
  }
  size_t n = kCommitFixedPayload + r.workspace.size() + ExtensionBytes(r);
  for (const CommitOp& op : r.ops) n += kCommitOpFixed + op.key.size() + op.value.size();
  return n;
}

char* PutBytes(char* q, std::string_view b) {
  if (!b.empty()) std::memcpy(q, b.data(), b.size());
  return q + b.size();
}

char* PutExtensions(const Record& r, char* q) {
  if (!r.writer.empty()) {
    *q++ = static_cast<char>(r.writer.size());
    q = PutBytes(q, r.writer);
  }
  if (r.has_idempotency) {
    const IdempotencyPart& i = r.idempotency;
    *q++ = static_cast<char>(i.key.size());
    q = PutBytes(q, i.key);
    // The fingerprint is exactly kFingerprintBytes; a shorter one is
    // zero-padded (the buffer is zero-filled).
    std::memcpy(q, i.fingerprint.data(), std::min(i.fingerprint.size(), kFingerprintBytes));
    q += kFingerprintBytes;
    PutU16(q, i.status);
    PutU32(q + 2, static_cast<uint32_t>(i.body.size()));
    q = PutBytes(q + 6, i.body);
  }
  return q;
}

bool Printable(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Reads the extensions `flags` announces from exactly `ext`, refusing
// what no writer produces (names that are not printable ASCII, a status
// that is not an HTTP status).
bool TakeExtensions(uint8_t flags, std::string_view ext, Record* out) {
  out->writer = {};
  out->has_idempotency = false;
  out->idempotency = {};
  flags &= static_cast<uint8_t>(~kRecordFlagExpired);  // no payload bytes; checked by the caller
  if (flags & ~(kRecordFlagWriter | kRecordFlagIdempotency)) return false;
  if (flags & kRecordFlagWriter) {
    if (ext.empty()) return false;
    const size_t len = static_cast<uint8_t>(ext[0]);
    if (len == 0 || len > kMaxWriterBytes || ext.size() < 1 + len) return false;
    out->writer = ext.substr(1, len);
    if (!Printable(out->writer)) return false;
    ext.remove_prefix(1 + len);
  }
  if (flags & kRecordFlagIdempotency) {
    if (ext.empty()) return false;
    const size_t len = static_cast<uint8_t>(ext[0]);
    if (len == 0 || ext.size() < 1 + len + kFingerprintBytes + 6) return false;
    IdempotencyPart& i = out->idempotency;
    i.key = ext.substr(1, len);
    i.fingerprint = ext.substr(1 + len, kFingerprintBytes);
    const char* q = ext.data() + 1 + len + kFingerprintBytes;
    i.status = GetU16(q);
    if (!Printable(i.key) || i.status < 100 || i.status > 599) return false;
    const uint64_t body_len = GetU32(q + 2);
    ext.remove_prefix(1 + len + kFingerprintBytes + 6);
    if (ext.size() < body_len) return false;
    i.body = ext.substr(0, body_len);
    ext.remove_prefix(body_len);
    out->has_idempotency = true;
  }
  return ext.empty();
}

// Validates a commit payload's ops (exactly `count` filling `ops`, each
// well-formed) and returns the bytes after them through *rest.
bool CheckCommitOps(std::string_view ops, uint16_t count, std::string_view* op_bytes,
                    std::string_view* rest) {
  if (count > kMaxCommitOps) return false;
  const char* begin = ops.data();
  std::string_view keys[kMaxCommitOps];
  for (uint16_t i = 0; i < count; ++i) {
    if (ops.size() < kCommitOpFixed) return false;
    const uint8_t type = static_cast<uint8_t>(ops[0]);
    const uint16_t key_len = GetU16(ops.data() + 2);
    const uint32_t value_len = GetU32(ops.data() + 4);
    if ((type != kRecordPut && type != kRecordTombstone) || ops[1] != 0) return false;
    if (key_len == 0 || key_len > kMaxKeyBytes || value_len > kMaxRecordValueBytes) return false;
    if ((type == kRecordTombstone) != (value_len == 0)) return false;
    if (ops.size() < kCommitOpFixed + uint64_t{key_len} + value_len) return false;
    // A transaction writes each key once.
    keys[i] = ops.substr(kCommitOpFixed, key_len);
    for (uint16_t j = 0; j < i; ++j) {
      if (keys[j] == keys[i]) return false;
    }
    ops.remove_prefix(kCommitOpFixed + key_len + value_len);
  }
  *op_bytes = std::string_view(begin, static_cast<size_t>(ops.data() - begin));
  *rest = ops;
  return true;
}

}  // namespace

size_t EncodedSize(size_t ws_len, size_t key_len, size_t value_len) {
  return AlignUp(kRecordHeaderSize + kRecordFixedPayload + ws_len + key_len + value_len);
}

size_t EncodedSize(const Record& r) { return AlignUp(kRecordHeaderSize + PayloadBytes(r)); }

bool NextCommitOp(std::string_view* rest, CommitOp* op) {
  if (rest->size() < kCommitOpFixed) return false;
  const char* p = rest->data();
  op->type = static_cast<uint8_t>(p[0]);
  const uint16_t key_len = GetU16(p + 2);
  const uint32_t value_len = GetU32(p + 4);
  op->version = GetU64(p + 8);
  op->expires_at_ms = static_cast<int64_t>(GetU64(p + 16));
  op->key = rest->substr(kCommitOpFixed, key_len);
  op->value = rest->substr(kCommitOpFixed + key_len, value_len);
  rest->remove_prefix(std::min(rest->size(), kCommitOpFixed + key_len + value_len));
  return true;
}

void AppendRecord(const Record& r, std::string* out) {
  const size_t payload = PayloadBytes(r);
  const size_t total = AlignUp(kRecordHeaderSize + payload);
  const size_t start = out->size();
  out->resize(start + total);  // zero-fills the padding
  char* p = out->data() + start;
  PutU32(p + 8, static_cast<uint32_t>(payload));
  p[12] = static_cast<char>(r.type);
  p[13] = static_cast<char>(Flags(r));
  PutU16(p + 14, 0);
  char* q = p + kRecordHeaderSize;
  if (r.type != kRecordCommit) {
    PutU64(q, r.lsn);
    PutU64(q + 8, r.version);
    PutU64(q + 16, static_cast<uint64_t>(r.updated_at_ms));
    PutU64(q + 24, static_cast<uint64_t>(r.expires_at_ms));
    PutU16(q + 32, static_cast<uint16_t>(r.workspace.size()));
    PutU16(q + 34, static_cast<uint16_t>(r.key.size()));
    PutU32(q + 36, static_cast<uint32_t>(r.value.size()));
    q += kRecordFixedPayload;
    q = PutBytes(q, r.workspace);
    q = PutBytes(q, r.key);
    q = PutBytes(q, r.value);
  } else {
    PutU64(q, r.lsn);
    PutU64(q + 8, static_cast<uint64_t>(r.updated_at_ms));
    PutU16(q + 16, static_cast<uint16_t>(r.workspace.size()));
    PutU16(q + 18, static_cast<uint16_t>(r.ops.size()));
    PutU32(q + 20, 0);
    q += kCommitFixedPayload;
    q = PutBytes(q, r.workspace);
    for (const CommitOp& op : r.ops) {
      q[0] = static_cast<char>(op.type);
      q[1] = 0;
      PutU16(q + 2, static_cast<uint16_t>(op.key.size()));
      PutU32(q + 4, static_cast<uint32_t>(op.value.size()));
      PutU64(q + 8, op.version);
      PutU64(q + 16, static_cast<uint64_t>(op.expires_at_ms));
      q += kCommitOpFixed;
      q = PutBytes(q, op.key);
      q = PutBytes(q, op.value);
    }
  }
  PutExtensions(r, q);
  PutU64(p, XXH3_64bits_withSeed(p + 8, 8 + payload, kChecksumSeed));
}

const char* DecodeStatusName(DecodeStatus s) {
  switch (s) {
    case DecodeStatus::kOk: return "ok";
    case DecodeStatus::kEndOfData: return "end of data";
    case DecodeStatus::kTruncated: return "truncated record";
    case DecodeStatus::kBadLength: return "impossible record length";
    case DecodeStatus::kBadChecksum: return "checksum mismatch";
    case DecodeStatus::kBadType: return "unknown record type or flags";
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
  const uint8_t type = static_cast<uint8_t>(p[12]);
  const size_t fixed = type == kRecordCommit ? kCommitFixedPayload : kRecordFixedPayload;
  if (payload < std::min(kRecordFixedPayload, kCommitFixedPayload) ||
      payload > kMaxRecordPayloadBytes) {
    return DecodeStatus::kBadLength;
  }
  const size_t total = AlignUp(kRecordHeaderSize + payload);
  if (buf.size() < kRecordHeaderSize + payload) return DecodeStatus::kTruncated;
  if (XXH3_64bits_withSeed(p + 8, 8 + payload, kChecksumSeed) != checksum)
    return DecodeStatus::kBadChecksum;
  if (type != kRecordPut && type != kRecordTombstone && type != kRecordCommit)
    return DecodeStatus::kBadType;
  if (payload < fixed || GetU16(p + 14) != 0) return DecodeStatus::kBadLength;
  const uint8_t flags = static_cast<uint8_t>(p[13]);
  // Only the sweep writes the expired flag, and only on a tombstone with
  // no extension (expiry has no writer and answers no request): on
  // anything else it is damage.
  if ((flags & kRecordFlagExpired) &&
      (type != kRecordTombstone || (flags & (kRecordFlagWriter | kRecordFlagIdempotency))))
    return DecodeStatus::kBadType;
  const char* q = p + kRecordHeaderSize;
  const std::string_view body(q, payload);
  std::string_view ext;
  *out = Record{};
  out->type = type;
  out->expired = (flags & kRecordFlagExpired) != 0;
  if (type != kRecordCommit) {
    const uint16_t ws_len = GetU16(q + 32);
    const uint16_t key_len = GetU16(q + 34);
    const uint32_t value_len = GetU32(q + 36);
    // Each field within the bound the writers enforce (engine/store.cc),
    // not only their sum: a record no writer could produce is never loaded.
    if (ws_len > kMaxWorkspaceBytes || key_len > kMaxKeyBytes || value_len > kMaxRecordValueBytes)
      return DecodeStatus::kBadLength;
    const uint64_t used = kRecordFixedPayload + uint64_t{ws_len} + key_len + value_len;
    if (used > payload) return DecodeStatus::kBadLength;
    out->lsn = GetU64(q);
    out->version = GetU64(q + 8);
    out->updated_at_ms = static_cast<int64_t>(GetU64(q + 16));
    out->expires_at_ms = static_cast<int64_t>(GetU64(q + 24));
    out->workspace = body.substr(kRecordFixedPayload, ws_len);
    out->key = body.substr(kRecordFixedPayload + ws_len, key_len);
    out->value = body.substr(kRecordFixedPayload + ws_len + key_len, value_len);
    ext = body.substr(used);
  } else {
    const uint16_t ws_len = GetU16(q + 16);
    const uint16_t op_count = GetU16(q + 18);
    if (ws_len > kMaxWorkspaceBytes || GetU32(q + 20) != 0 ||
        kCommitFixedPayload + ws_len > payload) {
      return DecodeStatus::kBadLength;
    }
    out->lsn = GetU64(q);
    out->updated_at_ms = static_cast<int64_t>(GetU64(q + 8));
    out->workspace = body.substr(kCommitFixedPayload, ws_len);
    out->op_count = op_count;
    if (!CheckCommitOps(body.substr(kCommitFixedPayload + ws_len), op_count, &out->op_bytes,
                        &ext)) {
      return DecodeStatus::kBadLength;
    }
  }
  if (!TakeExtensions(flags, ext, out)) return DecodeStatus::kBadLength;
  // A commit writes something or carries an answer; a put carries a value.
  if (type == kRecordCommit && out->op_count == 0 && !out->has_idempotency)
    return DecodeStatus::kBadLength;
  if (type == kRecordPut && out->value.empty()) return DecodeStatus::kBadLength;
  // Padding may be cut off at the very end of a buffer; that is harmless.
  *consumed = total <= buf.size() ? total : buf.size();
  return DecodeStatus::kOk;
}

}  // namespace casmem::wal
