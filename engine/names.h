// Names: what a workspace name and a key may be (memory-api.md §1), in one
// place for every layer. The request handler checks them to answer 400
// with a reason; the store checks them again because it trusts no caller
// (tools and tests call it directly).
#pragma once

#include <string_view>

namespace casmem {

// 1-128 bytes of [A-Za-z0-9._-].
bool ValidWorkspace(std::string_view ws);
// Well-formed UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF,
// which an escaped lone surrogate in JSON decodes to), nothing past U+10FFFF.
bool ValidUtf8(std::string_view s);

// nullptr when valid, else the reason, a sentence for the client.
const char* WorkspaceProblem(std::string_view ws);

// The store's own workspace of access tokens (net/token_registry.h). Not
// a name a client can give (':' is not allowed), so no request reaches
// it: the request handler checks names with WorkspaceProblem. It lives in
// the store like any data, so tokens are logged, snapshotted and
// recovered with everything else.
inline constexpr std::string_view kTokensWorkspace = "casmem:tokens";
// A workspace the store may hold: a client's (ValidWorkspace) or
// kTokensWorkspace. The store's put, get, delete, list and recovery
// accept these; patch and transactions only clients' workspaces.
bool StoredWorkspace(std::string_view ws);
const char* StoredWorkspaceProblem(std::string_view ws);
// 1-1024 bytes of valid UTF-8 without NUL.
const char* KeyProblem(std::string_view key);

}  // namespace casmem
