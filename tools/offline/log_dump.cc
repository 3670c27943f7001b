// `casmem dump --log` (was casmem-waldump): prints the records of log
// segments and snapshots, one line each, and says where and why a file
// stops being readable. Read only: it never repairs anything.
//
//   casmem dump --log [--hex] [FILE...]   segments (*.wal) or snapshots (*.snap);
//                                         no FILE: the data directory's, snapshots first
#include "tools/offline/log_dump.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/snapshot.h"
#include "wal/format.h"
#include "wal/log_reader.h"
#include "wal/record.h"
#include "wal/segment.h"

namespace casmem::offline {
namespace {

bool g_hex = false;

void PrintHex(std::string_view raw) {
  if (!g_hex) return;
  for (size_t i = 0; i < raw.size(); i += 16) {
    std::printf("            %04zx:", i);
    for (size_t j = i; j < std::min(raw.size(), i + 16); ++j) {
      std::printf(" %02x", static_cast<unsigned char>(raw[j]));
    }
    std::printf("\n");
  }
}

void PrintValue(uint8_t type, std::string_view value) {
  if (type != wal::kRecordPut) return;
  const size_t shown = std::min<size_t>(value.size(), 80);
  std::printf(" value=%.*s%s", static_cast<int>(shown), value.data(),
              shown < value.size() ? "..." : "");
}

// The extensions of issue 8: the writer's name, and a remembered
// Idempotency-Key answer (its key and status; the body is a response the
// client already had, shown shortened).
void PrintExtensions(const wal::Record& r) {
  if (!r.writer.empty()) {
    std::printf(" writer=%.*s", static_cast<int>(r.writer.size()), r.writer.data());
  }
  if (r.has_idempotency) {
    const wal::IdempotencyPart& i = r.idempotency;
    const size_t shown = std::min<size_t>(i.body.size(), 60);
    std::printf(" idempotency_key=%.*s answer=%u:%.*s%s", static_cast<int>(i.key.size()),
                i.key.data(), i.status, static_cast<int>(shown), i.body.data(),
                shown < i.body.size() ? "..." : "");
  }
}

void PrintRecord(uint64_t offset, const wal::Record& r, std::string_view raw) {
  if (r.type == wal::kRecordCommit) {
    std::printf("%10" PRIu64 "  lsn=%" PRIu64 " commit ws=%.*s ops=%u updated_at_ms=%" PRId64,
                offset, r.lsn, static_cast<int>(r.workspace.size()), r.workspace.data(),
                r.op_count, r.updated_at_ms);
    PrintExtensions(r);
    std::printf("\n");
    std::string_view rest = r.op_bytes;
    wal::CommitOp op;
    for (uint16_t i = 0; i < r.op_count && wal::NextCommitOp(&rest, &op); ++i) {
      std::printf("            op %u: %s key=%.*s version=%" PRIu64, i,
                  op.type == wal::kRecordPut ? "put" : "tombstone",
                  static_cast<int>(op.key.size()), op.key.data(), op.version);
      if (op.expires_at_ms) std::printf(" expires_at_ms=%" PRId64, op.expires_at_ms);
      PrintValue(op.type, op.value);
      std::printf("\n");
    }
    PrintHex(raw);
    return;
  }
  // An expired tombstone (the sweep's, kRecordFlagExpired) is an `expire`
  // change, not a delete: "tombstone expired".
  std::printf("%10" PRIu64 "  lsn=%" PRIu64 " %s ws=%.*s key=%.*s version=%" PRIu64
              " updated_at_ms=%" PRId64,
              offset, r.lsn,
              r.type == wal::kRecordPut ? "put" : (r.expired ? "tombstone expired" : "tombstone"),
              static_cast<int>(r.workspace.size()), r.workspace.data(),
              static_cast<int>(r.key.size()), r.key.data(), r.version, r.updated_at_ms);
  if (r.expires_at_ms) std::printf(" expires_at_ms=%" PRId64, r.expires_at_ms);
  PrintValue(r.type, r.value);
  PrintExtensions(r);
  std::printf("\n");
  PrintHex(raw);
}

// Walks the segment with the reader recovery uses (wal::ReadSegment), so
// what it prints is what recovery would see.
int DumpSegment(const std::string& path) {
  std::string buf;
  Status s = wal::ReadWholeFile(wal::PosixFileSystem(), path, &buf);
  if (!s.ok()) {
    std::fprintf(stderr, "casmem: %s\n", s.ToString().c_str());
    return 4;  // kExitFailed: the file cannot be read
  }
  uint64_t records = 0, batches = 0, last_lsn = 0;
  bool headed = false;
  wal::SegmentEnd end;
  // ReadSegment fills `end` (format, header_missing) before the first batch.
  auto heading = [&]() {
    if (headed) return;
    headed = true;
    uint64_t seq = 0;
    uint32_t format = 0;
    if (wal::VerifySegmentHeader(buf, path, &seq, &format).ok()) {
      std::printf("%s: segment %" PRIu64 ", format %" PRIu32 ", %zu bytes\n", path.c_str(), seq,
                  format, buf.size());
    } else if (end.header_missing) {
      std::printf("%s: segment header is all zeros (a rotation that crashed), %zu bytes\n",
                  path.c_str(), buf.size());
    }
  };
  s = wal::ReadSegment(
      buf, path,
      [&](const wal::BatchAt& b) {
        heading();
        if (end.format != wal::kSegmentFormatV1) {  // format 1 has no batch headers
          std::printf("%10" PRIu64 "  batch lsn=%" PRIu64 "..%" PRIu64 " records=%" PRIu32
                      " bytes=%" PRIu64 " synced_lsn=%" PRIu64 "\n",
                      b.offset, b.header.first_lsn, b.header.first_lsn + b.header.count - 1,
                      b.header.count, b.size, b.header.synced_lsn);
          PrintHex(std::string_view(buf).substr(b.offset, wal::kBatchHeaderSize));
        }
        for (const wal::RecordAt& r : b.records) {
          PrintRecord(r.offset, r.record, std::string_view(buf).substr(r.offset, r.size));
        }
        records += b.records.size();
        ++batches;
        last_lsn = b.header.first_lsn + b.header.count - 1;
        return Status::OK();
      },
      &end);
  if (!s.ok()) {
    std::fprintf(stderr, "casmem: %s\n", s.ToString().c_str());
    return 2;  // kExitConflict: the header is damaged
  }
  heading();
  if (end.damage.empty()) {
    std::printf("%10" PRIu64 "  end of data (%" PRIu64 " records in %" PRIu64 " batches)\n",
                end.offset, records, batches);
    return 0;
  }
  std::printf("%10" PRIu64 "  damage: %s (%" PRIu64 " records in %" PRIu64
              " batches before it; non-zero bytes end at %" PRIu64 ")\n",
              end.offset, end.damage.c_str(), records, batches, end.data_end);
  const wal::LaterData later = wal::FindValidDataAfter(buf, end.format, end.offset, last_lsn);
  if (later.found) {
    std::printf("%10" PRIu64 "  valid data follows; the latest was written when lsn %" PRIu64
                " was durable (%s)\n",
                later.offset, later.max_synced_lsn,
                later.max_synced_lsn > last_lsn ? "the damaged bytes had been synced: damage"
                                                : "if this is the last segment: a torn tail");
  }
  return 2;
}

int DumpSnapshot(const std::string& path) {
  uint64_t start = 0, count = 0;
  Status s = ReadSnapshot(
      wal::PosixFileSystem(), path, [](const wal::Record& r) { PrintRecord(0, r, {}); }, &start,
      &count);
  if (!s.ok()) {
    std::fprintf(stderr, "casmem: %s\n", s.ToString().c_str());
    return 2;
  }
  std::printf("%s: snapshot at lsn %" PRIu64 ", %" PRIu64 " records, checksum ok\n", path.c_str(),
              start, count);
  return 0;
}

}  // namespace

int DumpLog(const std::vector<std::string>& files, bool hex) {
  g_hex = hex;
  int rc = 0;
  for (const std::string& f : files) {
    rc = std::max(rc, f.ends_with(".snap") ? DumpSnapshot(f) : DumpSegment(f));
  }
  return rc;
}

}  // namespace casmem::offline
