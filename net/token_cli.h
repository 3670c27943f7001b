// `casmemd token ...`: access tokens managed offline, on a data directory
// no casmemd is serving (memory-api.md §9). The online way is
// /admin/tokens with an admin token.
//
//   casmemd token create --data-dir DIR --name N --workspace WS|* --role read|write|admin
//       prints the new secret alone on one line of standard output (once)
//   casmemd token list --data-dir DIR [--json]
//   casmemd token revoke N --data-dir DIR
#pragma once

#include <string>
#include <vector>

namespace casmem::net {

// `args`: what follows "token". Returns the process's exit status: 0 done,
// 1 refused or failed (a message on standard error), 2 a usage error.
int RunTokenCommand(const std::vector<std::string>& args);
std::string TokenUsageText();

}  // namespace casmem::net
