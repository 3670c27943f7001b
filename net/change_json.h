// The wire forms of changes (memory-api.md §8): the JSON `data` of one
// change (shared by the SSE stream and the `changes` long-poll), the SSE
// framing of one record's changes, and the long-poll's bodies.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/change_feed.h"
#include "engine/change_history.h"

namespace casmem::net {

// A put's data is the entry (memory-api.md §1: key, value, version,
// revision, updated_at, expires_at while a TTL is set, writer when
// named); a delete's or an expire's is key, version (the tombstone's),
// revision, updated_at, and writer when the delete named one.
std::string ChangeDataJson(const ChangeEvent& e);

// Appends the SSE events of one record's changes (one revision) to *out:
// "event: <kind>\ndata: <data>\n\n" each, the last one preceded by
// "id: <revision>\n", so a client cut off inside a transaction resumes
// before it and receives it whole again.
void AppendSseRecord(std::span<const FeedEvent> changes, std::string* out);

// The SSE event that ends a stream whose `since` is older than the kept
// history: `event: compacted`, data {"compact_revision": C}.
std::string SseCompacted(uint64_t compact_revision);
// The SSE event that ends a stream that fell more than `buffer_bytes`
// behind: `event: lagged`, data {"error": ..., "buffer_bytes": N}.
std::string SseLagged(uint64_t buffer_bytes);

// GET …/changes 200: {"changes":[{"event":K, ...data}...],"revision":R}.
std::string ChangesJson(const std::vector<ChangeEvent>& changes, uint64_t revision);
// GET …/changes 410: {"error":"compacted","compact_revision":C}.
std::string CompactedJson(uint64_t compact_revision);

}  // namespace casmem::net
