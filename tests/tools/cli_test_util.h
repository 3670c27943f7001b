// Small helpers of the CLI's online tests: a fresh directory per test and
// splitting output into lines.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace casmem::testing {

// A new empty directory under the test temporary directory.
inline std::string NewTestDir(const std::string& name) {
  static int counter = 0;
  const std::string dir = ::testing::TempDir() + "casmem-cli-" + name + "-" +
                          std::to_string(::getpid()) + "-" + std::to_string(++counter);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void RemoveTestDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::remove(dir + "/data.stderr", ec);
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

}  // namespace casmem::testing
