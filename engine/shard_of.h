// ShardOf: the one function that places a (workspace, key) in a shard.
// XXH3-64 with a fixed seed, so placement is stable across runs and
// machines; Lemire's multiply-shift maps the hash onto [0, shards).
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace casmem {

inline constexpr uint64_t kShardSeed = 0x5eed'ca5e'0f'5a'4d'01ULL;

inline uint64_t WorkspaceKeyHash(std::string_view workspace, std::string_view key) {
  const uint64_t ws = XXH3_64bits_withSeed(workspace.data(), workspace.size(), kShardSeed);
  return XXH3_64bits_withSeed(key.data(), key.size(), ws);
}

inline uint32_t ShardOf(std::string_view workspace, std::string_view key, uint32_t shards) {
  const uint64_t h = WorkspaceKeyHash(workspace, key);
  return static_cast<uint32_t>((static_cast<unsigned __int128>(h) * shards) >> 64);
}

}  // namespace casmem
