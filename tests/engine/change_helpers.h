// Helpers for the change history and feed tests: a temporary data
// directory, stores on it (or memory-only), and events as comparable text.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/change_history.h"
#include "engine/store.h"

namespace casmem::changes_test {

inline constexpr int64_t kNow = 1'800'000'000'000;

// A data directory removed at the end of the test.
class TempDataDir {
 public:
  explicit TempDataDir(const std::string& name)
      : path_(::testing::TempDir() + "casmem-" + name + "-" + std::to_string(::getpid())) {
    std::filesystem::remove_all(path_);
  }
  ~TempDataDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline StoreOptions MemoryStoreOptions(Clock* clock) {
  StoreOptions o;
  o.shards = 16;
  o.clock = clock;
  o.sweep_interval = std::chrono::milliseconds(0);
  return o;
}

inline StoreOptions DiskStoreOptions(Clock* clock, const std::string& dir) {
  StoreOptions o = MemoryStoreOptions(clock);
  o.data_dir = dir;
  o.wal_segment_bytes = 64 * 1024;
  o.fsync = wal::FsyncMode::kNever;  // the history takes a batch once written; fast tests
  return o;
}

inline std::unique_ptr<Store> OpenStore(const StoreOptions& o) {
  std::unique_ptr<Store> s;
  Status st = Store::Open(o, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

// One change as text: "rev kind ws/key=value v<version> w<writer> t<expires>".
inline std::string Describe(const ChangeEvent& e) {
  std::string s = std::to_string(e.revision) + " " + ChangeKindName(e.kind) + " " +
                  std::string(e.workspace) + "/" + std::string(e.key);
  if (e.kind == ChangeKind::kPut) s += "=" + std::string(e.value);
  s += " v" + std::to_string(e.version);
  if (!e.writer.empty()) s += " w" + std::string(e.writer);
  if (e.expires_at_ms != 0) s += " t" + std::to_string(e.expires_at_ms);
  return s;
}

inline std::vector<std::string> Describe(const std::vector<ChangeEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(Describe(e));
  return out;
}

// Every matching change in (since, until], page by page (checking that
// pages continue each other and never split a revision).
inline std::vector<std::string> ReadAll(const ChangeHistory& h, const ChangeFilter& filter,
                                        uint64_t since, uint64_t until = UINT64_MAX,
                                        size_t max_events = 1000) {
  std::vector<std::string> out;
  ChangeHistory::Query q;
  q.filter = filter;
  q.since = since;
  q.until = until;
  q.max_events = max_events;
  uint64_t last_rev = since;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    ChangeHistory::Page page;
    Status s = h.Read(q, &page);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_FALSE(page.compacted) << "compact revision " << page.compact_revision;
    if (!s.ok() || page.compacted) break;
    for (const auto& e : page.events) {
      EXPECT_GT(e.revision, q.since);
      EXPECT_LE(e.revision, page.next_since);
      EXPECT_GE(e.revision, last_rev);
      last_rev = e.revision;
      out.push_back(Describe(e));
    }
    if (page.next_since == q.since) break;  // reached the end
    q.since = page.next_since;
  }
  return out;
}

inline ChangeFilter Filter(std::string ws, std::string prefix = "", bool exact = false) {
  ChangeFilter f;
  f.workspace = std::move(ws);
  f.prefix = std::move(prefix);
  f.exact_key = exact;
  return f;
}

}  // namespace casmem::changes_test
