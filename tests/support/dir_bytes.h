// DirBytes: every byte of every file under a directory, concatenated, for
// tests that search a data directory for what must not be there (a secret).
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace casmem::testing {

inline std::string DirBytes(const std::string& dir) {
  std::string all;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(f), {});
  }
  return all;
}

}  // namespace casmem::testing
