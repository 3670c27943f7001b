// Little-endian fixed-width loads and stores for the on-disk formats.
// memcpy keeps them alignment-safe; the target (x86-64, arm64 Linux) is
// little-endian, which the static_assert pins.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace casmem::wal {

static_assert(std::endian::native == std::endian::little, "on-disk format is little-endian");

inline void PutU16(char* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void PutU32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void PutU64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t GetU16(const char* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t GetU32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t GetU64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

}  // namespace casmem::wal
