// TokenRegistry: the access tokens of memory-api.md §9 (name, workspace or
// "*", role, SHA-256 of the secret) and the lookup every request makes.
//
// Tokens live in the store, in its own workspace (kTokensWorkspace,
// engine/names.h: one key per token name, value {"workspace","role",
// "sha256"}), so they are logged, fsynced, snapshotted and recovered like
// any write; the registry keeps an index of them in memory, loaded at
// start and changed by Create and Revoke, which are the only writers of
// that workspace. The secret itself is never stored: it is returned once
// by Create.
//
// Thread safety: Find, List, Get and empty from any thread (they read an
// immutable index, swapped whole); Create and Revoke serialize among
// themselves, so the index always matches the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/store.h"
#include "net/token_secret.h"

namespace casmem::net {

// read: GET, list, watch; write: also every write; admin: everything,
// /admin and /metrics included (always of workspace "*").
enum class Role { kRead = 0, kWrite = 1, kAdmin = 2 };
const char* RoleName(Role r);
std::optional<Role> ParseRole(std::string_view s);

struct TokenInfo {
  std::string name;
  std::string workspace;  // a workspace, or "*" for every one
  Role role = Role::kRead;
  TokenHash hash{};
  int64_t created_at_ms = 0;
  std::string created_by;  // the admin token's name, or "casmemd token" (offline)
};

// Whether `t` may act on workspace `ws` (empty: no workspace, /admin and
// /metrics) with at least role `need`.
bool TokenAllows(const TokenInfo& t, std::string_view ws, Role need);

// "1-128 characters of [A-Za-z0-9._-]" or nullptr.
const char* TokenNameProblem(std::string_view name);

class TokenRegistry {
 public:
  explicit TokenRegistry(Store* store);
  TokenRegistry(const TokenRegistry&) = delete;
  TokenRegistry& operator=(const TokenRegistry&) = delete;

  // Reads every token from the store. An entry that does not parse is
  // skipped with a warning (it grants nothing).
  Status Load();

  // No token exists: requests are not checked (loopback-only serving).
  bool empty() const { return count_.load(std::memory_order_acquire) == 0; }
  size_t size() const { return count_.load(std::memory_order_acquire); }
  // The token whose secret this is, or null.
  std::shared_ptr<const TokenInfo> Find(std::string_view secret) const;
  std::shared_ptr<const TokenInfo> Get(std::string_view name) const;
  std::vector<std::shared_ptr<const TokenInfo>> List() const;  // by name

  struct Created {
    Outcome outcome = Outcome::kOk;  // kOk, kInvalid, kConflict (name taken), or a store failure
    std::string error;
    std::shared_ptr<const TokenInfo> token;
    std::string secret;  // kOk: shown once
    uint64_t visible_lsn = 0;  // kOk: durable (and the secret may be shown) once visible
  };
  // Why a token of this name, workspace and role cannot be created (a
  // sentence for the client), or nullptr.
  static const char* CreateProblem(std::string_view name, std::string_view workspace,
                                   std::string_view role);
  // Creates a token; it works at once. `by`: who (a token's name, or
  // "casmemd token"), kept as the record's writer.
  Created Create(std::string_view name, std::string_view workspace, std::string_view role,
                 std::string_view by);

  struct Revoked {
    Outcome outcome = Outcome::kOk;  // kOk, kNotFound, or a store failure
    std::string error;
    std::shared_ptr<const TokenInfo> token;  // kOk: the token revoked
    uint64_t visible_lsn = 0;
  };
  // Revokes a token: no request is accepted with it from now on, on any
  // connection, even before the revocation is durable.
  // `keep_last_admin`: refuse (kConflict) to revoke the only admin token
  // left (over HTTP: with none, checks turn off; offline it is allowed).
  Revoked Revoke(std::string_view name, std::string_view by, bool keep_last_admin = false);

  // Changes with every create and revoke (long-lived streams compare it).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Called with the number of tokens after every load, create and revoke
  // (under the registry's write lock: a callback must not call back into
  // the registry's Create, Revoke or Load). Added before the registry is
  // shared.
  void add_on_change(std::function<void(size_t)> fn) { on_change_.push_back(std::move(fn)); }

 private:
  struct Index;
  std::shared_ptr<const Index> Snapshot() const { return index_.load(std::memory_order_acquire); }
  void Install(std::shared_ptr<const Index> index);

  Store* const store_;
  std::mutex write_mu_;  // Create, Revoke, Load
  std::atomic<std::shared_ptr<const Index>> index_;
  std::atomic<size_t> count_{0};
  std::atomic<uint64_t> generation_{0};
  std::vector<std::function<void(size_t)>> on_change_;
};

}  // namespace casmem::net
