// Shared by the fuzz targets: a check that aborts (so libFuzzer records the
// input), a strict "exactly one JSON value" validator, and checksum fix-ups
// that let the binary targets reach past the XXH3 checks of the WAL and
// snapshot formats (wal/format.h) instead of stopping at them.
#pragma once

#include <rapidjson/reader.h>
#include <xxhash.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wal/endian.h"
#include "wal/format.h"

namespace casmem::fuzz {

// Invariant broken: print why and abort, which libFuzzer reports as a crash.
#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond,         \
                   __FILE__, __LINE__);                                       \
      std::abort();                                                           \
    }                                                                         \
  } while (0)

// True iff `text` is exactly one JSON value (surrounding whitespace
// allowed) with valid UTF-8 bytes. Parsed iteratively, like the server.
inline bool IsOneJsonValue(std::string_view text) {
  rapidjson::BaseReaderHandler<> ignore;
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag;
  return !reader.Parse<kFlags>(ms, ignore).IsError();
}

// Inputs of the binary targets start with a mode byte; bit 0 set asks the
// target to recompute the checksums in the rest before decoding it.
inline bool WantsFixup(std::string_view data) {
  return !data.empty() && (static_cast<unsigned char>(data[0]) & 1);
}

// Rewrites the checksum of every record framed in [pos, end), following
// each header's payload_len, until an all-zero header or a record that
// would cross `end`. With `renumber`, first sets the records' lsns to
// first_lsn, first_lsn + 1, ... Returns how many records it framed.
inline uint32_t FixRecordChecksums(std::string* buf, size_t pos, size_t end,
                                   bool renumber = false, uint64_t first_lsn = 0) {
  using namespace casmem::wal;
  uint32_t n = 0;
  while (pos + kRecordHeaderSize <= end) {
    char* p = buf->data() + pos;
    if (std::string_view(p, kRecordHeaderSize).find_first_not_of('\0') == std::string_view::npos)
      break;
    const uint64_t payload = GetU32(p + 8);
    if (payload > end - pos - kRecordHeaderSize) break;
    if (renumber && payload >= 8) PutU64(p + kRecordHeaderSize, first_lsn + n);
    PutU64(p, XXH3_64bits_withSeed(p + 8, 8 + payload, kChecksumSeed));
    ++n;
    pos += (kRecordHeaderSize + payload + kRecordAlign - 1) & ~(kRecordAlign - 1);
  }
  return n;
}
inline uint32_t FixRecordChecksums(std::string* buf, size_t pos) {
  return FixRecordChecksums(buf, pos, buf->size());
}

// Format 2: for each batch framed from `pos` on (by its body_len, until an
// all-zero header, a header of another kind, or the end of the buffer):
// the record checksums inside its body, then the body checksum, then the
// header checksum. A batch whose body runs past the end gets only its
// header checksum, so the reader sees it as truncated, not as a bad
// header. With `renumber` the records' lsns and the header's count are
// first made to agree with the header's first_lsn.
inline void FixBatchChecksums(std::string* buf, size_t pos, bool renumber = false) {
  using namespace casmem::wal;
  while (pos + kBatchHeaderSize <= buf->size()) {
    char* p = buf->data() + pos;
    if (std::string_view(p, kBatchHeaderSize).find_first_not_of('\0') == std::string_view::npos)
      return;
    if (GetU32(p + 8) != kBatchKind) return;
    const uint64_t body_len = GetU64(p + 24);
    const size_t body = pos + kBatchHeaderSize;
    const bool whole = body_len <= buf->size() - body;
    if (whole) {
      const uint32_t n = FixRecordChecksums(buf, body, body + body_len, renumber, GetU64(p + 16));
      if (renumber) PutU32(p + 12, n);
      PutU64(p + 32, XXH3_64bits_withSeed(buf->data() + body, body_len, kChecksumSeed));
    }
    PutU64(p, XXH3_64bits_withSeed(p + 8, kBatchHeaderSize - 8, kChecksumSeed));
    if (!whole) return;
    pos = body + body_len;
  }
}

inline void FixSegmentHeader(std::string* buf) {
  using namespace casmem::wal;
  if (buf->size() < kSegmentHeaderSize) return;
  PutU64(buf->data() + 24, XXH3_64bits_withSeed(buf->data(), 24, kChecksumSeed));
}

// A whole segment: its header (unless all zeros: that is the "header
// lost with the first batch" case the reader handles on its own), then
// the records (format 1, as the header says) or the batches (format 2, or
// any other format number, or no header) after it.
inline void FixSegmentChecksums(std::string* buf, bool renumber = false) {
  using namespace casmem::wal;
  if (buf->size() < kSegmentHeaderSize) return;
  const std::string_view head(buf->data(), 24);
  const bool no_header = head.find_first_not_of('\0') == std::string_view::npos;
  if (!no_header) FixSegmentHeader(buf);
  if (!no_header && GetU32(buf->data() + 8) == kSegmentFormatV1) {
    // Renumbering follows the first record's own lsn, if it has one.
    const size_t lsn_at = kSegmentHeaderSize + kRecordHeaderSize;
    const bool has_lsn = buf->size() >= lsn_at + 8;
    FixRecordChecksums(buf, kSegmentHeaderSize, buf->size(), renumber && has_lsn,
                       has_lsn ? GetU64(buf->data() + lsn_at) : 0);
  } else {
    FixBatchChecksums(buf, kSegmentHeaderSize, renumber);
  }
}

// The snapshot trailer's checksum covers every byte before it; the
// records (format-1 encoding, no batches) lie between header and trailer.
inline void FixSnapshotTrailer(std::string* buf) {
  using namespace casmem::wal;
  if (buf->size() < kSnapshotHeaderSize + kSnapshotTrailerSize) return;
  FixRecordChecksums(buf, kSnapshotHeaderSize, buf->size() - kSnapshotTrailerSize);
  PutU64(buf->data() + buf->size() - 8,
         XXH3_64bits_withSeed(buf->data(), buf->size() - 8, kChecksumSeed));
}

}  // namespace casmem::fuzz
