// KeyTable: replays records into per-key states (latest lsn wins).
#include "tools/offline/key_table.h"

namespace casmem::offline {

void KeyTable::Set(std::string_view ws, std::string_view key, KeyState state) {
  Keys& keys = workspaces_[std::string(ws)];
  auto [it, inserted] = keys.try_emplace(std::string(key));
  if (!inserted && it->second.revision > state.revision) return;
  it->second = std::move(state);
}

void KeyTable::Apply(const wal::Record& r) {
  if (r.type == wal::kRecordCommit) {
    std::string_view rest = r.op_bytes;
    wal::CommitOp op;
    for (uint16_t i = 0; i < r.op_count && wal::NextCommitOp(&rest, &op); ++i) {
      KeyState s;
      s.tombstone = op.type == wal::kRecordTombstone;
      s.version = op.version;
      s.revision = r.lsn;
      s.updated_at_ms = r.updated_at_ms;
      s.expires_at_ms = s.tombstone ? 0 : op.expires_at_ms;
      s.value = op.value;
      s.writer = r.writer;
      Set(r.workspace, op.key, std::move(s));
    }
    return;
  }
  KeyState s;
  s.tombstone = r.type == wal::kRecordTombstone;
  s.expired = r.expired;
  s.version = r.version;
  s.revision = r.lsn;
  s.updated_at_ms = r.updated_at_ms;
  s.expires_at_ms = s.tombstone ? 0 : r.expires_at_ms;
  s.value = r.value;
  s.writer = r.writer;
  Set(r.workspace, r.key, std::move(s));
}

uint64_t KeyTable::live() const {
  uint64_t n = 0;
  for (const auto& [ws, keys] : workspaces_)
    for (const auto& [k, s] : keys) n += s.tombstone ? 0 : 1;
  return n;
}

uint64_t KeyTable::tombstones() const {
  uint64_t n = 0;
  for (const auto& [ws, keys] : workspaces_)
    for (const auto& [k, s] : keys) n += s.tombstone ? 1 : 0;
  return n;
}

}  // namespace casmem::offline
