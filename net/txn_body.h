// Parsing of the POST /workspaces/{ws}/txn body (memory-api.md §6) with
// RapidJSON's SAX reader, under the same rules as json_body.h: iterative,
// depth-bounded, every decoded string valid UTF-8, numbers kept as their
// source text. The parser checks the shape of each op and the rules that
// need no store: 1-128 ops, a key written by at most one op, a check of a
// key only before its write. Patches are not parsed here (the handler
// hands `patch_text` to JsonPatch::Parse / MergePatch::Parse).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store.h"

namespace casmem::net {

inline constexpr size_t kMaxTxnOps = 128;

struct TxnBodyOp {
  TxnOp::Type type = TxnOp::Type::kSet;
  std::string key;
  std::string value;       // set: compact JSON
  std::string patch_text;  // patch: compact JSON of `patch` (an array) or `merge`
  bool merge = false;      // patch: patch_text is a merge patch
  // set / patch / delete: if_match_version; check: version (0 = absent).
  std::optional<uint64_t> version;
  std::optional<uint64_t> ttl_seconds;  // set / patch
};

// Returns nullopt and sets *error (a sentence for the client, naming the op
// index as "op N" when one op is at fault) when the body is not an object
// with an `ops` array of 1-128 op objects, an op lacks a member its type
// needs or has one of the wrong type, carries a member of another op type
// (a `version` on a delete would otherwise be silently ignored), a key is
// invalid, written twice or checked after its write. Members no op type
// knows are ignored, as in POST. Nesting: a `value` or `merge` may be
// kMaxJsonDepth deep, a `patch` array one more (the array itself).
std::optional<std::vector<TxnBodyOp>> ParseTxnBody(std::string_view body, std::string* error);

}  // namespace casmem::net
