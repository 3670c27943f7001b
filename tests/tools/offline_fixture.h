// Test support for the offline commands' tests: data directories built
// with the engine, their files, and byte-level damage.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/store.h"

namespace casmem::testing {

inline std::string FreshDir(const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "casmem-offline-" + name + "-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Every regular file under `dir` and its bytes: a directory's whole state.
inline std::map<std::string, std::string> TreeBytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().string()] = ReadAll(e.path().string());
  }
  return out;
}

// Segments of DATA/wal in log order.
inline std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal")) {
    if (e.path().extension() == ".wal") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<std::string> Snapshots(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/snap")) {
    if (e.path().extension() == ".snap") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string KeyName(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%04d", i);
  return buf;
}

// A value of about 1 KiB that says which key it belongs to.
inline std::string ValueOf(int i) {
  return "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(1000, 'a' + i % 26) + "\"}";
}

// Writes keys k0000..k(n-1) of workspace "ws" (one record each: key i has
// lsn i + 1) into a store with 64 KiB segments, so the log spans several
// segments; `snapshot`: Close writes a snapshot (else only the log).
// With `first`, keys k<first>.. are added to what `dir` holds.
inline void BuildStore(const std::string& dir, int n, bool snapshot, int first = 0) {
  StoreOptions o;
  o.data_dir = dir;
  o.wal_segment_bytes = 64 * 1024;
  o.sweep_interval = std::chrono::milliseconds(0);
  o.snapshot_on_close = snapshot;
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(o, &store).ok());
  for (int i = first; i < first + n; ++i) {
    PutRequest req;
    req.workspace = "ws";
    const std::string key = KeyName(i), value = ValueOf(i);
    req.key = key;
    req.value = value;
    ASSERT_EQ(store->Put(req).outcome, Outcome::kOk);
  }
  ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
  ASSERT_TRUE(store->Close().ok());
}

}  // namespace casmem::testing
