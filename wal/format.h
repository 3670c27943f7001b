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
// payload: lsn u64 | version u64 | updated_at_ms i64 | expires_at_ms i64
//          | ws_len u16 | key_len u16 | value_len u32
//          | ws bytes | key bytes | value bytes (compact JSON; empty for a tombstone)
// padding: zero bytes up to the next multiple of kRecordAlign.
// In a format-1 segment an all-zero record header marks the end of the data.
inline constexpr size_t kRecordHeaderSize = 16;
inline constexpr size_t kRecordFixedPayload = 8 + 8 + 8 + 8 + 2 + 2 + 4;  // 40
inline constexpr size_t kRecordAlign = 8;
inline constexpr uint8_t kRecordPut = 1;
inline constexpr uint8_t kRecordTombstone = 2;
inline constexpr size_t kMaxWorkspaceBytes = 128;
inline constexpr size_t kMaxKeyBytes = 1024;
// Upper bound of a value the log accepts at all (the server's own
// --max-value-bytes is lower); guards decode against absurd lengths.
inline constexpr uint32_t kMaxRecordValueBytes = 256u * 1024 * 1024;

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
