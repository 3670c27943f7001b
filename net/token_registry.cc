// TokenRegistry (token_registry.h): tokens kept in the store's tokens
// workspace, and an in-memory index by name and by hash.
#include "net/token_registry.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <unordered_map>

#include "common/logger.h"
#include "engine/names.h"

namespace casmem::net {

namespace {

// The first 8 bytes of a hash: the index's bucket. Only the bucket is
// found by an ordinary (variable-time) lookup; the whole hash is then
// compared in constant time, so timing tells nothing about the rest.
uint64_t Bucket(const TokenHash& h) {
  uint64_t b = 0;
  for (int i = 0; i < 8; ++i) b = (b << 8) | h[i];
  return b;
}

std::string ValueJson(const TokenInfo& t) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("workspace");
  w.String(t.workspace.data(), static_cast<rapidjson::SizeType>(t.workspace.size()));
  w.Key("role");
  w.String(RoleName(t.role));
  w.Key("sha256");
  const std::string hex = HashHex(t.hash);
  w.String(hex.data(), static_cast<rapidjson::SizeType>(hex.size()));
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

// The token an entry of the tokens workspace describes, if it does.
std::optional<TokenInfo> FromEntry(const Entry& e) {
  rapidjson::Document d;
  d.Parse(e.value.data(), e.value.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  auto str = [&](const char* name) -> std::optional<std::string_view> {
    if (!d.HasMember(name) || !d[name].IsString()) return std::nullopt;
    const auto& v = d[name];
    return std::string_view(v.GetString(), v.GetStringLength());
  };
  const auto ws = str("workspace"), role = str("role"), hash = str("sha256");
  if (!ws || !role || !hash) return std::nullopt;
  TokenInfo t;
  t.name = e.key;
  t.workspace = std::string(*ws);
  const auto r = ParseRole(*role);
  const auto h = ParseHashHex(*hash);
  if (TokenNameProblem(t.name) || !r || !h || (t.workspace != "*" && !ValidWorkspace(t.workspace)) ||
      (*r == Role::kAdmin && t.workspace != "*")) {
    return std::nullopt;
  }
  t.role = *r;
  t.hash = *h;
  t.created_at_ms = e.updated_at_ms;
  t.created_by = e.writer;
  return t;
}

std::string OutcomeError(const WriteResult& w) {
  return w.error.empty() ? "storage unavailable" : w.error;
}

}  // namespace

const char* RoleName(Role r) {
  switch (r) {
    case Role::kRead: return "read";
    case Role::kWrite: return "write";
    case Role::kAdmin: return "admin";
  }
  return "read";
}

std::optional<Role> ParseRole(std::string_view s) {
  if (s == "read") return Role::kRead;
  if (s == "write") return Role::kWrite;
  if (s == "admin") return Role::kAdmin;
  return std::nullopt;
}

bool TokenAllows(const TokenInfo& t, std::string_view ws, Role need) {
  if (static_cast<int>(t.role) < static_cast<int>(need)) return false;
  if (t.workspace == "*") return true;
  return !ws.empty() && ws == t.workspace;
}

const char* TokenNameProblem(std::string_view name) {
  return ValidWorkspace(name) ? nullptr : "token name must be 1-128 characters of [A-Za-z0-9._-]";
}

struct TokenRegistry::Index {
  std::unordered_map<std::string, std::shared_ptr<const TokenInfo>> by_name;
  std::unordered_map<uint64_t, std::vector<std::shared_ptr<const TokenInfo>>> by_bucket;

  void Add(std::shared_ptr<const TokenInfo> t) {
    by_bucket[Bucket(t->hash)].push_back(t);
    by_name[t->name] = std::move(t);
  }
  void Remove(const std::string& name) {
    auto it = by_name.find(name);
    if (it == by_name.end()) return;
    auto& bucket = by_bucket[Bucket(it->second->hash)];
    std::erase_if(bucket, [&](const auto& t) { return t->name == name; });
    if (bucket.empty()) by_bucket.erase(Bucket(it->second->hash));
    by_name.erase(it);
  }
};

TokenRegistry::TokenRegistry(Store* store) : store_(store) {
  index_.store(std::make_shared<const Index>());
}

void TokenRegistry::Install(std::shared_ptr<const Index> index) {
  const size_t n = index->by_name.size();
  index_.store(std::move(index), std::memory_order_release);
  count_.store(n, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  for (const auto& fn : on_change_) fn(n);
}

Status TokenRegistry::Load() {
  std::lock_guard lk(write_mu_);
  auto index = std::make_shared<Index>();
  std::string after;
  for (;;) {
    ListResult page = store_->List(kTokensWorkspace, "", after, 1000);
    for (const Entry& e : page.entries) {
      if (auto t = FromEntry(e)) {
        index->Add(std::make_shared<const TokenInfo>(std::move(*t)));
      } else {
        LogWarn("tokens: entry '" + e.key + "' does not describe a token; ignored (it grants nothing)");
      }
    }
    if (!page.more || page.entries.empty()) break;
    after = page.entries.back().key;
  }
  Install(std::move(index));
  return Status::OK();
}

std::shared_ptr<const TokenInfo> TokenRegistry::Find(std::string_view secret) const {
  if (empty()) return nullptr;
  const TokenHash h = HashSecret(secret);
  const auto index = Snapshot();
  auto it = index->by_bucket.find(Bucket(h));
  if (it == index->by_bucket.end()) return nullptr;
  std::shared_ptr<const TokenInfo> found;
  for (const auto& t : it->second) {
    if (SameHash(t->hash, h)) found = t;
  }
  return found;
}

std::shared_ptr<const TokenInfo> TokenRegistry::Get(std::string_view name) const {
  const auto index = Snapshot();
  auto it = index->by_name.find(std::string(name));
  return it == index->by_name.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const TokenInfo>> TokenRegistry::List() const {
  const auto index = Snapshot();
  std::vector<std::shared_ptr<const TokenInfo>> out;
  out.reserve(index->by_name.size());
  for (const auto& [name, t] : index->by_name) out.push_back(t);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
  return out;
}

const char* TokenRegistry::CreateProblem(std::string_view name, std::string_view workspace,
                                         std::string_view role) {
  if (const char* problem = TokenNameProblem(name)) return problem;
  if (workspace != "*" && !ValidWorkspace(workspace)) {
    return "workspace must be \"*\" or 1-128 characters of [A-Za-z0-9._-]";
  }
  const auto r = ParseRole(role);
  if (!r) return "role must be read, write or admin";
  if (*r == Role::kAdmin && workspace != "*") return "an admin token is for every workspace: give workspace \"*\"";
  return nullptr;
}

TokenRegistry::Created TokenRegistry::Create(std::string_view name, std::string_view workspace,
                                             std::string_view role, std::string_view by) {
  Created out;
  const auto r = ParseRole(role);
  if (const char* problem = CreateProblem(name, workspace, role)) {
    out.outcome = Outcome::kInvalid;
    out.error = problem;
    return out;
  }
  std::string secret = NewTokenSecret();
  if (secret.empty()) {
    out.outcome = Outcome::kStorageFailed;
    out.error = "the random number generator failed";
    return out;
  }
  auto t = std::make_shared<TokenInfo>();
  t->name = std::string(name);
  t->workspace = std::string(workspace);
  t->role = *r;
  t->hash = HashSecret(secret);
  t->created_by = std::string(by);

  std::lock_guard lk(write_mu_);
  const std::string value = ValueJson(*t);
  PutRequest put;
  put.workspace = kTokensWorkspace;
  put.key = t->name;
  put.value = value;
  put.if_match_version = 0;  // create only: a name is one token
  put.writer = by;
  const WriteResult w = store_->Put(put);
  if (w.outcome != Outcome::kOk) {
    out.outcome = w.outcome;
    out.error = w.outcome == Outcome::kConflict ? "a token named '" + t->name + "' exists"
                                                : OutcomeError(w);
    return out;
  }
  const GetResult g = store_->Get(kTokensWorkspace, t->name);
  t->created_at_ms = g.outcome == Outcome::kOk ? g.entry.updated_at_ms : 0;
  auto index = std::make_shared<Index>(*Snapshot());
  index->Add(t);
  Install(std::move(index));
  out.token = std::move(t);
  out.secret = std::move(secret);
  out.visible_lsn = w.visible_lsn;
  LogInfo("tokens: created '" + out.token->name + "' (" + RoleName(out.token->role) + " on " +
          out.token->workspace + ") by " + std::string(by));
  return out;
}

TokenRegistry::Revoked TokenRegistry::Revoke(std::string_view name, std::string_view by,
                                             bool keep_last_admin) {
  Revoked out;
  std::lock_guard lk(write_mu_);
  auto t = Get(name);
  if (!t) {
    out.outcome = Outcome::kNotFound;
    out.error = "no token named '" + std::string(name) + "'";
    return out;
  }
  if (keep_last_admin && t->role == Role::kAdmin) {
    size_t admins = 0;
    for (const auto& [n, other] : Snapshot()->by_name) admins += other->role == Role::kAdmin;
    if (admins == 1) {
      out.outcome = Outcome::kConflict;
      out.error = "'" + t->name + "' is the last admin token: create another admin token first "
                  "(or revoke it offline: casmemd token revoke)";
      return out;
    }
  }
  // The store first: a delete it refuses (the log failed, or is too far
  // behind: kBusy) leaves the token in the index, so the index never
  // says a token is gone that a restart would bring back, and a retry
  // finds it. A delete it takes is applied in memory at once; the index
  // follows under the same lock.
  DeleteRequest del;
  del.workspace = kTokensWorkspace;
  del.key = t->name;
  del.writer = by;
  const WriteResult w = store_->Delete(del);
  if (w.outcome != Outcome::kOk) {
    out.outcome = w.outcome;
    out.error = "token not revoked: " + OutcomeError(w);
    return out;
  }
  auto index = std::make_shared<Index>(*Snapshot());
  index->Remove(t->name);
  Install(std::move(index));
  out.token = std::move(t);
  out.visible_lsn = w.visible_lsn;
  LogInfo("tokens: revoked '" + out.token->name + "' by " + std::string(by));
  return out;
}

}  // namespace casmem::net
