// Fuzz target: the change history's read back of log segments
// (ChangeHistory::Read over MemFs, engine/change_history.h), what a
// watcher resuming from before memory's reach gets after a restart.
// Input: a mode byte, a query byte, then the bytes of the segment(s),
// each named as the log names it for the lsn of its first record
// ("/fz/wal/<seq:016x>-<first_lsn:016x>.wal"; 1, or the lsn after the
// older segment's last, if none decodes).
// Mode bits: 0 recompute the checksums and 2 (with 0) renumber lsns and
// counts, as in fuzz_wal_scan; 1 head = 2^62 (past the records: the read
// runs into their end) instead of the last lsn the segments hold; 3 two
// segments, split as in fuzz_wal_scan (an older one, seq 1, up to the
// first 8-aligned segment magic after its start, the last one, seq 2,
// from there); 4 a growing log: the files first hold only the first
// batch (then zeros, as preallocated), the history is Reset there, and
// before each page the next 1, 2, 4 or 8 (query bits 6-7) batches that
// continue the lsns are written to their file and then Append-ed (their
// records back to back, as the log hands them over) into a memory of
// 512 bytes, so older chunks are trimmed and read back from a segment
// the history may have cached shorter (bit 1 is then ignored: head is
// the last appended lsn); 5 the last segment is named for one lsn before
// its first record (a name that claims a record it lacks); 6 (with 4)
// each batch is written with the first half of the next one after it (a
// write in flight: a torn end to a reader of the file).
// Query bits: 0-1 the filter: every change, workspace "w", keys starting
// "k" (any workspace), key "k" of workspace "w" exactly; 2-3 max_events
// 1, 2, 3, 1000; 4 tight limits (max_bytes 32, max_scan 2) instead of the
// defaults; 5 until = first lsn + 2; 6-7 see mode bit 4. Pages are read
// from since = first_lsn - 1 on, each from the last one's next_since,
// until one reaches min(until, head) (and the log stopped growing).
// Invariants:
// - Read returns: OK, or a Corruption / IOError; a compacted page is
//   empty and names a compact revision above since;
// - on OK: next_since >= since, <= max(since, min(until, head)), and
//   > since while since < min(until, head) (a page that does not reach
//   the end looked at something), head as of that read; events come in revision order, each in
//   (since, next_since] (so a record is never split between pages),
//   matching the filter; a put has a value, a delete or an expiry none,
//   an expiry no writer; every view lies in one of the page's keep
//   buffers;
// - segments whose records (as wal::ReadSegment yields them, older
//   segment first) have consecutive lsns from the first segment's name
//   on are read exactly: the pages
//   together hold the changes of the records through the last
//   next_since that match the filter, in order, each once, field for
//   field; every page is OK up to min(until, head) when that is within
//   the records; when it is past them, the read that runs into their
//   end fails whole with a Corruption naming a segment, after pages that
//   stay within them;
// - reading the first page again (segments now cached) gives the same
//   (but for a growing log, whose first page may now reach further);
// - ChangesOfRecord gives 1 change for a put or tombstone, op_count for a
//   commit.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/logger.h"
#include "engine/change_history.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/support/mem_fs.h"
#include "wal/endian.h"
#include "wal/log_reader.h"
#include "wal/segment.h"

namespace {

using namespace casmem;

// A change, copied (the views die with their page).
struct Owned {
  ChangeKind kind;
  uint64_t revision, version;
  int64_t updated_at_ms, expires_at_ms;
  std::string workspace, key, value, writer;
  bool operator==(const Owned&) const = default;
};

Owned Copy(const ChangeEvent& e) {
  return {e.kind, e.revision, e.version, e.updated_at_ms, e.expires_at_ms,
          std::string(e.workspace), std::string(e.key), std::string(e.value),
          std::string(e.writer)};
}

// The filter of query bits 0-1, and an independent check of it.
ChangeFilter FilterFor(unsigned query) {
  ChangeFilter f;
  switch (query & 3) {
    case 1: f.workspace = "w"; break;
    case 2: f.prefix = "k"; break;
    case 3: f.workspace = "w"; f.prefix = "k"; f.exact_key = true; break;
    default: break;
  }
  return f;
}
bool Wanted(unsigned query, const ChangeEvent& e) {
  switch (query & 3) {
    case 1: return e.workspace == "w";
    case 2: return e.key.substr(0, 1) == "k";
    case 3: return e.workspace == "w" && e.key == "k";
    default: return true;
  }
}

bool InKeep(std::string_view v, const ChangeHistory::Page& p) {
  if (v.empty()) return true;
  for (const auto& k : p.keep) {
    if (k && v.data() >= k->data() && v.data() + v.size() <= k->data() + k->size()) return true;
  }
  return false;
}

// One segment as the log's reader sees it: its records (views into
// `bytes`, which must outlive them) and batches.
struct Segment {
  std::string path;
  std::string bytes;
  uint64_t first_lsn = 0;  // from its name
  std::vector<wal::BatchAt> batches;
  std::vector<wal::Record> records;
};

void ReadBack(Segment* s) {
  wal::SegmentEnd end;
  (void)wal::ReadSegment(s->bytes, s->path, [&](const wal::BatchAt& b) {
    s->batches.push_back(b);
    for (const wal::RecordAt& r : b.records) s->records.push_back(r.record);
    return Status::OK();
  }, &end);
}

constexpr uint64_t kLargeHead = uint64_t{1} << 62;  // past any lsn the oracle checks
constexpr size_t kMaxPages = 10'000;  // far more than 4 KiB of segments hold records

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  SetLogLevel(LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.size() < 2) return 0;
  const unsigned mode = static_cast<unsigned char>(in[0]);
  const unsigned query = static_cast<unsigned char>(in[1]);
  in.remove_prefix(2);

  // The segments: one, or (mode bit 3) two, split at a segment magic.
  std::vector<Segment> segs(1);
  if (mode & 8) {
    size_t at = wal::kSegmentHeaderSize;
    while (at + 8 <= in.size() && wal::GetU64(in.data() + at) != wal::kSegmentMagic) at += 8;
    if (at + 8 > in.size()) return 0;
    segs.resize(2);
    segs[0].bytes = std::string(in.substr(0, at));
    in.remove_prefix(at);
  }
  segs.back().bytes = std::string(in);
  testing::MemFs fs;
  FUZZ_CHECK(fs.CreateDirs("/fz/wal").ok());
  std::vector<wal::SegmentInfo> infos;
  std::vector<wal::Record> records;  // all of them, oldest first: the oracle
  std::vector<std::pair<size_t, const wal::BatchAt*>> batches;  // (segment, batch)
  for (size_t i = 0; i < segs.size(); ++i) {
    Segment& s = segs[i];
    if (mode & 1) fuzz::FixSegmentChecksums(&s.bytes, (mode & 4) != 0);
    ReadBack(&s);
    s.first_lsn = !s.records.empty() ? s.records.front().lsn
                  : records.empty()  ? 1
                                     : records.back().lsn + 1;
    if ((mode & 32) && i + 1 == segs.size()) --s.first_lsn;
    s.path = "/fz/wal/" + wal::FormatSegmentName(i + 1, s.first_lsn);
    fs.WriteFile(s.path, s.bytes);
    infos.push_back({i + 1, s.first_lsn, s.path});
    records.insert(records.end(), s.records.begin(), s.records.end());
    for (const wal::BatchAt& b : s.batches) batches.emplace_back(i, &b);
  }

  std::vector<ChangeEvent> all;
  for (const wal::Record& r : records) {
    const size_t n = ChangesOfRecord(r, &all);
    FUZZ_CHECK(n == (r.type == wal::kRecordCommit ? r.op_count : 1));
  }
  const uint64_t first_lsn = segs.front().first_lsn;
  // (An older segment with no record is named 1: its lsns may not reach
  // the newer one's.) Lsns that wrap past 2^64 - 1 to 0 are not
  // consecutive: a log starts at 1 and never hands out 2^64 of them, and
  // a read from since = first_lsn - 1 to a smaller end means nothing.
  bool consecutive = !records.empty() && records.front().lsn == first_lsn && first_lsn >= 1 &&
                     records.front().lsn <= records.back().lsn &&
                     records.back().lsn < kLargeHead && !(mode & 32);
  for (size_t i = 1; consecutive && i < records.size(); ++i)
    consecutive = records[i].lsn == records[0].lsn + i;
  const uint64_t last_lsn = records.empty() ? 0 : records.back().lsn;

  HistoryOptions ho;
  ho.fs = &fs;
  ho.memory_bytes = (mode & 16) ? 512 : 4096;
  ho.segments = [&] { return infos; };
  ChangeHistory history(ho);
  // A growing log (mode bit 4): each file holds its bytes through
  // the end show() last gave it (then zeros); batches[appended] is the
  // next one to commit.
  const bool growing = (mode & 16) && !batches.empty();
  size_t appended = 0;
  auto show = [&](size_t seg, uint64_t upto) {
    const Segment& sg = segs[seg];
    upto = std::min<uint64_t>(upto, sg.bytes.size());
    fs.WriteFile(sg.path, sg.bytes.substr(0, upto) + std::string(sg.bytes.size() - upto, '\0'));
  };
  // Commits the next batch if it continues the lsns: written, then appended.
  auto commit_next = [&]() -> bool {
    if (appended >= batches.size()) return false;
    const auto [seg, b] = batches[appended];
    const uint64_t last = b->header.first_lsn + b->records.size() - 1;
    if (b->header.first_lsn != history.head() + 1 || last < b->header.first_lsn ||
        last >= kLargeHead) {
      appended = batches.size();  // the log would not have written it
      return false;
    }
    // Mode bit 6: the log is already writing the next batch (half of it
    // is in the file: a torn end to whoever reads the file now).
    uint64_t upto = b->offset + b->size;
    if ((mode & 64) && appended + 1 < batches.size() && batches[appended + 1].first == seg)
      upto += batches[appended + 1].second->size / 2;
    show(seg, upto);
    std::string bytes;
    for (const wal::RecordAt& r : b->records) bytes.append(segs[seg].bytes, r.offset, r.size);
    history.Append(bytes, b->header.first_lsn, last);
    ++appended;
    return true;
  };
  uint64_t head = (mode & 2) || records.empty() ? kLargeHead : last_lsn;
  if (growing) {
    // A restart at the end of the first batch: the files hold no more.
    const auto [seg0, b0] = batches.front();
    for (size_t i = 0; i < segs.size(); ++i) {
      show(i, i < seg0 ? segs[i].bytes.size() : i == seg0 ? b0->offset + b0->size
                                                            : wal::kSegmentHeaderSize);
    }
    head = b0->header.first_lsn + b0->records.size() - 1;
    appended = 1;
  }
  history.Reset(head);
  const size_t per_page = size_t{1} << ((query >> 6) & 3);

  ChangeHistory::Query q;
  q.filter = FilterFor(query);
  q.since = first_lsn - 1;
  constexpr size_t kEvents[] = {1, 2, 3, 1000};
  q.max_events = kEvents[(query >> 2) & 3];
  if (query & 16) {
    q.max_bytes = 32;
    q.max_scan = 2;
  }
  if (query & 32) q.until = first_lsn + 2;
  const uint64_t start = q.since;

  std::vector<Owned> got;
  Status last;
  Status first_status;  // the first page's status, events and next_since
  std::vector<Owned> first_events;
  uint64_t first_next = 0;
  size_t pages = 0;
  uint64_t stop = 0;  // min(until, head) as of the last read
  for (;; ++pages) {
    FUZZ_CHECK(pages < kMaxPages);
    bool grew = false;
    for (size_t i = 0; growing && i < per_page; ++i) grew |= commit_next();
    if (growing) head = history.head();
    FUZZ_CHECK(history.head() == head);
    stop = std::min(q.until, head);
    ChangeHistory::Page page;
    last = history.Read(q, &page);
    if (pages == 0) {
      first_status = last;
      first_next = page.next_since;
    }
    if (!last.ok()) {
      FUZZ_CHECK(last.IsCorruption() || last.code() == Status::Code::kIOError);
      break;
    }
    if (page.compacted) {
      FUZZ_CHECK(page.events.empty() && page.compact_revision > q.since);
      break;
    }
    FUZZ_CHECK(page.next_since >= q.since && page.next_since <= std::max(q.since, stop));
    uint64_t prev = q.since;
    for (const ChangeEvent& e : page.events) {
      FUZZ_CHECK(e.revision > q.since && e.revision <= page.next_since);
      FUZZ_CHECK(e.revision >= prev);
      prev = e.revision;
      FUZZ_CHECK(Wanted(query, e));
      if (e.kind == ChangeKind::kPut) {
        FUZZ_CHECK(!e.value.empty());
      } else {
        FUZZ_CHECK(e.kind == ChangeKind::kDelete || e.kind == ChangeKind::kExpire);
        FUZZ_CHECK(e.value.empty());
        FUZZ_CHECK(e.kind != ChangeKind::kExpire || e.writer.empty());
      }
      FUZZ_CHECK(InKeep(e.workspace, page) && InKeep(e.key, page) && InKeep(e.value, page) &&
                 InKeep(e.writer, page));
      got.push_back(Copy(e));
      if (pages == 0) first_events.push_back(got.back());
    }
    // Short of the end, an OK page looked at something.
    if (q.since < stop) FUZZ_CHECK(page.next_since > q.since);
    q.since = page.next_since;
    if (q.since >= stop && !grew) break;
  }

  if (consecutive) {
    // Up to the end every page is OK. Past the last record the read that
    // reaches it fails whole (its page is not returned), so the pages
    // before it end somewhere at or before the last record.
    if (stop <= last_lsn) {
      FUZZ_CHECK(last.ok() && q.since == std::max(stop, start));
    } else {
      FUZZ_CHECK(last.IsCorruption());
      FUZZ_CHECK(last.message().find(segs.front().path) != std::string::npos ||
                 last.message().find(segs.back().path) != std::string::npos);
      FUZZ_CHECK(q.since <= last_lsn);
    }
    std::vector<Owned> want;
    for (const ChangeEvent& e : all) {
      if (e.revision <= q.since && Wanted(query, e)) want.push_back(Copy(e));
    }
    FUZZ_CHECK(got == want);
  }

  // The first page again, now from the cached segments (or memory).
  ChangeHistory::Query again = q;
  again.since = start;
  ChangeHistory::Page page;
  const Status s = history.Read(again, &page);
  FUZZ_CHECK(s.code() == first_status.code() || growing);
  if (s.ok() && !growing) {
    FUZZ_CHECK(page.next_since == first_next && page.events.size() == first_events.size());
    for (size_t i = 0; i < page.events.size(); ++i)
      FUZZ_CHECK(Copy(page.events[i]) == first_events[i]);
  }
  return 0;
}
