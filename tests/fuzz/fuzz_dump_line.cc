// Fuzz target: the dump format's line parser, what `casmem restore` reads
// from outside (tools/offline/json_lines.h). Input: one line.
// Invariants: a refusal says why; an accepted line names a valid
// workspace and key, a version in 1..2^53-1, a tombstone with no value,
// writer or TTL, or a value that is one compact, valid-UTF-8 JSON value;
// and writing the parsed state back as a dump line (what `dump` would
// print, with the restore's time for a line without updated_at) and
// parsing that gives the same state again, field for field.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/names.h"
#include "engine/store.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/offline/json_lines.h"

namespace {

using casmem::offline::DumpLine;

bool Same(const DumpLine& a, const DumpLine& b) {
  return a.workspace == b.workspace && a.key == b.key && a.value == b.value &&
         a.writer == b.writer && a.version == b.version && a.updated_at_ms == b.updated_at_ms &&
         a.expires_at_ms == b.expires_at_ms && a.tombstone == b.tombstone;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  DumpLine parsed;
  std::string error;
  if (!casmem::offline::ParseDumpLine(line, &parsed, &error)) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  FUZZ_CHECK(casmem::StoredWorkspaceProblem(parsed.workspace) == nullptr);
  FUZZ_CHECK(casmem::KeyProblem(parsed.key) == nullptr);
  FUZZ_CHECK(parsed.version >= 1 && parsed.version <= casmem::kMaxLoadVersion);
  FUZZ_CHECK(parsed.updated_at_ms >= 0 && parsed.expires_at_ms >= 0);
  if (parsed.tombstone) {
    FUZZ_CHECK(parsed.value.empty() && parsed.writer.empty() && parsed.expires_at_ms == 0);
  } else {
    FUZZ_CHECK(casmem::ValidUtf8(parsed.value));
    FUZZ_CHECK(casmem::fuzz::IsOneJsonValue(parsed.value));
  }

  casmem::offline::KeyState state;
  state.tombstone = parsed.tombstone;
  state.version = parsed.version;
  // A line without updated_at is loaded at the time of the restore, which
  // a later dump prints.
  state.updated_at_ms = parsed.updated_at_ms != 0 ? parsed.updated_at_ms : 1'800'000'000'000;
  state.expires_at_ms = parsed.expires_at_ms;
  state.value = parsed.value;
  state.writer = parsed.writer;
  std::string written;
  casmem::offline::AppendDumpLine(parsed.workspace, parsed.key, state, false, &written);
  FUZZ_CHECK(!written.empty() && written.back() == '\n');
  written.pop_back();
  DumpLine again;
  FUZZ_CHECK(casmem::offline::ParseDumpLine(written, &again, &error));
  DumpLine want = parsed;
  want.updated_at_ms = state.updated_at_ms;
  FUZZ_CHECK(Same(want, again));
  return 0;
}
