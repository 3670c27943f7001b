// Fuzz target: ParseTxnBody, the transaction body parser. Input: the body
// bytes. Invariants: a refusal says why; an accepted body has 1-128 ops,
// each with a valid key and the members its type needs, every captured
// value or patch exactly one valid-UTF-8 JSON value (a JSON Patch an
// array), no key written twice nor checked after its write; and it is a
// fixed point: a body rebuilt from the parsed ops parses to the same ops.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "engine/names.h"
#include "net/json_body.h"
#include "net/txn_body.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using casmem::TxnOp;
using casmem::net::TxnBodyOp;

std::string Quote(std::string_view s) {  // JSON string of valid UTF-8 `s`
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Rebuild(const std::vector<TxnBodyOp>& ops) {
  std::string b = "{\"ops\":[";
  for (size_t i = 0; i < ops.size(); ++i) {
    const TxnBodyOp& op = ops[i];
    if (i) b += ',';
    static const char* kNames[] = {"check", "set", "patch", "delete"};
    b += "{\"op\":\"" + std::string(kNames[static_cast<int>(op.type)]) + "\",\"key\":" + Quote(op.key);
    switch (op.type) {
      case TxnOp::Type::kCheck: b += ",\"version\":" + std::to_string(*op.version); break;
      case TxnOp::Type::kSet: b += ",\"value\":" + op.value; break;
      case TxnOp::Type::kPatch: b += (op.merge ? ",\"merge\":" : ",\"patch\":") + op.patch_text; break;
      case TxnOp::Type::kDelete: break;
    }
    if (op.type != TxnOp::Type::kCheck && op.version) {
      b += ",\"if_match_version\":" + std::to_string(*op.version);
    }
    if (op.ttl_seconds) b += ",\"ttl_seconds\":" + std::to_string(*op.ttl_seconds);
    b += '}';
  }
  return b + "]}";
}

bool Same(const TxnBodyOp& a, const TxnBodyOp& b) {
  return a.type == b.type && a.key == b.key && a.value == b.value && a.patch_text == b.patch_text &&
         a.merge == b.merge && a.version == b.version && a.ttl_seconds == b.ttl_seconds;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace casmem::net;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto parsed = ParseTxnBody(body, &error);
  if (!parsed) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  const std::vector<TxnBodyOp>& ops = *parsed;
  FUZZ_CHECK(!ops.empty() && ops.size() <= kMaxTxnOps);
  std::set<std::string> written;
  for (const TxnBodyOp& op : ops) {
    FUZZ_CHECK(casmem::KeyProblem(op.key) == nullptr);
    FUZZ_CHECK(!written.count(op.key));
    if (op.type != TxnOp::Type::kCheck) written.insert(op.key);
    switch (op.type) {
      case TxnOp::Type::kCheck:
        FUZZ_CHECK(op.version.has_value());
        FUZZ_CHECK(!op.ttl_seconds);
        break;
      case TxnOp::Type::kSet:
        FUZZ_CHECK(casmem::ValidUtf8(op.value) && casmem::fuzz::IsOneJsonValue(op.value));
        break;
      case TxnOp::Type::kPatch:
        FUZZ_CHECK(casmem::ValidUtf8(op.patch_text) && casmem::fuzz::IsOneJsonValue(op.patch_text));
        FUZZ_CHECK(op.merge || op.patch_text.front() == '[');
        break;
      case TxnOp::Type::kDelete:
        FUZZ_CHECK(!op.ttl_seconds);
        break;
    }
    if (op.ttl_seconds) FUZZ_CHECK(*op.ttl_seconds >= 1 && *op.ttl_seconds <= kMaxTtlSeconds);
  }
  const std::string again = Rebuild(ops);
  auto reparsed = ParseTxnBody(again, &error);
  FUZZ_CHECK(reparsed);
  FUZZ_CHECK(reparsed->size() == ops.size());
  for (size_t i = 0; i < ops.size(); ++i) FUZZ_CHECK(Same((*reparsed)[i], ops[i]));
  return 0;
}
