// make_seeds: regenerates the binary seed corpora of the WAL and snapshot
// targets through the real writers (a Store on MemFs: its Wal writes the
// segment, Store::Snapshot the snapshot), so the seeds follow the on-disk
// format after any change to it. Usage: make_seeds <tests/fuzz/corpus dir>.
// Writes corpus/{wal_scan,wal_segment,wal_record,snapshot}/gen-*: each
// segment as written and damaged in the ways recovery tells apart (torn
// tail, damage before later synced data, lost header), plus a format-1
// copy, and split in two segments (wal_scan); every record; the snapshot.
// corpus/history/gen-*: a second store's segment (the workspace and keys
// fuzz_history's filters pick, every kind of change) under several of its
// modes (filters, limits, a head past the end), torn, and in format 1.
// Hand-written seeds (other names) are left alone. Seeds carry the
// targets' leading mode byte.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/clock.h"
#include "engine/store.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/support/mem_fs.h"
#include "wal/format.h"
#include "common/logger.h"
#include "wal/log_reader.h"
#include "wal/record.h"
#include "wal/segment.h"

namespace {

using namespace casmem;

void Put(Store* s, std::string_view ws, std::string_view key, std::string_view value,
         int64_t ttl_ms = 0, std::optional<uint64_t> guard = std::nullopt) {
  PutRequest r;
  r.workspace = ws;
  r.key = key;
  r.value = value;
  r.ttl_ms = ttl_ms;
  r.if_match_version = guard;
  const WriteResult w = s->Put(r);
  if (w.outcome != Outcome::kOk || !s->WaitVisible(w.visible_lsn).ok()) {
    std::fprintf(stderr, "make_seeds: write of %.*s failed\n", static_cast<int>(key.size()), key.data());
    std::exit(1);
  }
}

// Drops the preallocated zeros after the data, keeping one all-zero
// batch header (the end mark) so the file stays a valid segment.
std::string TrimZeros(const std::string& seg) {
  size_t end = seg.size();
  while (end > 0 && seg[end - 1] == 0) --end;
  end = (end + wal::kRecordAlign - 1) & ~(wal::kRecordAlign - 1);
  return seg.substr(0, std::min(seg.size(), end + wal::kBatchHeaderSize));
}

void Write(const std::filesystem::path& dir, const std::string& name, char mode,
           const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.put(mode);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_seeds: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "make_seeds: %s failed\n", what);
    std::exit(1);
  }
}

// The history seeds: a store whose log holds every kind of change in the
// workspace "w" (keys "k", "k1", "ka", "other") and in "x": puts, a
// guarded put, a delete, a put with a writer and a remembered answer, a
// transaction (set with a TTL, delete, set), an answer-only record (a
// 409), an expiry logged by the sweep, and a put after a snapshot (the
// segment stays for the history). Returns how many segments it wrote.
int HistorySeeds(const std::filesystem::path& corpus) {
  testing::MemFs fs;
  ManualClock clock(1'795'774'530'123);
  StoreOptions o;
  o.data_dir = "/hist";
  o.fs = &fs;
  o.clock = &clock;
  o.shards = 2;
  o.sweep_interval = std::chrono::milliseconds(0);
  o.wal_segment_bytes = wal::kMinSegmentBytes;
  std::unique_ptr<Store> store;
  Check(Store::Open(o, &store).ok(), "opening the history store");
  Put(store.get(), "w", "k", R"({"n":1})");
  Put(store.get(), "x", "k", "[1,2]");
  Put(store.get(), "w", "k1", R"("soon gone")", 1'000);
  Put(store.get(), "w", "other", "true");
  Put(store.get(), "w", "k", R"({"n":2})", 0, 1);
  const WriteResult d = store->Delete("w", "other", std::nullopt);
  Check(d.outcome == Outcome::kOk && store->WaitVisible(d.visible_lsn).ok(), "the delete");
  Idempotency<WriteResult> idem;
  idem.key = "h-1";
  idem.fingerprint = "fedcba9876543210";
  idem.render = [](const WriteResult& w) {
    return IdempotencyAnswer{w.outcome == Outcome::kOk ? 200 : 409, R"({"status":"ok"})"};
  };
  PutRequest named;
  named.workspace = "w";
  named.key = "ka";
  named.value = R"({"by":"agent-3"})";
  named.writer = "agent-3";
  named.idempotency = &idem;
  const WriteResult n = store->Put(named);
  Check(n.outcome == Outcome::kOk && store->WaitVisible(n.visible_lsn).ok(), "the named put");
  std::vector<TxnOp> ops(3);
  ops[0].key = "k2";
  ops[0].value = "[]";
  ops[0].ttl_ms = 600'000;
  ops[1].type = TxnOp::Type::kDelete;
  ops[1].key = "k";
  ops[2].key = "other";
  ops[2].value = R"({"back":true})";
  TxnRequest txn;
  txn.workspace = "w";
  txn.ops = &ops;
  txn.writer = "lead";
  const TxnResult t = store->Txn(txn);
  Check(t.outcome == Outcome::kOk && store->WaitVisible(t.visible_lsn).ok(), "the transaction");
  idem.key = "h-2";
  named.if_match_version = 7;
  const WriteResult c = store->Put(named);
  Check(c.outcome == Outcome::kConflict && store->WaitVisible(c.visible_lsn).ok(),
        "the refused put");
  clock.Advance(2'000);
  store->Sweep();  // logs the expiry of w/k1
  Check(store->Snapshot().ok(), "the snapshot");
  Put(store.get(), "w", "k", R"({"n":3})");
  store.reset();

  int segments = 0;
  for (const std::string& name : fs.Files("/hist/wal")) {
    if (!std::string_view(name).ends_with(wal::kSegmentSuffix)) continue;
    std::string seg;
    if (!fs.ReadFile("/hist/wal/" + name, &seg)) continue;
    seg = TrimZeros(seg);
    std::vector<wal::BatchAt> batches;
    std::string v1 = wal::EncodeSegmentHeader(1, wal::kSegmentFormatV1);
    bool expired = false;
    wal::SegmentEnd end;
    Check(wal::ReadSegment(seg, name, [&](const wal::BatchAt& b) {
            batches.push_back(b);
            for (const wal::RecordAt& r : b.records) {
              v1.append(seg, r.offset, r.size);
              expired |= r.record.expired;
            }
            return Status::OK();
          }, &end).ok() && end.damage.empty() && !batches.empty(),
          "reading the history segment");
    Check(expired, "logging the expiry");
    v1.append(wal::kRecordHeaderSize, '\0');
    const wal::BatchAt& last = batches.back();
    const std::string torn = seg.substr(0, last.offset + last.size - 40);
    // Split in two segments as a rotation would (fuzz_history mode bit 3).
    const wal::BatchAt& mid = batches[batches.size() / 2];
    const std::string zeros(wal::kBatchHeaderSize, '\0');
    const std::string two = seg.substr(0, mid.offset) + zeros + wal::EncodeSegmentHeader(2) +
                            seg.substr(mid.offset, last.offset + last.size - mid.offset) + zeros;
    // A mode byte (fix-up, head past the end, two segments, a growing log,
    // a misnamed segment, a write in flight), then a query byte (filter, max_events, tight
    // limits, until, batches per page): see fuzz_history.cc.
    const std::string s = "gen-seg" + std::to_string(segments++);
    const auto seed = [&](const std::string& suffix, char mode, char query, const std::string& b) {
      Write(corpus / "history", s + suffix, mode, std::string(1, query) + b);
    };
    seed("-all-1", 0x00, 0x00, seg);
    seed("-w-1000", 0x00, 0x0d, seg);
    seed("-prefix-2", 0x00, 0x06, seg);
    seed("-exact-3", 0x00, 0x0b, seg);
    seed("-tight-fixup", 0x01, 0x10, seg);
    seed("-until", 0x00, 0x20, seg);
    seed("-past-end", 0x02, 0x00, seg);
    seed("-torn", 0x02, 0x04, torn);
    seed("-v1", 0x01, 0x0c, v1);
    seed("-grow", 0x10, 0x00, seg);
    seed("-grow-8", 0x10, static_cast<char>(0xc0), seg);
    seed("-grow-prefix-tight-4", 0x10, static_cast<char>(0x96), seg);
    seed("-grow-inflight-8", 0x50, static_cast<char>(0xc0), seg);
    seed("-two", 0x08, 0x00, two);
    seed("-two-grow-2", 0x18, 0x44, two);
    seed("-two-grow-inflight-2", 0x58, 0x40, two);
    seed("-two-misnamed", 0x28, 0x00, two);
    seed("-two-past-end", 0x0a, 0x01, two);
  }
  return segments;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <corpus dir>\n");
    return 2;
  }
  const std::filesystem::path corpus = argv[1];
  SetLogLevel(LogLevel::kError);
  testing::MemFs fs;
  ManualClock clock(1'795'774'530'123);
  StoreOptions o;
  o.data_dir = "/data";
  o.fs = &fs;
  o.clock = &clock;
  o.shards = 4;
  o.sweep_interval = std::chrono::milliseconds(0);
  o.wal_segment_bytes = wal::kMinSegmentBytes;
  std::unique_ptr<Store> store;
  if (!Store::Open(o, &store).ok()) {
    std::fprintf(stderr, "make_seeds: cannot open the store\n");
    return 1;
  }
  Put(store.get(), "default", "ledger", R"({"tasks":[1,2.50,-0,12345678901234567890]})");
  Put(store.get(), "team-a", "research:pmm", R"("\u00e9t\u00e9 \ud83d\ude00")", 60'000);
  Put(store.get(), "team-a", "q", "[[[]],{}]");
  Put(store.get(), "default", "ledger", "null", 0, 1);
  const WriteResult d = store->Delete("team-a", "q", std::nullopt);
  if (d.outcome != Outcome::kOk || !store->WaitVisible(d.visible_lsn).ok()) return 1;
  // Issue 8's records: a put naming its writer with a remembered answer,
  // a transaction (one commit record) and an answer-only record (a 409).
  Idempotency<WriteResult> idem;
  idem.key = "retry-7";
  idem.fingerprint = "0123456789abcdef";
  idem.render = [](const WriteResult& w) {
    return IdempotencyAnswer{w.outcome == Outcome::kOk ? 200 : 409,
                             R"({"status":"ok","version":)" + std::to_string(w.version) + "}"};
  };
  PutRequest named;
  named.workspace = "team-a";
  named.key = "ledger";
  named.value = R"({"owner":"pm"})";
  named.writer = "dev-lead";
  named.idempotency = &idem;
  const WriteResult n = store->Put(named);
  if (n.outcome != Outcome::kOk || !store->WaitVisible(n.visible_lsn).ok()) return 1;
  std::vector<TxnOp> ops(3);
  ops[0].type = TxnOp::Type::kCheck;
  ops[0].key = "ledger";
  ops[0].if_match_version = 1;
  ops[1].type = TxnOp::Type::kSet;
  ops[1].key = "claim:42";
  ops[1].value = R"({"by":"dev-lead"})";
  ops[1].ttl_ms = 600'000;
  ops[2].type = TxnOp::Type::kDelete;
  ops[2].key = "research:pmm";
  TxnRequest txn;
  txn.workspace = "team-a";
  txn.ops = &ops;
  txn.writer = "pm";
  const TxnResult t = store->Txn(txn);
  if (t.outcome != Outcome::kOk || !store->WaitVisible(t.visible_lsn).ok()) return 1;
  idem.key = "retry-8";
  named.if_match_version = 99;
  const WriteResult c = store->Put(named);
  if (c.outcome != Outcome::kConflict || !store->WaitVisible(c.visible_lsn).ok()) return 1;
  if (!store->Snapshot().ok()) {
    std::fprintf(stderr, "make_seeds: snapshot failed\n");
    return 1;
  }
  Put(store.get(), "w", "after-snapshot", "true");
  store.reset();  // clean close: everything synced

  int segments = 0, snapshots = 0, records = 0;
  for (const std::string& name : fs.Files("/data/wal")) {
    if (!std::string_view(name).ends_with(wal::kSegmentSuffix)) continue;
    std::string seg;
    if (!fs.ReadFile("/data/wal/" + name, &seg)) continue;
    seg = TrimZeros(seg);
    // The batches, for the damaged variants, the format-1 copy and the
    // record seeds.
    std::vector<wal::BatchAt> batches;
    wal::SegmentEnd end;
    std::string v1 = wal::EncodeSegmentHeader(1, wal::kSegmentFormatV1);
    if (!wal::ReadSegment(seg, name, [&](const wal::BatchAt& b) {
          batches.push_back(b);
          for (const wal::RecordAt& r : b.records) {
            const char mode = static_cast<char>(records % 2);  // half with the fix-up bit
            Write(corpus / "wal_record", "gen-rec" + std::to_string(records++), mode,
                  seg.substr(r.offset, r.size));
            v1.append(seg, r.offset, r.size);
          }
          return Status::OK();
        }, &end).ok() || !end.damage.empty() || batches.empty()) {
      std::fprintf(stderr, "make_seeds: %s is not a clean segment with data\n", name.c_str());
      return 1;
    }
    v1.append(wal::kRecordHeaderSize, '\0');
    // The targets' checksum fix-up must still reach past every checksum of
    // today's format: the last record's version changed, then fixed up,
    // reads clean, in the format-2 segment and in its format-1 copy.
    const wal::RecordAt& tail = batches.back().records.back();
    size_t in_seg = 0;
    for (const wal::BatchAt& b : batches) in_seg += b.records.size();
    for (const auto& [orig, at] : {std::pair{&seg, tail.offset + 24},
                                   std::pair{&v1, v1.size() - wal::kRecordHeaderSize - tail.size + 24}}) {
      std::string m = *orig;
      m[at] ^= 0x01;
      fuzz::FixSegmentChecksums(&m);
      size_t n = 0;
      wal::SegmentEnd e;
      if (!wal::ReadSegment(m, name, [&](const wal::BatchAt& b) {
            n += b.records.size();
            return Status::OK();
          }, &e).ok() || !e.damage.empty() || n != in_seg) {
        std::fprintf(stderr, "make_seeds: the checksum fix-up (tests/fuzz/fuzz_util.h) does not "
                             "repair a format-%d segment\n", orig == &seg ? 2 : 1);
        return 1;
      }
    }
    const wal::BatchAt& last = batches.back();
    std::vector<std::pair<std::string, std::string>> variants;
    variants.emplace_back("", seg);
    variants.emplace_back("-v1", v1);
    // A torn tail: the last batch cut in the middle of its body.
    variants.emplace_back("-torn", seg.substr(0, last.offset + last.size - 40));
    // The last batch's body damaged (torn: nothing later), then the first
    // batch's (damage: later batches verify and their synced_lsn reaches it).
    std::string flip = seg;
    flip[last.offset + last.size - 20] ^= 0x10;
    variants.emplace_back("-lastflip", flip);
    flip = seg;
    flip[batches[0].offset + wal::kBatchHeaderSize + 20] ^= 0x10;
    variants.emplace_back("-firstflip", flip);
    // The header lost with a torn first write: no segment header.
    std::string nohdr = seg;
    nohdr.replace(0, wal::kSegmentHeaderSize, wal::kSegmentHeaderSize, '\0');
    variants.emplace_back("-nohdr", nohdr);
    const std::string n = "gen-seg" + std::to_string(segments++);
    for (const auto& [suffix, bytes] : variants) {
      for (const char* target : {"wal_scan", "wal_segment"}) {
        Write(corpus / target, n + suffix, 0, bytes);
        Write(corpus / target, n + suffix + "-fixup", 1, bytes);
      }
    }
    Write(corpus / "wal_scan", n + "-after1", 2, seg);
    Write(corpus / "wal_scan", n + "-renumber", 5, seg);
    // Two segments (wal_scan mode bit 3): the batches split in the middle
    // as a rotation would; an older segment of format 1 (an upgrade); the
    // older segment damaged (an error: it is not the last).
    if (batches.size() >= 2) {
      const wal::BatchAt& mid = batches[batches.size() / 2];
      const std::string zeros(wal::kBatchHeaderSize, '\0');
      const std::string older = seg.substr(0, mid.offset) + zeros;
      const std::string newer = wal::EncodeSegmentHeader(2) +
                                seg.substr(mid.offset, last.offset + last.size - mid.offset) + zeros;
      std::string older_v1 = wal::EncodeSegmentHeader(1, wal::kSegmentFormatV1);
      for (size_t i = 0; i < batches.size() / 2; ++i)
        for (const wal::RecordAt& r : batches[i].records) older_v1.append(seg, r.offset, r.size);
      older_v1.append(wal::kRecordHeaderSize, '\0');
      std::string older_bad = older;
      older_bad[mid.offset - 20] ^= 0x10;
      Write(corpus / "wal_scan", n + "-two", 8, older + newer);
      Write(corpus / "wal_scan", n + "-two-fixup", 9, older + newer);
      Write(corpus / "wal_scan", n + "-two-after1", 10, older + newer);
      Write(corpus / "wal_scan", n + "-two-v1", 8, older_v1 + newer);
      Write(corpus / "wal_scan", n + "-two-olderflip", 8, older_bad + newer);
      Write(corpus / "wal_scan", n + "-two-torn", 8, older + newer.substr(0, newer.size() - 88));
    }
  }
  for (const std::string& name : fs.Files("/data/snap")) {
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".snap") != 0) continue;
    std::string snap;
    if (!fs.ReadFile("/data/snap/" + name, &snap)) continue;
    const std::string n = "gen-snap" + std::to_string(snapshots++);
    Write(corpus / "snapshot", n, 0, snap);
    Write(corpus / "snapshot", n + "-fixup", 1, snap);
  }
  const int history = HistorySeeds(corpus);
  std::printf("make_seeds: %d segment(s), %d record(s), %d snapshot(s), %d history segment(s) "
              "into %s\n", segments, records, snapshots, history, corpus.c_str());
  return segments > 0 && snapshots > 0 && records > 0 && history > 0 ? 0 : 1;
}
