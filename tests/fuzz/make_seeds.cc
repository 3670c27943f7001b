// make_seeds: regenerates the binary seed corpora of the WAL and snapshot
// targets through the real writers (a Store on MemFs: its Wal writes the
// segment, Store::Snapshot the snapshot), so the seeds follow the on-disk
// format after any change to it. Usage: make_seeds <tests/fuzz/corpus dir>.
// Writes corpus/{wal_scan,wal_record,snapshot}/gen-*; hand-written seeds
// (other names) are left alone. Seeds carry the targets' leading mode byte.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/store.h"
#include "tests/support/mem_fs.h"
#include "wal/format.h"
#include "common/logger.h"
#include "wal/record.h"

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
// record header (the end mark) so the file stays a valid segment.
std::string TrimZeros(const std::string& seg) {
  size_t end = seg.size();
  while (end > 0 && seg[end - 1] == 0) --end;
  end = (end + wal::kRecordAlign - 1) & ~(wal::kRecordAlign - 1);
  return seg.substr(0, std::min(seg.size(), end + wal::kRecordHeaderSize));
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
  if (!store->Snapshot().ok()) {
    std::fprintf(stderr, "make_seeds: snapshot failed\n");
    return 1;
  }
  Put(store.get(), "w", "after-snapshot", "true");
  store.reset();  // clean close: everything synced

  int segments = 0, snapshots = 0, records = 0;
  for (const std::string& name : fs.Files("/data/wal")) {
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".wal") != 0) continue;
    std::string seg;
    if (!fs.ReadFile("/data/wal/" + name, &seg)) continue;
    seg = TrimZeros(seg);
    const std::string n = "gen-seg" + std::to_string(segments++);
    Write(corpus / "wal_scan", n, 0, seg);
    Write(corpus / "wal_scan", n + "-fixup", 1, seg);
    Write(corpus / "wal_scan", n + "-after1", 2, seg);
    // A torn tail: the last record cut in the middle.
    Write(corpus / "wal_scan", n + "-torn", 0, seg.substr(0, seg.size() - 40));
    size_t pos = wal::kSegmentHeaderSize;
    for (;;) {
      wal::Record r;
      size_t used = 0;
      if (wal::DecodeRecord(std::string_view(seg).substr(pos), &r, &used) != wal::DecodeStatus::kOk)
        break;
      const char mode = static_cast<char>(records % 2);  // half with the fix-up bit
      Write(corpus / "wal_record", "gen-rec" + std::to_string(records++), mode,
            seg.substr(pos, used));
      pos += used;
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
  std::printf("make_seeds: %d segment(s), %d record(s), %d snapshot(s) into %s\n", segments,
              records, snapshots, corpus.c_str());
  return segments > 0 && snapshots > 0 && records > 0 ? 0 : 1;
}
