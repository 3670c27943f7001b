// EntryNode allocation: header + key + value + writer in one block.
#include "engine/entry_node.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace casmem {

EntryNode* NewEntryNode(uint32_t ws_index, std::string_view key, std::string_view value,
                        std::string_view writer) {
  void* mem = std::malloc(sizeof(EntryNode) + key.size() + value.size() + writer.size());
  if (mem == nullptr) throw std::bad_alloc();
  EntryNode* n = new (mem) EntryNode{};
  n->ws_index = ws_index;
  n->key_len = static_cast<uint16_t>(key.size());
  n->value_len = static_cast<uint32_t>(value.size());
  n->writer_len = static_cast<uint8_t>(writer.size());
  std::memcpy(n->bytes(), key.data(), key.size());
  if (!value.empty()) std::memcpy(n->bytes() + key.size(), value.data(), value.size());
  if (!writer.empty()) std::memcpy(n->bytes() + key.size() + value.size(), writer.data(), writer.size());
  return n;
}

void FreeEntryNode(EntryNode* n) {
  n->~EntryNode();
  std::free(n);
}

size_t EntryNodeCapacity(const EntryNode* n) {
  return malloc_usable_size(const_cast<EntryNode*>(n)) - sizeof(EntryNode);
}

EntryNode* WithValue(EntryNode* n, std::string_view value, std::string_view writer) {
  const size_t need = n->key_len + value.size() + writer.size();
  // Reuse the block unless it is too small, or far too big (a large value
  // replaced by a small one would otherwise pin the memory). `value` and
  // `writer` never view into `n` (the callers pass request or log bytes).
  const size_t cap = EntryNodeCapacity(n);
  if (need <= cap && cap <= 2 * need + 64) {
    if (!value.empty()) std::memcpy(n->bytes() + n->key_len, value.data(), value.size());
    n->value_len = static_cast<uint32_t>(value.size());
    if (!writer.empty()) std::memcpy(n->bytes() + n->key_len + value.size(), writer.data(), writer.size());
    n->writer_len = static_cast<uint8_t>(writer.size());
    return n;
  }
  EntryNode* m = NewEntryNode(n->ws_index, n->key(), value, writer);
  m->lsn = n->lsn;
  m->version = n->version;
  m->set_updated_at_ms(n->updated_at_ms());
  m->set_expires_at_ms(n->expires_at_ms());
  m->tombstone = n->tombstone;
  return m;
}

}  // namespace casmem
