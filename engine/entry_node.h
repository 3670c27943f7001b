// EntryNode: the in-memory form of one key (live, expired-not-yet-swept, or
// tombstone). One malloc per key holds the header, the key bytes, the
// value bytes and the writer's name (memory-api.md §7), so the per-key overhead is the header plus one hash-set
// slot. A live node is also linked into its workspace's ordered tree (the
// intrusive hook costs no allocation); a tombstone is not.
//
// Invariants (the owning shard's lock protects every field):
// - linked into the workspace tree  <=>  !tombstone
// - lsn is the log record that produced this state; version is the last
//   version handed out for the key (a tombstone keeps it for continuation)
// - for a tombstone, updated_at_ms is when it died (delete time or the
//   expiry instant) and the value is empty.
#pragma once

#include <boost/intrusive/set.hpp>
#include <cstdint>
#include <string_view>

namespace casmem {

using TreeHook = boost::intrusive::set_member_hook<boost::intrusive::optimize_size<true>>;

struct EntryNode {
  TreeHook hook;  // 24 bytes: parent, left, right (colour in a pointer bit)
  uint64_t lsn;
  uint64_t version;
  uint32_t ws_index;  // index into the shard's workspace table
  uint32_t value_len;
  // Timestamps as unsigned 48-bit milliseconds since the epoch (until the
  // year 10889), split so the header packs into 64 bytes.
  uint32_t updated_lo;
  uint32_t expires_lo;
  uint16_t updated_hi;
  uint16_t expires_hi;
  uint16_t key_len;
  bool tombstone;
  uint8_t writer_len;  // Casmem-Writer of the write that made this state; 0 = none

  char* bytes() { return reinterpret_cast<char*>(this + 1); }
  const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }
  std::string_view key() const { return {bytes(), key_len}; }
  std::string_view value() const { return {bytes() + key_len, value_len}; }
  std::string_view writer() const { return {bytes() + key_len + value_len, writer_len}; }

  int64_t updated_at_ms() const { return Join48(updated_hi, updated_lo); }
  int64_t expires_at_ms() const { return Join48(expires_hi, expires_lo); }  // 0 = no TTL
  void set_updated_at_ms(int64_t ms) { Split48(ms, &updated_hi, &updated_lo); }
  void set_expires_at_ms(int64_t ms) { Split48(ms, &expires_hi, &expires_lo); }

  bool ExpiredAt(int64_t now_ms) const {
    const int64_t e = expires_at_ms();
    return e != 0 && now_ms >= e;
  }
  // Live = visible to reads: not deleted and not past its TTL.
  bool LiveAt(int64_t now_ms) const { return !tombstone && !ExpiredAt(now_ms); }

 private:
  static int64_t Join48(uint16_t hi, uint32_t lo) {
    return static_cast<int64_t>((static_cast<uint64_t>(hi) << 32) | lo);
  }
  static void Split48(int64_t ms, uint16_t* hi, uint32_t* lo) {
    constexpr int64_t kMax = (int64_t{1} << 48) - 1;
    const uint64_t v = static_cast<uint64_t>(ms < 0 ? 0 : (ms > kMax ? kMax : ms));
    *hi = static_cast<uint16_t>(v >> 32);
    *lo = static_cast<uint32_t>(v);
  }
};
static_assert(sizeof(EntryNode) == 64, "the per-key header is part of the memory budget");

// Allocates a node holding `key`, `value` and `writer`; every other field zeroed.
EntryNode* NewEntryNode(uint32_t ws_index, std::string_view key, std::string_view value,
                        std::string_view writer = {});
void FreeEntryNode(EntryNode* n);
// Bytes available after the header (malloc rounds up).
size_t EntryNodeCapacity(const EntryNode* n);
// Stores `value` and `writer` in `n` if they fit, else returns a new node
// carrying n's fields and key with them (the caller relinks and frees `n`).
EntryNode* WithValue(EntryNode* n, std::string_view value, std::string_view writer);

struct KeyLess {
  bool operator()(const EntryNode& a, const EntryNode& b) const { return a.key() < b.key(); }
  bool operator()(std::string_view a, const EntryNode& b) const { return a < b.key(); }
  bool operator()(const EntryNode& a, std::string_view b) const { return a.key() < b; }
};

using WorkspaceTree =
    boost::intrusive::set<EntryNode,
                          boost::intrusive::member_hook<EntryNode, TreeHook, &EntryNode::hook>,
                          boost::intrusive::compare<KeyLess>,
                          boost::intrusive::constant_time_size<false>>;

}  // namespace casmem
