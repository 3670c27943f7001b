// Workspace and key rules (memory-api.md §1) and UTF-8 validation.
#include "engine/names.h"

#include <cstdint>

#include "wal/format.h"

namespace casmem {

bool ValidWorkspace(std::string_view ws) {
  if (ws.empty() || ws.size() > wal::kMaxWorkspaceBytes) return false;
  for (char c : ws) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // sequence cut short
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

const char* WorkspaceProblem(std::string_view ws) {
  return ValidWorkspace(ws) ? nullptr : "workspace must be 1-128 bytes of [A-Za-z0-9._-]";
}

bool StoredWorkspace(std::string_view ws) { return ws == kTokensWorkspace || ValidWorkspace(ws); }

const char* StoredWorkspaceProblem(std::string_view ws) {
  return ws == kTokensWorkspace ? nullptr : WorkspaceProblem(ws);
}

const char* KeyProblem(std::string_view key) {
  if (key.empty()) return "key must not be empty";
  if (key.size() > wal::kMaxKeyBytes) return "key longer than 1024 bytes";
  if (!ValidUtf8(key)) return "key is not valid UTF-8";
  if (key.find('\0') != std::string_view::npos) return "key must not contain NUL";
  return nullptr;
}

}  // namespace casmem
