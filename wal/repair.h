// Repair: the only writes recovery makes to existing log files. ScanLog
// (wal/log_reader.cc) decides; these functions act, and only ever on the
// last segment: cut a torn tail (after keeping a copy of it), or give an
// empty segment left by a crashed rotation its header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wal/file_ops.h"

namespace casmem::wal {

// "<segment>.<offset>.broken": where the bytes cut at `offset` are kept.
std::string BrokenCopyPath(const std::string& segment_path, uint64_t offset);

// Copies bytes [from, to) of the segment at `path` (whose contents are
// `bytes`) to BrokenCopyPath(path, from) and makes the copy durable (file
// and directory entry) before it zeroes that range in the segment and
// syncs it. With `header_seq` the segment header, which was lost with the
// torn write, is written again too. A crash midway leaves either the old
// bytes (the next start cuts them again) or the cut; never a lost copy.
Status CutTornTail(FileSystem* fs, const std::string& dir, const std::string& path,
                   std::string_view bytes, uint64_t from, uint64_t to,
                   std::optional<uint64_t> header_seq);

// Writes the header of an all-zero segment and syncs it.
Status RestoreSegmentHeader(FileSystem* fs, const std::string& path, uint64_t seq);

}  // namespace casmem::wal
