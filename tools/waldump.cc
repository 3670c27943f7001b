// casmem-waldump: prints the records of log segments and snapshots, one
// line each, and says where and why a file stops being readable. Read
// only: it never repairs anything (casmemd does that on open).
//
//   casmem-waldump FILE...        segments (*.wal) or snapshots (*.snap)
//   casmem-waldump --hex FILE     also the bytes of each record
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/snapshot.h"
#include "wal/format.h"
#include "wal/record.h"
#include "wal/segment.h"

namespace {

using casmem::Status;
namespace wal = casmem::wal;

bool g_hex = false;

void PrintRecord(uint64_t offset, const wal::Record& r, std::string_view raw) {
  std::printf("%10" PRIu64 "  lsn=%" PRIu64 " %s ws=%.*s key=%.*s version=%" PRIu64
              " updated_at_ms=%" PRId64,
              offset, r.lsn, r.type == wal::kRecordPut ? "put" : "tombstone",
              static_cast<int>(r.workspace.size()), r.workspace.data(),
              static_cast<int>(r.key.size()), r.key.data(), r.version, r.updated_at_ms);
  if (r.expires_at_ms) std::printf(" expires_at_ms=%" PRId64, r.expires_at_ms);
  if (r.type == wal::kRecordPut) {
    const size_t shown = std::min<size_t>(r.value.size(), 80);
    std::printf(" value=%.*s%s", static_cast<int>(shown), r.value.data(),
                shown < r.value.size() ? "..." : "");
  }
  std::printf("\n");
  if (g_hex) {
    for (size_t i = 0; i < raw.size(); i += 16) {
      std::printf("            %04zx:", i);
      for (size_t j = i; j < std::min(raw.size(), i + 16); ++j) {
        std::printf(" %02x", static_cast<unsigned char>(raw[j]));
      }
      std::printf("\n");
    }
  }
}

int DumpSegment(const std::string& path) {
  std::unique_ptr<wal::File> f;
  Status s = wal::PosixFileSystem()->Open(path, wal::OpenMode::kRead, &f);
  uint64_t size = 0;
  if (s.ok()) s = f->Size(&size);
  std::string buf(size, '\0');
  size_t got = 0;
  if (s.ok()) s = f->ReadAt(0, size, buf.data(), &got);
  if (!s.ok()) {
    std::fprintf(stderr, "casmem-waldump: %s\n", s.ToString().c_str());
    return 1;
  }
  uint64_t seq = 0;
  s = wal::VerifySegmentHeader(buf, path, &seq);
  if (!s.ok()) {
    std::fprintf(stderr, "casmem-waldump: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("%s: segment %" PRIu64 ", %" PRIu64 " bytes\n", path.c_str(), seq, size);
  size_t pos = wal::kSegmentHeaderSize;
  uint64_t n = 0;
  for (;;) {
    wal::Record r;
    size_t used = 0;
    auto ds = wal::DecodeRecord(std::string_view(buf).substr(pos), &r, &used);
    if (ds != wal::DecodeStatus::kOk) {
      std::printf("%10zu  end: %s (%" PRIu64 " records)\n", pos, wal::DecodeStatusName(ds), n);
      return ds == wal::DecodeStatus::kEndOfData ? 0 : 2;
    }
    PrintRecord(pos, r, std::string_view(buf).substr(pos, used));
    pos += used;
    ++n;
  }
}

int DumpSnapshot(const std::string& path) {
  uint64_t start = 0, count = 0;
  Status s = casmem::ReadSnapshot(
      wal::PosixFileSystem(), path, [](const wal::Record& r) { PrintRecord(0, r, {}); }, &start,
      &count);
  if (!s.ok()) {
    std::fprintf(stderr, "casmem-waldump: %s\n", s.ToString().c_str());
    return 2;
  }
  std::printf("%s: snapshot at lsn %" PRIu64 ", %" PRIu64 " records, checksum ok\n", path.c_str(),
              start, count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int rc = 0, files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--hex") {
      g_hex = true;
    } else if (arg == "-h" || arg == "--help") {
      std::printf("usage: casmem-waldump [--hex] FILE...\n"
                  "Prints the records of casmem log segments (*.wal) and snapshots (*.snap).\n"
                  "Exit status: 0 readable to a clean end, 1 unreadable, 2 damaged.\n");
      return 0;
    } else {
      ++files;
      const int r = arg.ends_with(".snap") ? DumpSnapshot(arg) : DumpSegment(arg);
      rc = std::max(rc, r);
    }
  }
  if (files == 0) {
    std::fprintf(stderr, "usage: casmem-waldump [--hex] FILE...\n");
    return 1;
  }
  return rc;
}
