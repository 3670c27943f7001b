// Helpers shared by the store's write paths (store.cc, store_patch.cc,
// store_txn.cc); not part of the engine's interface.
#pragma once

#include <optional>
#include <string_view>

#include "engine/entry_node.h"
#include "engine/names.h"
#include "engine/store.h"

namespace casmem {

// For put, get and delete, which the token registry uses too.
inline const char* CheckKey(std::string_view ws, std::string_view key) {
  if (const char* problem = StoredWorkspaceProblem(ws)) return problem;
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

template <class R>
bool Store::Claim(std::string_view ws, const Idempotency<R>* idem, R* res,
                  std::optional<AnswerToLog>* answer) {
  if (idem == nullptr) return true;
  if (!ClaimKey(ws, idem->key, idem->fingerprint, &res->outcome, &res->replay, &res->visible_lsn,
                &res->error)) {
    return false;
  }
  answer->emplace(AnswerToLog{idem->key, idem->fingerprint, [res, idem](uint64_t lsn) {
                                // A write that got no revision of its own (a
                                // delete of an absent key, a transaction of
                                // checks on a fresh store) names the record
                                // holding its answer; renderers show a
                                // revision only for what was written.
                                if (res->outcome == Outcome::kOk && res->revision == 0) {
                                  res->revision = lsn;
                                }
                                return idem->render(*res);
                              }});
  return true;
}

}  // namespace casmem
