// Snapshot writing (streamed, checksummed) and reading (two passes: verify
// the checksum over the whole file, then decode), so a damaged snapshot
// never leaves half its records applied.
#include "engine/snapshot.h"

#include <xxhash.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <functional>

#include "wal/endian.h"
#include "wal/format.h"

namespace casmem {

using wal::GetU64;
using wal::PutU32;
using wal::PutU64;

namespace {
constexpr size_t kChunk = 4 << 20;
constexpr char kSnapPrefix[] = "snapshot-";
constexpr char kSnapSuffix[] = ".snap";
}  // namespace

std::string SnapshotName(uint64_t start_lsn) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%016" PRIx64 "%s", kSnapPrefix, start_lsn, kSnapSuffix);
  return buf;
}

Status ListSnapshots(wal::FileSystem* fs, const std::string& dir, std::vector<SnapshotFile>* out) {
  out->clear();
  std::vector<std::string> names;
  Status s = fs->List(dir, &names);
  if (!s.ok()) return s;
  for (const auto& name : names) {
    if (name.size() != 9 + 16 + 5 || name.rfind(kSnapPrefix, 0) != 0 ||
        name.substr(25) != kSnapSuffix) {
      continue;
    }
    uint64_t lsn = 0;
    if (std::sscanf(name.c_str() + 9, "%16" SCNx64, &lsn) != 1) continue;
    out->push_back({lsn, wal::JoinPath(dir, name)});
  }
  std::sort(out->begin(), out->end(),
            [](const SnapshotFile& a, const SnapshotFile& b) { return a.start_lsn > b.start_lsn; });
  return Status::OK();
}

Status SnapshotWriter::Create(wal::FileSystem* fs, const std::string& dir, uint64_t start_lsn,
                              std::unique_ptr<SnapshotWriter>* out) {
  std::unique_ptr<SnapshotWriter> w(new SnapshotWriter());
  w->fs_ = fs;
  w->dir_ = dir;
  w->final_path_ = wal::JoinPath(dir, SnapshotName(start_lsn));
  w->tmp_path_ = w->final_path_ + ".tmp";
  Status s = fs->Open(w->tmp_path_, wal::OpenMode::kCreateTrunc, &w->file_);
  if (!s.ok()) return s;
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset_withSeed(st, wal::kChecksumSeed);
  w->hash_state_ = st;
  char header[wal::kSnapshotHeaderSize];
  PutU64(header, wal::kSnapshotMagic);
  PutU32(header + 8, wal::kSnapshotFormat);
  PutU32(header + 12, 0);
  PutU64(header + 16, start_lsn);
  s = w->Write({header, sizeof header});
  if (!s.ok()) return s;
  *out = std::move(w);
  return Status::OK();
}

SnapshotWriter::~SnapshotWriter() {
  if (hash_state_ != nullptr) XXH3_freeState(static_cast<XXH3_state_t*>(hash_state_));
  file_.reset();
  if (!committed_ && !tmp_path_.empty()) (void)fs_->Remove(tmp_path_);
}

Status SnapshotWriter::Write(std::string_view bytes) {
  Status s = file_->WriteAt(offset_, bytes);
  if (!s.ok()) return s;
  XXH3_64bits_update(static_cast<XXH3_state_t*>(hash_state_), bytes.data(), bytes.size());
  offset_ += bytes.size();
  return Status::OK();
}

Status SnapshotWriter::Add(std::string_view records, uint64_t count) {
  count_ += count;
  return Write(records);
}

Status SnapshotWriter::Commit() {
  char trailer[16];
  PutU64(trailer, wal::kSnapshotTrailerMagic);
  PutU64(trailer + 8, count_);
  Status s = Write({trailer, sizeof trailer});
  if (!s.ok()) return s;
  char sum[8];
  PutU64(sum, XXH3_64bits_digest(static_cast<XXH3_state_t*>(hash_state_)));
  s = file_->WriteAt(offset_, {sum, sizeof sum});
  if (s.ok()) s = file_->Sync();
  if (!s.ok()) return s;
  file_.reset();
  s = fs_->Rename(tmp_path_, final_path_);
  if (s.ok()) s = fs_->SyncDir(dir_);
  if (s.ok()) committed_ = true;
  return s;
}

Status ReadSnapshot(wal::FileSystem* fs, const std::string& path,
                    const std::function<void(const wal::Record&)>& apply, uint64_t* start_lsn,
                    uint64_t* records) {
  std::unique_ptr<wal::File> f;
  Status s = fs->Open(path, wal::OpenMode::kRead, &f);
  if (!s.ok()) return s;
  uint64_t size = 0;
  s = f->Size(&size);
  if (!s.ok()) return s;
  if (size < wal::kSnapshotHeaderSize + wal::kSnapshotTrailerSize) {
    return Status::Corruption(path + ": snapshot too short (" + std::to_string(size) + " bytes)");
  }
  const uint64_t body_end = size - wal::kSnapshotTrailerSize;
  std::string buf;
  // Pass 1: checksum of everything before the final 8 bytes.
  {
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset_withSeed(st, wal::kChecksumSeed);
    uint64_t off = 0;
    const uint64_t hashed_end = size - 8;
    while (off < hashed_end && s.ok()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, hashed_end - off));
      buf.resize(n);
      size_t got = 0;
      s = f->ReadAt(off, n, buf.data(), &got);
      if (s.ok() && got != n) s = Status::Corruption(path + ": short read");
      if (s.ok()) XXH3_64bits_update(st, buf.data(), n);
      off += n;
    }
    const uint64_t digest = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    if (!s.ok()) return s;
    char tail[wal::kSnapshotTrailerSize];
    size_t got = 0;
    s = f->ReadAt(body_end, sizeof tail, tail, &got);
    if (!s.ok()) return s;
    if (GetU64(tail) != wal::kSnapshotTrailerMagic) {
      return Status::Corruption(path + " offset " + std::to_string(body_end) +
                                ": bad snapshot trailer");
    }
    if (GetU64(tail + 16) != digest) {
      return Status::Corruption(path + ": snapshot checksum mismatch");
    }
    *records = GetU64(tail + 8);
  }
  // Pass 2: header and records.
  char header[wal::kSnapshotHeaderSize];
  size_t got = 0;
  s = f->ReadAt(0, sizeof header, header, &got);
  if (!s.ok()) return s;
  if (GetU64(header) != wal::kSnapshotMagic || wal::GetU32(header + 8) != wal::kSnapshotFormat) {
    return Status::Corruption(path + " offset 0: bad snapshot header");
  }
  *start_lsn = GetU64(header + 16);
  uint64_t off = wal::kSnapshotHeaderSize;  // file offset of buf[pos]
  size_t pos = 0;
  buf.clear();
  uint64_t seen = 0;
  while (off + pos < body_end) {
    wal::Record r;
    size_t used = 0;
    std::string_view view(buf);
    auto ds = wal::DecodeRecord(view.substr(pos), &r, &used);
    if (ds == wal::DecodeStatus::kOk && off + pos + used <= body_end) {
      apply(r);
      ++seen;
      pos += used;
      continue;
    }
    const uint64_t remaining = body_end - (off + buf.size());
    if ((ds == wal::DecodeStatus::kTruncated || ds == wal::DecodeStatus::kEndOfData ||
         view.size() - pos < wal::kRecordHeaderSize) && remaining > 0) {
      // Slide the window: keep the unread part, read the next chunk.
      buf.erase(0, pos);
      off += pos;
      pos = 0;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, remaining));
      const size_t old = buf.size();
      buf.resize(old + n);
      s = f->ReadAt(off + old, n, buf.data() + old, &got);
      if (!s.ok()) return s;
      continue;
    }
    return Status::Corruption(path + " offset " + std::to_string(off + pos) + ": " +
                              wal::DecodeStatusName(ds));
  }
  if (seen != *records) {
    return Status::Corruption(path + ": trailer counts " + std::to_string(*records) +
                              " records, body holds " + std::to_string(seen));
  }
  return Status::OK();
}

}  // namespace casmem
