// Fuzz target: the change history's read back of log segments
// (ChangeHistory::Read over MemFs, engine/change_history.h), what a
// watcher resuming from before memory's reach gets. Input: a mode byte,
// then the bytes of the only segment, named as the log names it for the
// lsn of its first record (1 if none decodes):
// "/fz/wal/0000000000000001-<first_lsn:016x>.wal". The history holds
// nothing in memory (Reset(head) after a "restart"), so every page comes
// from the segment. Mode bits: 0 recompute the checksums and 2 (with 0)
// renumber lsns and counts, as in fuzz_wal_scan; 1 head = 2^62 (past the
// segment's records: the read runs into their end) instead of the last
// lsn the segment holds; 3-4 the filter: every change, workspace "w",
// keys starting "k" (any workspace), key "k" of workspace "w" exactly;
// 5-6 max_events 1, 2, 3, 1000; 7 tight limits (max_bytes 32,
// max_scan 2) instead of the defaults. Pages are read from since =
// first_lsn - 1 on, each from the last one's next_since.
// Invariants:
// - Read returns: OK, or a Corruption / IOError; a compacted page is
//   empty (it cannot happen here: since is never below the segment);
// - on OK: next_since >= since, <= head, and > since while since < head
//   (a page that does not reach head looked at something); events come
//   in revision order, each in (since, next_since] (so a record is never
//   split between pages), matching the filter; a put has a value, a
//   delete or an expiry none, an expiry no writer; every view lies in one
//   of the page's keep buffers;
// - a segment whose records (as wal::ReadSegment yields them) have
//   consecutive lsns is read exactly: the pages together hold the
//   changes of its records through the last next_since that match the
//   filter, in order, each once, field for field; every page is OK up to
//   head when head is within its records; when head is past them, the
//   read that runs into their end fails whole with a Corruption naming
//   the segment, after pages that stay within them;
// - reading the first page again (the segment now cached) gives the same;
// - ChangesOfRecord gives 1 change for a put or tombstone, op_count for a
//   commit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/logger.h"
#include "engine/change_history.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/support/mem_fs.h"
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

// The filter of mode bits 3-4, and an independent check of it.
ChangeFilter FilterFor(unsigned mode) {
  ChangeFilter f;
  switch ((mode >> 3) & 3) {
    case 1: f.workspace = "w"; break;
    case 2: f.prefix = "k"; break;
    case 3: f.workspace = "w"; f.prefix = "k"; f.exact_key = true; break;
    default: break;
  }
  return f;
}
bool Wanted(unsigned mode, const ChangeEvent& e) {
  switch ((mode >> 3) & 3) {
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

constexpr uint64_t kLargeHead = uint64_t{1} << 62;  // past any lsn the oracle checks
constexpr size_t kMaxPages = 10'000;  // far more than a 4 KiB segment has records

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  SetLogLevel(LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const unsigned mode = static_cast<unsigned char>(in[0]);
  std::string seg(in.substr(1));
  if (mode & 1) fuzz::FixSegmentChecksums(&seg, (mode & 4) != 0);

  // What the segment holds, as the log's own reader sees it: the oracle.
  std::vector<wal::Record> records;
  wal::SegmentEnd end;
  (void)wal::ReadSegment(seg, "seg", [&](const wal::BatchAt& b) {
    for (const wal::RecordAt& r : b.records) records.push_back(r.record);
    return Status::OK();
  }, &end);
  std::vector<ChangeEvent> all;
  for (const wal::Record& r : records) {
    const size_t n = ChangesOfRecord(r, &all);
    FUZZ_CHECK(n == (r.type == wal::kRecordCommit ? r.op_count : 1));
  }
  bool consecutive = !records.empty() && records.front().lsn >= 1 &&
                     records.back().lsn < (uint64_t{1} << 62);
  for (size_t i = 1; consecutive && i < records.size(); ++i)
    consecutive = records[i].lsn == records[0].lsn + i;
  const uint64_t first_lsn = records.empty() ? 1 : records.front().lsn;
  const uint64_t last_lsn = records.empty() ? 0 : records.back().lsn;

  testing::MemFs fs;
  FUZZ_CHECK(fs.CreateDirs("/fz/wal").ok());
  const std::string path = "/fz/wal/" + wal::FormatSegmentName(1, first_lsn);
  fs.WriteFile(path, seg);
  HistoryOptions ho;
  ho.fs = &fs;
  ho.memory_bytes = 4096;
  ho.segments = [&] { return std::vector<wal::SegmentInfo>{{1, first_lsn, path}}; };
  ChangeHistory history(ho);
  const uint64_t head = (mode & 2) || records.empty() ? kLargeHead : last_lsn;
  history.Reset(head);

  ChangeHistory::Query q;
  q.filter = FilterFor(mode);
  q.since = first_lsn - 1;
  constexpr size_t kEvents[] = {1, 2, 3, 1000};
  q.max_events = kEvents[(mode >> 5) & 3];
  if (mode & 0x80) {
    q.max_bytes = 32;
    q.max_scan = 2;
  }
  const uint64_t start = q.since;

  std::vector<Owned> got;
  Status last;
  Status first_status;  // the first page's status, events and next_since
  std::vector<Owned> first_events;
  uint64_t first_next = 0;
  size_t pages = 0;
  for (;; ++pages) {
    FUZZ_CHECK(pages < kMaxPages);
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
    FUZZ_CHECK(page.next_since >= q.since && page.next_since <= std::max(q.since, head));
    uint64_t prev = q.since;
    for (const ChangeEvent& e : page.events) {
      FUZZ_CHECK(e.revision > q.since && e.revision <= page.next_since);
      FUZZ_CHECK(e.revision >= prev);
      prev = e.revision;
      FUZZ_CHECK(Wanted(mode, e));
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
    if (q.since >= head) break;
    // Short of head, an OK page looked at something.
    FUZZ_CHECK(page.next_since > q.since);
    q.since = page.next_since;
    if (q.since >= head) break;
  }

  if (consecutive) {
    // Up to head every page is OK. Past the last record the read that
    // reaches it fails whole (its page is not returned), so the pages
    // before it end somewhere at or before the last record.
    if (head <= last_lsn) {
      FUZZ_CHECK(last.ok() && q.since == std::max(head, start));
    } else {
      FUZZ_CHECK(last.IsCorruption() && last.message().find(path) != std::string::npos);
      FUZZ_CHECK(q.since <= last_lsn);
    }
    std::vector<Owned> want;
    for (const ChangeEvent& e : all) {
      if (e.revision <= q.since && Wanted(mode, e)) want.push_back(Copy(e));
    }
    FUZZ_CHECK(got == want);
  }

  // The first page again, now from the cached segment.
  ChangeHistory::Query again = q;
  again.since = start;
  ChangeHistory::Page page;
  const Status s = history.Read(again, &page);
  FUZZ_CHECK(s.code() == first_status.code());
  if (s.ok()) {
    FUZZ_CHECK(page.next_since == first_next && page.events.size() == first_events.size());
    for (size_t i = 0; i < page.events.size(); ++i)
      FUZZ_CHECK(Copy(page.events[i]) == first_events[i]);
  }
  return 0;
}
