// Fuzz target: the segment reader (wal::ScanLog) over MemFs. Input: a mode
// byte (bit 0: recompute the segment header and record checksums, bit 1:
// replay after lsn 1 instead of 0), then the bytes of the only segment,
// "/fz/wal/0000000000000001-0000000000000001.wal". Invariants: ScanLog
// returns (OK or an error naming the damage) without crashing; on OK the
// replayed lsns are consecutive and the result's counters agree.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tests/support/mem_fs.h"
#include "wal/log_reader.h"
#include "common/logger.h"
#include "wal/segment.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  casmem::SetLogLevel(casmem::LogLevel::kError);  // torn-tail notes are expected
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace casmem::wal;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const unsigned mode = static_cast<unsigned char>(in[0]);
  std::string seg(in.substr(1));
  if (mode & 1) {
    casmem::fuzz::FixSegmentHeader(&seg);
    casmem::fuzz::FixRecordChecksums(&seg, kSegmentHeaderSize);
  }
  const uint64_t after = (mode & 2) ? 1 : 0;

  casmem::testing::MemFs fs;
  FUZZ_CHECK(fs.CreateDirs("/fz/wal").ok());
  fs.WriteFile("/fz/wal/" + FormatSegmentName(1, 1), seg);

  uint64_t next = after + 1, replayed = 0;
  ScanResult result;
  casmem::Status s = ScanLog(&fs, "/fz/wal", after, [&](const Record& r) {
    FUZZ_CHECK(r.lsn == next);
    ++next;
    ++replayed;
  }, &result);
  if (!s.ok()) return 0;
  FUZZ_CHECK(result.records_replayed == replayed);
  FUZZ_CHECK(result.last_lsn == next - 1);
  FUZZ_CHECK(result.segments.size() == 1);
  return 0;
}
