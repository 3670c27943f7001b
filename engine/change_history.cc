// ChangeHistory implementation: the memory chunks (one committed batch
// each), the scan that turns records into filtered pages, and the read
// back from log segments (SegmentReader: sparse batch indexes, positioned
// reads) for what memory no longer holds.
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
  std::string bytes;  // the encoded records, back to back
  uint64_t first_lsn = 0;
  uint64_t last_lsn = 0;
  // offsets[i]: where record first_lsn + i starts; empty for a single record.
  std::vector<uint32_t> offsets;
  uint64_t Cost() const { return bytes.size() + offsets.size() * sizeof(uint32_t) + 128; }
  // Where record `lsn` starts, or SIZE_MAX if the chunk does not hold it.
  size_t OffsetOf(uint64_t lsn) const {
    if (lsn < first_lsn || lsn > last_lsn) return SIZE_MAX;
    if (offsets.empty()) return lsn == first_lsn ? 0 : SIZE_MAX;
    return lsn - first_lsn < offsets.size() ? offsets[lsn - first_lsn] : SIZE_MAX;
  }
};

namespace {

size_t RecordSizeAt(std::string_view buf, size_t pos) {
  const uint64_t payload = wal::GetU32(buf.data() + pos + 8);
  return static_cast<size_t>((wal::kRecordHeaderSize + payload + wal::kRecordAlign - 1) &
                             ~uint64_t{wal::kRecordAlign - 1});
}

size_t EventBytes(const ChangeEvent& e) {
  return e.key.size() + e.value.size() + e.writer.size() + kChangeOverheadBytes;
}

}  // namespace

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
    : options_(std::move(options)), reader_(std::make_unique<SegmentReader>(options_.fs)) {}

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
  chunk->bytes.assign(records);
  chunk->first_lsn = first_lsn;
  chunk->last_lsn = last_lsn;
  if (last_lsn > first_lsn) {
    chunk->offsets.reserve(last_lsn - first_lsn + 1);
    for (size_t pos = 0; pos + wal::kRecordHeaderSize <= records.size();
         pos += RecordSizeAt(records, pos)) {
      chunk->offsets.push_back(static_cast<uint32_t>(pos));
    }
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
  uint64_t until, mem_first;
  {
    std::lock_guard lk(mu_);
    until = std::min(q.until, head_);
    mem_first = chunks_.empty() ? reset_head_ + 1 : chunks_.front()->first_lsn;
  }
  // compact_revision() <= mem_first - 1: a read from memory needs no
  // look at the segments.
  if (q.since + 1 < mem_first) {
    const uint64_t compact = compact_revision();
    if (q.since < compact) {
      page->compacted = true;
      page->compact_revision = compact;
      return Status::OK();
    }
  }
  if (q.since >= until) return Status::OK();
  Scan scan(q, until, page);
  while (!scan.stop && page->next_since < until) {
    const uint64_t next = page->next_since + 1;
    uint64_t first_in_memory = 0;
    std::shared_ptr<const Chunk> chunk = ChunkHolding(next, &first_in_memory);
    if (chunk == nullptr) {
      if (next >= first_in_memory) {
        return Status::Corruption("change history: revision " + std::to_string(next) +
                                  " is neither in memory nor before it");
      }
      Status s = options_.segments ? ReadDisk(std::min(until, first_in_memory - 1), &scan)
                                   : Status::OK();
      if (!options_.segments || page->compacted) {
        // Memory was trimmed, or a snapshot deleted segments, past `next`
        // while this read went on. What was read stands (the next read
        // finds the rest compacted).
        if (page->next_since > q.since) {
          page->compacted = false;
          return Status::OK();
        }
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
    const std::string_view bytes(chunk->bytes);
    // The page keeps the chunk alive through its bytes (aliasing pointer).
    const std::shared_ptr<const std::string> keep(chunk, &chunk->bytes);
    for (uint64_t lsn = next; lsn <= chunk->last_lsn && !scan.stop; ++lsn) {
      wal::Record r;
      size_t used = 0;
      const size_t off = chunk->OffsetOf(lsn);
      if (off >= bytes.size() ||
          wal::DecodeRecord(bytes.substr(off), &r, &used) != wal::DecodeStatus::kOk ||
          r.lsn != lsn) {
        return Status::Corruption("change history: record " + std::to_string(lsn) +
                                  " in memory does not decode");
      }
      scan.Take(r, keep);
    }
  }
  return Status::OK();
}

Status ChangeHistory::ReadDisk(uint64_t to, Scan* scan) const {
  Page* page = scan->page;
  while (!scan->stop && page->next_since < to) {
    const uint64_t next = page->next_since + 1;
    const std::vector<wal::SegmentInfo> segs = options_.segments();
    std::vector<std::string> paths;
    for (const auto& seg : segs) paths.push_back(seg.path);
    reader_->Retain(paths);
    if (segs.empty() || next < segs.front().first_lsn) {
      page->compacted = true;
      return Status::OK();
    }
    size_t i = 0;
    while (i + 1 < segs.size() && segs[i + 1].first_lsn <= next) ++i;
    const std::string& path = segs[i].path;
    // An older segment holds records up to the next one's first: asking
    // it for no more lets its cached index answer, and makes a stop short
    // of that (bad bytes) damage rather than a clean end.
    const uint64_t seg_to = i + 1 < segs.size() ? std::min(to, segs[i + 1].first_lsn - 1) : to;
    uint64_t last = 0;
    Status s = reader_->Read(
        path, next, seg_to,
        [&](const wal::Record& r, const std::shared_ptr<const std::string>& keep) {
          return scan->Take(r, keep) && page->next_since < to;
        },
        &last);
    if (!s.ok()) {
      // A snapshot may have deleted it since the list was taken.
      if (next <= compact_revision()) {
        page->compacted = true;
        return Status::OK();
      }
      return s;
    }
    if (last < next) {
      return Status::Corruption(path + ": the log's records there end before revision " +
                                std::to_string(next) + ", which was committed");
    }
  }
  return Status::OK();
}

}  // namespace casmem
