// Helpers shared by the store's write paths (store.cc, store_patch.cc,
// store_txn.cc); not part of the engine's interface.
#pragma once

#include <string_view>

#include "engine/entry_node.h"
#include "engine/names.h"
#include "engine/store.h"

namespace casmem {

inline const char* CheckKey(std::string_view ws, std::string_view key) {
  if (const char* problem = WorkspaceProblem(ws)) return problem;
  return KeyProblem(key);
}

inline bool GuardMatches(uint64_t expected, const EntryNode* n, bool live) {
  return expected == 0 ? !live : (live && n->version == expected);
}

Entry ToEntry(const EntryNode& n);
// Fills a refusal (`outcome`: kConflict or kPatchFailed) with the key's
// current state from its node (null: never seen).
void Conflict(const EntryNode* n, int64_t now, WriteResult* res,
              Outcome outcome = Outcome::kConflict);
// nullptr when `writer` may name a write (empty, or 1-128 printable ASCII).
const char* WriterProblem(std::string_view writer);

}  // namespace casmem
