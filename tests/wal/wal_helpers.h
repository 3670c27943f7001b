// Helpers shared by the WAL tests: open a log on a MemFs, append simple
// records, collect what recovery replays.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/mem_fs.h"
#include "wal/wal.h"

namespace casmem::wal {

inline constexpr char kDir[] = "/data/wal";

struct Replayed {
  uint64_t lsn;
  std::string key;
  std::string value;
};

inline WalOptions MemOptions(testing::MemFs* fs, uint64_t segment_bytes = 1 << 20) {
  WalOptions o;
  o.dir = kDir;
  o.fs = fs;
  o.segment_bytes = segment_bytes;
  return o;
}

inline Status OpenCollect(const WalOptions& o, std::unique_ptr<Wal>* wal,
                          std::vector<Replayed>* out, ScanResult* scan = nullptr) {
  out->clear();
  return Wal::Open(
      o, 0,
      [out](const Record& r) {
        out->push_back({r.lsn, std::string(r.key), std::string(r.value)});
      },
      wal, scan);
}

inline uint64_t AppendKV(Wal* wal, const std::string& key, const std::string& value) {
  Record r;
  r.workspace = "ws";
  r.key = key;
  r.value = value;
  r.version = 1;
  return wal->Append(&r);
}

inline std::string ValueOf(int i, size_t size = 20) {
  std::string v = "{\"i\":" + std::to_string(i) + ",\"pad\":\"";
  while (v.size() + 2 < size) v.push_back('x');
  return v + "\"}";
}

}  // namespace casmem::wal
