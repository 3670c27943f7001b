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

// Rewrites the checksum of every record framed from `pos` on, following
// each header's payload_len, until an all-zero header or the end.
inline void FixRecordChecksums(std::string* buf, size_t pos) {
  using namespace casmem::wal;
  while (pos + kRecordHeaderSize <= buf->size()) {
    char* p = buf->data() + pos;
    if (std::string_view(p, kRecordHeaderSize).find_first_not_of('\0') == std::string_view::npos)
      return;
    const uint64_t payload = GetU32(p + 8);
    if (payload > buf->size() - pos - kRecordHeaderSize) return;
    PutU64(p, XXH3_64bits_withSeed(p + 8, 8 + payload, kChecksumSeed));
    pos += (kRecordHeaderSize + payload + kRecordAlign - 1) & ~(kRecordAlign - 1);
  }
}

inline void FixSegmentHeader(std::string* buf) {
  using namespace casmem::wal;
  if (buf->size() < kSegmentHeaderSize) return;
  PutU64(buf->data() + 24, XXH3_64bits_withSeed(buf->data(), 24, kChecksumSeed));
}

// The snapshot trailer's checksum covers every byte before it.
inline void FixSnapshotTrailer(std::string* buf) {
  using namespace casmem::wal;
  if (buf->size() < kSnapshotHeaderSize + kSnapshotTrailerSize) return;
  FixRecordChecksums(buf, kSnapshotHeaderSize);
  PutU64(buf->data() + buf->size() - 8,
         XXH3_64bits_withSeed(buf->data(), buf->size() - 8, kChecksumSeed));
}

}  // namespace casmem::fuzz
