// KeyTable: every key's last state as recovery would rebuild it from a
// snapshot and the log, in workspace then key order (bytewise), for
// `check`'s counts and `dump`. Built from records with Apply, never from
// the store (opening the store may change the directory).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "wal/record.h"

namespace casmem::offline {

struct KeyState {
  bool tombstone = false;
  bool expired = false;  // a tombstone the sweep logged when the TTL ran out
  uint64_t version = 0;
  uint64_t revision = 0;  // lsn of the record that made this state
  int64_t updated_at_ms = 0;
  int64_t expires_at_ms = 0;  // 0 = no TTL
  std::string value;          // compact JSON; empty for a tombstone
  std::string writer;
};

class KeyTable {
 public:
  // Applies a put, tombstone or commit record (its ops), unless the key
  // already holds a state of a later lsn (a snapshot may). Records holding
  // only an Idempotency-Key answer change no key.
  void Apply(const wal::Record& r);
  void Clear() { workspaces_.clear(); }

  using Keys = std::map<std::string, KeyState>;
  const std::map<std::string, Keys>& workspaces() const { return workspaces_; }

  // Live (tombstone false, whether or not past its TTL) and tombstones.
  uint64_t live() const;
  uint64_t tombstones() const;

 private:
  void Set(std::string_view ws, std::string_view key, KeyState state);
  std::map<std::string, Keys> workspaces_;
};

}  // namespace casmem::offline
