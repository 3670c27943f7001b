// ShardOf / Place: the one place that hashes a (workspace, key) and maps
// it to a shard. XXH3-64 with a fixed seed, so placement is stable across
// runs and machines; Lemire's multiply-shift maps the hash onto [0, shards).
// The key hash is seeded with the workspace hash, so a shard that caches
// its workspaces' hashes (Shard) can rehash a key without the name.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace casmem {

inline constexpr uint64_t kShardSeed = 0x5eed'ca5e'0f'5a'4d'01ULL;

inline uint64_t WorkspaceHash(std::string_view workspace) {
  return XXH3_64bits_withSeed(workspace.data(), workspace.size(), kShardSeed);
}

// The hash of `key` in the workspace whose WorkspaceHash is `ws_hash`.
inline uint64_t KeyHash(uint64_t ws_hash, std::string_view key) {
  return XXH3_64bits_withSeed(key.data(), key.size(), ws_hash);
}

inline uint64_t WorkspaceKeyHash(std::string_view workspace, std::string_view key) {
  return KeyHash(WorkspaceHash(workspace), key);
}

// Where a (workspace, key) lives, and its hash (which lookups reuse).
struct Placement {
  uint32_t shard;
  uint64_t hash;
};

inline Placement Place(std::string_view workspace, std::string_view key, uint32_t shards) {
  const uint64_t h = WorkspaceKeyHash(workspace, key);
  return {static_cast<uint32_t>((static_cast<unsigned __int128>(h) * shards) >> 64), h};
}

inline uint32_t ShardOf(std::string_view workspace, std::string_view key, uint32_t shards) {
  return Place(workspace, key, shards).shard;
}

}  // namespace casmem
