// POST /workspaces/{ws}/txn (memory-api.md §6): the body is parsed and
// every op checked (txn_body.h), patches parsed, values bounded, then
// Store::Txn applies all ops or none. RenderTxn is the one renderer of a
// transaction's reply, also what an Idempotency-Key remembers.
#include "engine/json_patch.h"
#include "net/handler.h"
#include "net/handler_internal.h"
#include "net/json_out.h"
#include "net/txn_body.h"
#include "net/write_headers.h"

namespace casmem::net {
namespace {

std::string OpPrefix(int i) { return "op " + std::to_string(i) + ": "; }

HttpResponse RenderTxn(const TxnResult& t, const std::vector<TxnBodyOp>& ops) {
  if (auto r = IdempotencyResponse(t.outcome, t.replay)) return std::move(*r);
  if (auto r = StorageResponse(t.outcome, t.error)) return std::move(*r);
  const WriteResult& f = t.failure;
  const bool at_op = t.op_index >= 0 && static_cast<size_t>(t.op_index) < ops.size();
  const std::string where = at_op ? OpPrefix(t.op_index) : "";
  std::string message = !f.patch_error.message.empty() ? f.patch_error.message
                        : !f.error.empty()              ? f.error
                                                        : t.error;
  switch (t.outcome) {
    case Outcome::kOk: {
      std::vector<std::string_view> keys;
      keys.reserve(ops.size());
      for (const TxnBodyOp& op : ops) keys.push_back(op.key);
      return Json(200, TxnOkJson(t.revision, keys, t.versions));
    }
    case Outcome::kConflict:
    case Outcome::kPatchFailed: {
      TxnFailure out;
      out.op_index = t.op_index;
      if (t.outcome == Outcome::kPatchFailed) {
        out.reason = "patch failed: " + message;
        out.patch_op_index = f.patch_error.op_index;
      } else {
        out.reason = at_op && ops[t.op_index].type == TxnOp::Type::kCheck
                         ? "version mismatch"
                         : "if_match_version mismatch";
        out.expected_version = t.expected_version;
      }
      out.current_version = f.current_version;
      out.current_value = f.current_value;
      out.current_writer = f.current_writer;
      return Json(409, TxnFailedJson(out));
    }
    case Outcome::kTooLarge:
      return Handler::Error(413, where + message);
    default:
      return Handler::Error(400, where + message);
  }
}

}  // namespace

HandlerResult Handler::Txn(const std::string& ws, const HttpRequest& http, const WriteHeaders& h) {
  std::string error;
  auto body = ParseTxnBody(http.body, &error);
  if (!body) return ResultOf(Error(400, error));
  const std::vector<TxnBodyOp>& parsed = *body;
  const uint64_t max_value = store_->options().max_value_bytes;
  std::vector<std::unique_ptr<JsonPatch>> json_patches;
  std::vector<std::unique_ptr<MergePatch>> merge_patches;
  std::vector<TxnOp> ops(parsed.size());
  for (size_t i = 0; i < parsed.size(); ++i) {
    const TxnBodyOp& p = parsed[i];
    TxnOp& op = ops[i];
    op.type = p.type;
    op.key = p.key;
    op.if_match_version = p.version;
    if (p.ttl_seconds) op.ttl_ms = static_cast<int64_t>(*p.ttl_seconds) * 1000;
    if (p.type == TxnOp::Type::kSet) {
      if (p.value.size() > max_value) {
        return ResultOf(Error(413, OpPrefix(static_cast<int>(i)) + "value larger than " +
                                       std::to_string(max_value) + " bytes"));
      }
      op.value = p.value;
    } else if (p.type == TxnOp::Type::kPatch) {
      PatchError perr;
      if (p.merge) {
        merge_patches.push_back(MergePatch::Parse(p.patch_text, &perr));
        op.merge_patch = merge_patches.back().get();
      } else {
        json_patches.push_back(JsonPatch::Parse(p.patch_text, &perr));
        op.json_patch = json_patches.back().get();
      }
      if (op.merge_patch == nullptr && op.json_patch == nullptr) {
        std::string msg = OpPrefix(static_cast<int>(i)) + "malformed patch";
        if (perr.op_index >= 0) msg += " (patch op " + std::to_string(perr.op_index) + ")";
        if (!perr.message.empty()) msg += ": " + perr.message;
        return ResultOf(Error(400, msg));
      }
    }
  }
  auto render = [&](const TxnResult& t) { return RenderTxn(t, parsed); };
  IdempotencyFor<TxnResult> idem(h, http, render);
  TxnRequest req;
  req.workspace = ws;
  req.ops = &ops;
  req.writer = h.writer;
  req.idempotency = idem.get();
  const TxnResult t = store_->Txn(req);
  HandlerResult r = ResultOf(render(t));
  r.visible_lsn = t.visible_lsn;
  r.is_write = true;
  if (t.outcome == Outcome::kConflict) metrics_->CountConflict();
  if (t.outcome == Outcome::kReplay) metrics_->CountReplay();
  return r;
}

}  // namespace casmem::net
