// ChangeHistory implementation: the memory chunks (one committed batch
// each), the scan that turns records into filtered pages, and the read
// back from log segments (with a small cache of whole segment files and
// their batch index) for what memory no longer holds.
#include "engine/change_history.h"

#include <algorithm>

#include "wal/batch.h"
#include "wal/endian.h"
#include "wal/format.h"
#include "wal/record.h"

namespace casmem {

const char* ChangeKindName(ChangeKind k) {
  switch (k) {
    case ChangeKind::kPut: return "put";
    case ChangeKind::kDelete: return "delete";
    case ChangeKind::kExpire: return "expire";
  }
  return "?";
}

size_t ChangesOfRecord(const wal::Record& r, std::vector<ChangeEvent>* out) {
  ChangeEvent e;
  e.revision = r.lsn;
  e.workspace = r.workspace;
  e.updated_at_ms = r.updated_at_ms;
  e.writer = r.writer;
  switch (r.type) {
    case wal::kRecordPut:
      e.kind = ChangeKind::kPut;
      e.key = r.key;
      e.value = r.value;
      e.version = r.version;
      e.expires_at_ms = r.expires_at_ms;
      out->push_back(e);
      return 1;
    case wal::kRecordTombstone:
      e.kind = r.expired ? ChangeKind::kExpire : ChangeKind::kDelete;
      e.key = r.key;
      e.version = r.version;
      if (r.expired) e.writer = {};
      out->push_back(e);
      return 1;
    case wal::kRecordCommit: {
      std::string_view rest = r.op_bytes;
      wal::CommitOp op;
      size_t n = 0;
      for (uint16_t i = 0; i < r.op_count && wal::NextCommitOp(&rest, &op); ++i) {
        ChangeEvent c = e;
        c.key = op.key;
        c.version = op.version;
        if (op.type == wal::kRecordPut) {
          c.kind = ChangeKind::kPut;
          c.value = op.value;
          c.expires_at_ms = op.expires_at_ms;
        } else {
          c.kind = ChangeKind::kDelete;
        }
        out->push_back(c);
        ++n;
      }
      return n;
    }
    default:
      return 0;
  }
}

bool ChangeFilter::Matches(const ChangeEvent& e) const {
  if (!workspace.empty() && e.workspace != workspace) return false;
  return exact_key ? e.key == prefix : e.key.starts_with(prefix);
}

// One committed batch, immutable once appended.
struct ChangeHistory::Chunk {
  std::shared_ptr<const std::string> bytes;  // the encoded records, back to back
  uint64_t first_lsn = 0;
  uint64_t last_lsn = 0;
  std::vector<uint32_t> offsets;  // offsets[i]: where record first_lsn + i starts
  uint64_t Cost() const { return bytes->size() + offsets.size() * sizeof(uint32_t) + 128; }
};

// A segment file read back whole, with where each of its batches starts
// (built by one verifying pass; later reads decode from the batch they need).
struct ChangeHistory::SegmentFile {
  std::string path;
  std::shared_ptr<const std::string> bytes;
  uint32_t format = wal::kSegmentFormat;
  std::vector<std::pair<uint64_t, uint64_t>> batches;  // (first lsn, offset), ascending
  uint64_t last_lsn = 0;     // of its last whole batch; 0 = none
  uint64_t end_offset = 0;   // end of its last whole batch
  std::string damage;        // why the bytes at end_offset are unusable; empty: clean end
};

struct ChangeHistory::SegmentCache {
  std::mutex mu;
  std::vector<std::shared_ptr<const ChangeHistory::SegmentFile>> files;  // at most kFiles, newest last
  static constexpr size_t kFiles = 2;
};

namespace {

size_t RecordSizeAt(std::string_view buf, size_t pos) {
  const uint64_t payload = wal::GetU32(buf.data() + pos + 8);
  return static_cast<size_t>((wal::kRecordHeaderSize + payload + wal::kRecordAlign - 1) &
                             ~uint64_t{wal::kRecordAlign - 1});
}

size_t EventBytes(const ChangeEvent& e) { return e.key.size() + e.value.size() + e.writer.size(); }

}  // namespace

// Reads a segment file whole and indexes its batches.
Status ChangeHistory::LoadSegment(wal::FileSystem* fs, const std::string& path,
                                  std::shared_ptr<const ChangeHistory::SegmentFile>* out) {
  auto file = std::make_shared<SegmentFile>();
  file->path = path;
  auto bytes = std::make_shared<std::string>();
  Status s = wal::ReadWholeFile(fs, path, bytes.get());
  if (!s.ok()) return s;
  file->bytes = bytes;
  wal::SegmentEnd end;
  s = wal::ReadSegment(*bytes, path,
                       [&](const wal::BatchAt& b) {
                         file->batches.emplace_back(b.header.first_lsn, b.offset);
                         file->last_lsn = b.header.first_lsn + b.header.count - 1;
                         return Status::OK();
                       },
                       &end);
  if (!s.ok()) return s;
  file->format = end.format;
  file->end_offset = end.offset;
  file->damage = end.damage;
  *out = std::move(file);
  return Status::OK();
}

// The state of one Read: applies the filter and the limits record by record.
struct ChangeHistory::Scan {
  Scan(const Query& query, uint64_t u, Page* p) : q(query), until(u), page(p) {}
  const Query& q;
  uint64_t until;
  Page* page;
  size_t scanned = 0;
  size_t bytes = 0;
  bool stop = false;  // a limit was reached (or until): no more records
  std::vector<ChangeEvent> tmp;

  // Looks at record `r` (lsn page->next_since + 1) whose views point
  // into `keep`. False once the scan must stop.
  bool Take(const wal::Record& r, const std::shared_ptr<const std::string>& keep) {
    tmp.clear();
    size_t b = 0;
    if (q.filter.workspace.empty() || r.workspace == q.filter.workspace) {
      ChangesOfRecord(r, &tmp);
      size_t kept = 0;
      for (const ChangeEvent& e : tmp) {
        if (!q.filter.Matches(e)) continue;
        tmp[kept++] = e;
        b += EventBytes(e);
      }
      tmp.resize(kept);
    }
    if (!tmp.empty()) {
      if (!page->events.empty() &&
          (page->events.size() + tmp.size() > q.max_events || bytes + b > q.max_bytes)) {
        stop = true;  // the record stays for the next page
        return false;
      }
      page->events.insert(page->events.end(), tmp.begin(), tmp.end());
      bytes += b;
      if (page->keep.empty() || page->keep.back() != keep) page->keep.push_back(keep);
    }
    page->next_since = r.lsn;
    ++scanned;
    if (r.lsn >= until || scanned >= q.max_scan) stop = true;
    return !stop;
  }
};

ChangeHistory::ChangeHistory(HistoryOptions options)
    : options_(std::move(options)), cache_(std::make_unique<SegmentCache>()) {}

ChangeHistory::~ChangeHistory() = default;

void ChangeHistory::Reset(uint64_t head) {
  std::lock_guard lk(mu_);
  chunks_.clear();
  memory_used_ = 0;
  head_ = reset_head_ = head;
}

void ChangeHistory::Append(std::string_view records, uint64_t first_lsn, uint64_t last_lsn) {
  if (records.empty() || last_lsn < first_lsn) return;
  auto chunk = std::make_shared<Chunk>();
  chunk->bytes = std::make_shared<const std::string>(records);
  chunk->first_lsn = first_lsn;
  chunk->last_lsn = last_lsn;
  chunk->offsets.reserve(last_lsn - first_lsn + 1);
  for (size_t pos = 0; pos + wal::kRecordHeaderSize <= records.size();
       pos += RecordSizeAt(records, pos)) {
    chunk->offsets.push_back(static_cast<uint32_t>(pos));
  }
  {
    std::lock_guard lk(mu_);
    memory_used_ += chunk->Cost();
    chunks_.push_back(std::move(chunk));
    while (memory_used_ > options_.memory_bytes && chunks_.size() > 1) {
      memory_used_ -= chunks_.front()->Cost();
      chunks_.pop_front();
    }
    head_ = last_lsn;
  }
  std::lock_guard lk(listener_mu_);
  if (listener_) listener_(last_lsn);
}

void ChangeHistory::set_listener(std::function<void(uint64_t head)> listener) {
  std::lock_guard lk(listener_mu_);
  listener_ = std::move(listener);
}

uint64_t ChangeHistory::head() const {
  std::lock_guard lk(mu_);
  return head_;
}

uint64_t ChangeHistory::compact_revision() const {
  uint64_t mem_first;
  {
    std::lock_guard lk(mu_);
    mem_first = chunks_.empty() ? reset_head_ + 1 : chunks_.front()->first_lsn;
    if (!options_.segments) return mem_first - 1;
  }
  const std::vector<wal::SegmentInfo> segs = options_.segments();
  if (!segs.empty() && segs.front().first_lsn < mem_first) mem_first = segs.front().first_lsn;
  // Without segments only the memory counts; an empty memory after a
  // restart means the whole log was on disk and is gone.
  return mem_first - 1;
}

std::shared_ptr<const ChangeHistory::Chunk> ChangeHistory::ChunkHolding(uint64_t lsn,
                                                                       uint64_t* mem_first) const {
  std::lock_guard lk(mu_);
  *mem_first = chunks_.empty() ? head_ + 1 : chunks_.front()->first_lsn;
  if (chunks_.empty() || lsn < *mem_first || lsn > head_) return nullptr;
  // The first chunk whose last_lsn >= lsn.
  auto it = std::lower_bound(chunks_.begin(), chunks_.end(), lsn,
                             [](const std::shared_ptr<const Chunk>& c, uint64_t l) {
                               return c->last_lsn < l;
                             });
  if (it == chunks_.end() || (*it)->first_lsn > lsn) return nullptr;
  return *it;
}

Status ChangeHistory::Read(const Query& q, Page* page) const {
  *page = Page{};
  page->next_since = q.since;
  const uint64_t until = std::min(q.until, head());
  const uint64_t compact = compact_revision();
  if (q.since < compact) {
    page->compacted = true;
    page->compact_revision = compact;
    return Status::OK();
  }
  if (q.since >= until) return Status::OK();
  Scan scan(q, until, page);
  while (!scan.stop && page->next_since < until) {
    const uint64_t next = page->next_since + 1;
    uint64_t mem_first = 0;
    std::shared_ptr<const Chunk> chunk = ChunkHolding(next, &mem_first);
    if (chunk == nullptr) {
      if (next >= mem_first) {
        return Status::Corruption("change history: revision " + std::to_string(next) +
                                  " is neither in memory nor before it");
      }
      Status s = options_.segments ? ReadDisk(std::min(until, mem_first - 1), &scan)
                                   : Status::OK();
      if (!options_.segments || page->compacted) {
        // Memory was trimmed past `next` while this read went on.
        const uint64_t now = compact_revision();
        *page = Page{};
        page->next_since = q.since;
        page->compacted = true;
        page->compact_revision = now;
        return Status::OK();
      }
      if (!s.ok()) return s;
      continue;
    }
    const std::string_view bytes(*chunk->bytes);
    for (uint64_t lsn = next; lsn <= chunk->last_lsn && !scan.stop; ++lsn) {
      const size_t off = chunk->offsets[lsn - chunk->first_lsn];
      wal::Record r;
      size_t used = 0;
      if (wal::DecodeRecord(bytes.substr(off), &r, &used) != wal::DecodeStatus::kOk ||
          r.lsn != lsn) {
        return Status::Corruption("change history: record " + std::to_string(lsn) +
                                  " in memory does not decode");
      }
      scan.Take(r, chunk->bytes);
    }
  }
  return Status::OK();
}

std::shared_ptr<const ChangeHistory::SegmentFile> ChangeHistory::CachedSegment(
    const std::string& path, const std::vector<wal::SegmentInfo>& segs) const {
  std::lock_guard lk(cache_->mu);
  // Forget files the log no longer lists (a snapshot deleted them).
  std::erase_if(cache_->files, [&](const std::shared_ptr<const ChangeHistory::SegmentFile>& f) {
    return std::none_of(segs.begin(), segs.end(),
                        [&](const wal::SegmentInfo& s) { return s.path == f->path; });
  });
  for (const auto& f : cache_->files) {
    if (f->path == path) return f;
  }
  return nullptr;
}

void ChangeHistory::CacheSegment(std::shared_ptr<const ChangeHistory::SegmentFile> file) const {
  std::lock_guard lk(cache_->mu);
  std::erase_if(cache_->files,
                [&](const std::shared_ptr<const ChangeHistory::SegmentFile>& f) { return f->path == file->path; });
  cache_->files.push_back(std::move(file));
  if (cache_->files.size() > SegmentCache::kFiles) cache_->files.erase(cache_->files.begin());
}

Status ChangeHistory::ReadDisk(uint64_t to, Scan* scan) const {
  Page* page = scan->page;
  while (!scan->stop && page->next_since < to) {
    const uint64_t next = page->next_since + 1;
    const std::vector<wal::SegmentInfo> segs = options_.segments();
    if (segs.empty() || next < segs.front().first_lsn) {
      page->compacted = true;
      return Status::OK();
    }
    size_t i = 0;
    while (i + 1 < segs.size() && segs[i + 1].first_lsn <= next) ++i;
    const std::string& path = segs[i].path;
    std::shared_ptr<const ChangeHistory::SegmentFile> file = CachedSegment(path, segs);
    if (file == nullptr || file->last_lsn < next) {
      // Not cached, or cached before `next` was written (the segment
      // being written): read it now.
      Status s = LoadSegment(options_.fs, path, &file);
      if (!s.ok()) {
        // A snapshot may have deleted it since the list was taken.
        if (next <= compact_revision()) {
          page->compacted = true;
          return Status::OK();
        }
        return s;
      }
      CacheSegment(file);
    }
    if (file->last_lsn < next) {
      return Status::Corruption(
          path + ": the log's records end at revision " + std::to_string(file->last_lsn) +
          " (offset " + std::to_string(file->end_offset) + (file->damage.empty() ? "" : ": ") +
          file->damage + ") but revision " + std::to_string(next) + " was committed");
    }
    // The batch holding `next`: the last one starting at or before it.
    auto it = std::upper_bound(
        file->batches.begin(), file->batches.end(), next,
        [](uint64_t l, const std::pair<uint64_t, uint64_t>& b) { return l < b.first; });
    if (it == file->batches.begin()) {
      return Status::Corruption(path + ": its first record is after revision " +
                                std::to_string(next) + ", which its name says it holds");
    }
    --it;
    const std::string_view bytes(*file->bytes);
    std::vector<wal::RecordAt> records;
    for (; it != file->batches.end() && !scan->stop && page->next_since < to; ++it) {
      const uint64_t off = it->second;
      if (file->format == wal::kSegmentFormatV1) {
        wal::RecordAt r;
        size_t used = 0;
        if (wal::DecodeRecord(bytes.substr(off), &r.record, &used) != wal::DecodeStatus::kOk) {
          return Status::Corruption(path + " offset " + std::to_string(off) +
                                    ": record does not decode");
        }
        records.assign(1, r);
      } else {
        wal::BatchHeader h;
        size_t used = 0;
        if (wal::DecodeBatch(bytes.substr(off), &h, &records, &used) != wal::BatchStatus::kOk) {
          return Status::Corruption(path + " offset " + std::to_string(off) +
                                    ": batch does not decode");
        }
      }
      for (const wal::RecordAt& r : records) {
        if (r.record.lsn <= page->next_since) continue;
        if (r.record.lsn != page->next_since + 1) {
          return Status::Corruption(path + ": revision " + std::to_string(r.record.lsn) +
                                    " follows " + std::to_string(page->next_since));
        }
        if (!scan->Take(r.record, file->bytes) || page->next_since >= to) break;
      }
    }
  }
  return Status::OK();
}

}  // namespace casmem
