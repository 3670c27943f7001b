// JSON of access tokens, for GET /admin/tokens and `casmemd token list
// --json`: {"name","workspace","role","created_at","created_by"} and, only
// in the answer to a create, "secret".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "net/token_registry.h"

namespace casmem::net {

std::string TokenJson(const TokenInfo& t, const std::string* secret = nullptr);
std::string TokensJson(const std::vector<std::shared_ptr<const TokenInfo>>& tokens);

}  // namespace casmem::net
