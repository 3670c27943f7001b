// SegmentReader (segment_reader.h): sparse batch indexes of log segments
// and positioned reads of the batches a history page needs.
#include "engine/segment_reader.h"

#include <algorithm>

#include "wal/batch.h"
#include "wal/format.h"
#include "wal/log_reader.h"
#include "wal/segment.h"

namespace casmem {

namespace {

// A mark every this many bytes of log: a read starts at most this far
// before the batch it wants.
constexpr uint64_t kMarkStride = 64 * 1024;
// Reads are this large (or a whole batch, if larger): the index pass
// reads headers out of them, a page's read its batches.
constexpr size_t kBlockBytes = 256 * 1024;
// Indexes kept (the newest segments read back).
constexpr size_t kCachedIndexes = 16;

// Reads up to `n` bytes at `offset` into a fresh buffer (shorter at EOF).
Status ReadBlock(wal::File* f, uint64_t offset, size_t n, std::shared_ptr<std::string>* out) {
  auto buf = std::make_shared<std::string>(n, '\0');
  size_t got = 0;
  Status s = f->ReadAt(offset, n, buf->data(), &got);
  if (!s.ok()) return s;
  buf->resize(got);
  *out = std::move(buf);
  return Status::OK();
}

std::string At(const std::string& path, uint64_t offset) {
  return path + " offset " + std::to_string(offset);
}

}  // namespace

struct SegmentReader::Index {
  std::string path;
  uint32_t format = wal::kSegmentFormat;
  std::vector<std::pair<uint64_t, uint64_t>> marks;  // (first lsn, offset) of batches, ascending
  uint64_t last_lsn = 0;                             // of the last batch indexed; 0 = none
  uint64_t end_offset = wal::kSegmentHeaderSize;     // end of the last batch indexed
  uint64_t last_mark = 0;                            // offset of marks.back()
  // Why indexing stopped at end_offset when it was not the end of the
  // data: bad bytes there. Not sticky: the segment being written may have
  // shown a batch half written; a later call looks again. A read that
  // needs what lies past it reports it as damage.
  std::string damage;
  std::shared_ptr<const std::string> whole;  // format 1: the whole file; marks: every record
};

Status SegmentReader::Extend(const std::string& path, const std::shared_ptr<const Index>& from,
                             uint64_t to, std::shared_ptr<const Index>* out) {
  std::unique_ptr<wal::File> f;
  Status s = fs_->Open(path, wal::OpenMode::kRead, &f);
  if (!s.ok()) return s;
  // A format-1 segment is read whole again: it has no batch headers to
  // extend an index from (only a log opened on a pre-issue-7 tail still
  // appends to one).
  auto idx = from && !from->whole ? std::make_shared<Index>(*from) : std::make_shared<Index>();
  idx->path = path;
  if (!from || from->whole) {
    std::shared_ptr<std::string> head;
    s = ReadBlock(f.get(), 0, wal::kSegmentHeaderSize, &head);
    if (!s.ok()) return s;
    uint64_t seq = 0;
    s = wal::VerifySegmentHeader(*head, path, &seq, &idx->format);
    if (!s.ok()) return s;
    if (idx->format == wal::kSegmentFormatV1) {
      auto whole = std::make_shared<std::string>();
      s = wal::ReadWholeFile(fs_, path, whole.get());
      if (!s.ok()) return s;
      wal::SegmentEnd end;
      s = wal::ReadSegment(*whole, path,
                           [&](const wal::BatchAt& b) {
                             idx->marks.emplace_back(b.header.first_lsn, b.offset);
                             idx->last_lsn = b.header.first_lsn + b.header.count - 1;
                             return Status::OK();
                           },
                           &end);
      if (!s.ok()) return s;
      idx->end_offset = end.offset;
      idx->damage = end.damage;
      idx->whole = std::move(whole);
      *out = std::move(idx);
      return Status::OK();
    }
  }
  // Batch headers only: bodies are verified when a read uses them. Stops
  // at the end of what is written (a zero header), at damage (a batch
  // that would run past the end of the file included: no read is ever
  // larger than the file), or before a batch past `to` (it may still be
  // being written).
  uint64_t file_size = 0;
  s = f->Size(&file_size);
  if (!s.ok()) return s;
  std::shared_ptr<std::string> block;
  uint64_t block_at = 0;
  uint64_t pos = idx->end_offset;
  idx->damage.clear();
  while (idx->damage.empty() && idx->last_lsn < to) {
    if (!block || pos < block_at || pos + wal::kBatchHeaderSize > block_at + block->size()) {
      s = ReadBlock(f.get(), pos, kBlockBytes, &block);
      if (!s.ok()) return s;
      block_at = pos;
      if (block->size() < wal::kBatchHeaderSize) break;  // the file ends
    }
    wal::BatchHeader h;
    const wal::BatchStatus bs = wal::DecodeBatchHeader(std::string_view(*block).substr(pos - block_at), &h);
    if (bs == wal::BatchStatus::kEndOfData) break;
    if (bs != wal::BatchStatus::kOk || h.count == 0 ||
        (idx->last_lsn != 0 && h.first_lsn != idx->last_lsn + 1)) {
      idx->damage = bs != wal::BatchStatus::kOk ? std::string("batch header: ") + wal::BatchStatusName(bs)
                                                : "batch out of lsn order";
      break;
    }
    if (h.body_len > file_size - pos - wal::kBatchHeaderSize) {
      idx->damage = "batch runs past the end of the file";
      break;
    }
    const uint64_t last = h.first_lsn + h.count - 1;
    if (last > to) break;  // not acknowledged when asked: indexed by a later call
    if (idx->marks.empty() || pos - idx->last_mark >= kMarkStride) {
      idx->marks.emplace_back(h.first_lsn, pos);
      idx->last_mark = pos;
    }
    idx->last_lsn = last;
    pos += wal::kBatchHeaderSize + h.body_len;
    idx->end_offset = pos;
  }
  *out = std::move(idx);
  return Status::OK();
}

Status SegmentReader::IndexOf(const std::string& path, uint64_t to, std::shared_ptr<const Index>* out) {
  std::shared_ptr<const Index> cached;
  {
    std::lock_guard lk(mu_);
    for (const auto& i : cache_) {
      if (i->path == path) cached = i;
    }
  }
  if (cached && cached->last_lsn >= to) {
    *out = std::move(cached);
    return Status::OK();
  }
  std::shared_ptr<const Index> fresh;
  Status s = Extend(path, cached, to, &fresh);
  if (!s.ok()) return s;
  std::lock_guard lk(mu_);
  std::erase_if(cache_, [&](const std::shared_ptr<const Index>& i) { return i->path == path; });
  cache_.push_back(fresh);
  if (cache_.size() > kCachedIndexes) cache_.erase(cache_.begin());
  *out = std::move(fresh);
  return Status::OK();
}

void SegmentReader::Retain(const std::vector<std::string>& paths) {
  std::lock_guard lk(mu_);
  std::erase_if(cache_, [&](const std::shared_ptr<const Index>& i) {
    return std::find(paths.begin(), paths.end(), i->path) == paths.end();
  });
}

Status SegmentReader::Read(const std::string& path, uint64_t from, uint64_t to, const RecordFn& fn,
                           uint64_t* last) {
  *last = from - 1;
  std::shared_ptr<const Index> idx;
  Status s = IndexOf(path, to, &idx);
  if (!s.ok()) return s;
  // What this segment cannot give because of bad bytes is damage (every
  // batch up to `to` is whole on disk); a clean end just means the rest
  // is in the next segment.
  auto ended = [&]() -> Status {
    if (*last < to && !idx->damage.empty()) {
      return Status::Corruption(At(path, idx->end_offset) + ": " + idx->damage);
    }
    return Status::OK();
  };
  if (idx->marks.empty() || from > idx->last_lsn) return ended();
  // The last mark at or before `from`.
  auto mark = std::upper_bound(idx->marks.begin(), idx->marks.end(), from,
                               [](uint64_t l, const std::pair<uint64_t, uint64_t>& m) { return l < m.first; });
  if (mark == idx->marks.begin()) {
    return Status::Corruption(path + ": its first record is after revision " + std::to_string(from) +
                              ", which its name says it holds");
  }
  --mark;
  // Hands `r` on; false once the read is over.
  bool done = false;
  auto take = [&](const wal::Record& r, const std::shared_ptr<const std::string>& keep,
                  uint64_t offset) -> Status {
    if (r.lsn < from) return Status::OK();
    if (r.lsn > to) {
      done = true;
      return Status::OK();
    }
    if (r.lsn != *last + 1) {
      return Status::Corruption(At(path, offset) + ": revision " + std::to_string(r.lsn) + " follows " +
                                std::to_string(*last));
    }
    *last = r.lsn;
    if (!fn(r, keep)) done = true;
    return Status::OK();
  };
  if (idx->whole) {  // format 1: records back to back in the file read whole
    const std::string_view bytes(*idx->whole);
    for (uint64_t off = mark->second; off < idx->end_offset && !done;) {
      wal::Record r;
      size_t used = 0;
      if (wal::DecodeRecord(bytes.substr(off), &r, &used) != wal::DecodeStatus::kOk) {
        return Status::Corruption(At(path, off) + ": record does not decode");
      }
      s = take(r, idx->whole, off);
      if (!s.ok()) return s;
      off += used;
    }
    return done ? Status::OK() : ended();
  }
  std::unique_ptr<wal::File> f;
  s = fs_->Open(path, wal::OpenMode::kRead, &f);
  if (!s.ok()) return s;
  std::vector<wal::RecordAt> records;
  uint64_t pos = mark->second;
  while (pos < idx->end_offset && !done) {
    std::shared_ptr<std::string> block;
    s = ReadBlock(f.get(), pos, static_cast<size_t>(std::min<uint64_t>(kBlockBytes, idx->end_offset - pos)),
                  &block);
    if (!s.ok()) return s;
    size_t off = 0;
    while (off < block->size() && !done) {
      wal::BatchHeader h;
      const std::string_view rest = std::string_view(*block).substr(off);
      if (wal::DecodeBatchHeader(rest, &h) != wal::BatchStatus::kOk) {
        if (off > 0 && rest.size() < wal::kBatchHeaderSize) break;  // continues in the next block
        return Status::Corruption(At(path, pos + off) + ": batch header does not decode");
      }
      const uint64_t size = wal::kBatchHeaderSize + h.body_len;
      if (size > idx->end_offset - (pos + off)) {
        return Status::Corruption(At(path, pos + off) + ": batch runs past what was indexed");
      }
      if (size > rest.size()) {
        if (off > 0) break;  // read again from this batch
        // One batch larger than a block: read it whole.
        s = ReadBlock(f.get(), pos, static_cast<size_t>(size), &block);
        if (!s.ok()) return s;
        if (block->size() < size) {
          return Status::Corruption(At(path, pos) + ": the file ends inside a batch");
        }
        continue;
      }
      size_t used = 0;
      const wal::BatchStatus bs = wal::DecodeBatch(rest, &h, &records, &used);
      if (bs != wal::BatchStatus::kOk) {
        return Status::Corruption(At(path, pos + off) + ": batch does not decode (" +
                                  wal::BatchStatusName(bs) + ")");
      }
      for (const wal::RecordAt& r : records) {
        s = take(r.record, block, pos + off + r.offset);
        if (!s.ok()) return s;
        if (done) break;
      }
      off += used;
    }
    if (off == 0) {
      return Status::Corruption(At(path, pos) + ": the file ends inside a batch it indexed");
    }
    pos += off;
  }
  return done ? Status::OK() : ended();
}

}  // namespace casmem
