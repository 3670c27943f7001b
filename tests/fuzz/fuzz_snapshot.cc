// Fuzz target: the snapshot reader (ReadSnapshot, engine/snapshot.h) over
// MemFs. Input: a mode byte (bit 0: recompute the record checksums and the
// trailer's whole-file checksum, to reach the record walk), then the file
// bytes. Invariants: no crash; on OK exactly `records` records were
// applied, each of a known type.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/snapshot.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/support/mem_fs.h"
#include "common/logger.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  casmem::SetLogLevel(casmem::LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  std::string file(in.substr(1));
  if (casmem::fuzz::WantsFixup(in)) casmem::fuzz::FixSnapshotTrailer(&file);

  casmem::testing::MemFs fs;
  FUZZ_CHECK(fs.CreateDirs("/fz/snap").ok());
  const std::string path = "/fz/snap/" + casmem::SnapshotName(7);
  fs.WriteFile(path, file);
  uint64_t start = 0, records = 0, applied = 0;
  casmem::Status s = casmem::ReadSnapshot(&fs, path, [&](const casmem::wal::Record& r) {
    FUZZ_CHECK(r.type == casmem::wal::kRecordPut || r.type == casmem::wal::kRecordTombstone ||
               r.type == casmem::wal::kRecordCommit);
    ++applied;
  }, &start, &records);
  if (s.ok()) FUZZ_CHECK(applied == records);
  return 0;
}
