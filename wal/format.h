// On-disk constants of the write-ahead log and of snapshots. The grammar,
// a worked example and the reasons are in docs/wal_format.md; change
// neither without the other. All integers are little-endian.
#pragma once

#include <cstddef>
#include <cstdint>

namespace casmem::wal {

// Seed of every checksum (XXH3-64) in the log and in snapshots.
inline constexpr uint64_t kChecksumSeed = 0x63'61'73'6d'65'6d'01'00ULL;  // "casmem\1\0"

// ---- Segment file: DATA/wal/<seq:016x>-<first_lsn:016x>.wal -------------
// header: magic u64 | format u32 | reserved u32 (0) | seq u64 | checksum u64
//         (checksum = XXH3 over the first 24 bytes)
// Format 2 (written today): after the header, batches (below). Format 1
// (read only): after the header, bare records.
inline constexpr uint64_t kSegmentMagic = 0x314C4157'4D534143ULL;  // "CASMWAL1"
inline constexpr uint32_t kSegmentFormat = 2;
inline constexpr uint32_t kSegmentFormatV1 = 1;
inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr uint64_t kMinSegmentBytes = 64 * 1024;
inline constexpr uint64_t kDefaultSegmentBytes = 64ULL * 1024 * 1024;
inline constexpr char kSegmentSuffix[] = ".wal";
inline constexpr char kSpareSegmentSuffix[] = ".wal.tmp";  // "spare-<n>.wal.tmp"
inline constexpr char kBrokenSuffix[] = ".broken";

// ---- Batch (format 2): what one write of the log writer put in a segment -
// header: checksum u64 | kind u32 (kBatchKind) | count u32 | first_lsn u64
//         | body_len u64 | body_checksum u64 | synced_lsn u64
//         checksum = XXH3(seed) over header bytes [8, 48);
//         body_checksum = XXH3(seed) over the body_len bytes after the header.
// body:   `count` records (lsns first_lsn, first_lsn + 1, ...), padding included.
// synced_lsn: every lsn <= it was durable (fdatasync returned) before this
// batch was written; recovery uses it to tell a torn tail from damage.
// kBatchKind sits where a record keeps payload_len and is larger than any
// payload, so a batch header never decodes as a record. An all-zero header
// marks the end of the data.
inline constexpr size_t kBatchHeaderSize = 48;
inline constexpr uint32_t kBatchKind = 0x48435442;  // "BTCH"

// ---- Record: one committed operation, 8-byte aligned ---------------------
// header:  checksum u64 | payload_len u32 | type u8 | flags u8 | reserved u16 (0)
//          checksum = XXH3(seed) over bytes [8, 16 + payload_len)
// payload of a put (type 1) or tombstone (type 2), one key:
//          lsn u64 | version u64 | updated_at_ms i64 | expires_at_ms i64
//          | ws_len u16 | key_len u16 | value_len u32
//          | ws bytes | key bytes | value bytes (compact JSON; empty for a tombstone)
//          | extensions
// payload of a commit (type 3): a transaction's writes under one lsn, or
// with no op, only a remembered Idempotency-Key answer:
//          lsn u64 | updated_at_ms i64 | ws_len u16 | op_count u16 | reserved u32 (0)
//          | ws bytes | op_count ops | extensions
//   op:    type u8 (1 or 2) | reserved u8 (0) | key_len u16 | value_len u32
//          | version u64 | expires_at_ms i64 | key bytes | value bytes
// extensions, in this order, present when their flag bit is set:
//   kRecordFlagWriter: writer_len u8 | writer bytes (Casmem-Writer, 1-128)
//   kRecordFlagIdempotency: key_len u8 | key bytes (Idempotency-Key, 1-255)
//          | fingerprint (16 bytes) | status u16 | body_len u32 | body bytes
// padding: zero bytes up to the next multiple of kRecordAlign.
// The lengths must add up to payload_len exactly. Records written before
// issue 8 are types 1 and 2 with flags 0, which read as before.
// In a format-1 segment an all-zero record header marks the end of the data.
inline constexpr size_t kRecordHeaderSize = 16;
inline constexpr size_t kRecordFixedPayload = 8 + 8 + 8 + 8 + 2 + 2 + 4;  // 40
inline constexpr size_t kCommitFixedPayload = 8 + 8 + 2 + 2 + 4;           // 24
inline constexpr size_t kCommitOpFixed = 1 + 1 + 2 + 4 + 8 + 8;             // 24
inline constexpr size_t kRecordAlign = 8;
inline constexpr uint8_t kRecordPut = 1;
inline constexpr uint8_t kRecordTombstone = 2;
inline constexpr uint8_t kRecordCommit = 3;
inline constexpr uint8_t kRecordFlagWriter = 1;
inline constexpr uint8_t kRecordFlagIdempotency = 2;
// A tombstone (type 2) the sweep logged because the key's TTL ran out
// (an `expire` change, memory-api.md §8), not a DELETE. No payload bytes;
// version = the expired version, updated_at_ms = the expiry instant, no
// writer and no remembered answer. On a put, a commit, or with either
// extension flag, the record is refused (DecodeStatus::kBadType).
inline constexpr uint8_t kRecordFlagExpired = 4;
inline constexpr size_t kMaxWriterBytes = 128;
inline constexpr size_t kMaxIdempotencyKeyBytes = 255;
inline constexpr size_t kFingerprintBytes = 16;
inline constexpr size_t kMaxCommitOps = 128;  // a transaction's ops (memory-api.md §6)
inline constexpr size_t kMaxWorkspaceBytes = 128;
inline constexpr size_t kMaxKeyBytes = 1024;
// Upper bound of a value the log accepts at all (the server's own
// --max-value-bytes is lower); guards decode against absurd lengths.
inline constexpr uint32_t kMaxRecordValueBytes = 256u * 1024 * 1024;
// Upper bound of a whole payload: a commit's values together, plus a
// remembered answer (which may repeat a value), plus names.
inline constexpr uint64_t kMaxRecordPayloadBytes = 2ULL * kMaxRecordValueBytes + (1u << 20);

// ---- Snapshot file: DATA/snap/snapshot-<start_lsn:016x>.snap --------------
// header:  magic u64 | format u32 | reserved u32 (0) | start_lsn u64
// body:    records in the record encoding above (lsn = the entry's own lsn)
// trailer: trailer magic u64 | record count u64 | checksum u64
//          (checksum = XXH3(seed) over every byte before it)
inline constexpr uint64_t kSnapshotMagic = 0x314E5041'4E534143ULL;         // "CASNAPN1"
inline constexpr uint64_t kSnapshotTrailerMagic = 0x444E4550'414E5343ULL;  // "CSNAPEND"
inline constexpr uint32_t kSnapshotFormat = 1;
inline constexpr size_t kSnapshotHeaderSize = 24;
inline constexpr size_t kSnapshotTrailerSize = 24;

}  // namespace casmem::wal
