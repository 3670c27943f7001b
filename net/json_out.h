// JSON response bodies of the memory API, compact, built with RapidJSON's
// writer. Stored values are inserted verbatim (they are compact JSON
// already), so numbers keep their digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/rfc3339.h"
#include "engine/store.h"

namespace casmem::net {

std::string ErrorJson(std::string_view message);
std::string EntryJson(const Entry& e);
// Appends `e` to a list body being built ("[" and "," are the caller's).
void AppendEntryJson(const Entry& e, std::string* out);
// POST and PATCH 200: {"status":"ok","key":K,"version":V,"revision":R}
// plus "value" (PATCH: the new value, verbatim) when `value` is given.
std::string WriteOkJson(std::string_view key, uint64_t version, uint64_t revision,
                        const std::string* value = nullptr);
// DELETE 200: "revision" only when a live key was deleted (`applied`).
std::string DeleteOkJson(bool applied, uint64_t revision);
// The guard's 409 (memory-api.md §3); current_writer only when the current
// version named one.
std::string ConflictJson(std::optional<uint64_t> expected,
                         const std::optional<uint64_t>& current_version,
                         const std::optional<std::string>& current_value,
                         const std::optional<std::string>& current_writer = std::nullopt);
// PATCH 409 (§5): {"error":"patch failed: <message>","op_index":i,
// "current_version":V|null,"current_value":...,"current_writer":...}.
std::string PatchFailedJson(std::string_view message, int op_index,
                            const std::optional<uint64_t>& current_version,
                            const std::optional<std::string>& current_value,
                            const std::optional<std::string>& current_writer);
// Transaction 200 (§6): one result per op, in order.
std::string TxnOkJson(uint64_t revision, const std::vector<std::string_view>& keys,
                      const std::vector<std::optional<uint64_t>>& versions);
// Transaction 409 (§6): the failing op and that op's own 409 members. A
// patch failure carries patch_op_index; any other failure expected_version.
struct TxnFailure {
  int op_index = 0;
  std::string reason;
  std::optional<int> patch_op_index;
  std::optional<uint64_t> expected_version;
  std::optional<uint64_t> current_version;
  std::optional<std::string> current_value;
  std::optional<std::string> current_writer;
};
std::string TxnFailedJson(const TxnFailure& f);

}  // namespace casmem::net
