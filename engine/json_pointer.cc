// RFC 6901 pointer parsing and array index tokens.
#include "engine/json_pointer.h"

namespace casmem::json {

bool ParseJsonPointer(std::string_view text, JsonPointer* out, std::string* error) {
  out->text.assign(text);
  out->tokens.clear();
  if (text.empty()) return true;
  if (text[0] != '/') {
    *error = "JSON Pointer \"" + std::string(text) + "\" must be empty or start with \"/\"";
    return false;
  }
  std::string token;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      out->tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (text[i] != '~') {
      token.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && (text[i + 1] == '0' || text[i + 1] == '1')) {
      token.push_back(text[i + 1] == '0' ? '~' : '/');
      ++i;
      continue;
    }
    *error = "JSON Pointer \"" + std::string(text) +
             "\" has a \"~\" not followed by \"0\" or \"1\"";
    return false;
  }
  return true;
}

std::optional<size_t> ArrayIndex(std::string_view t) {
  // 15 digits are far past any array a value of at most 1 GiB could hold,
  // and cannot overflow size_t.
  if (t.empty() || t.size() > 15 || (t.size() > 1 && t[0] == '0')) return std::nullopt;
  size_t n = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

bool IsProperPrefix(const JsonPointer& prefix, const JsonPointer& p) {
  if (prefix.tokens.size() >= p.tokens.size()) return false;
  for (size_t i = 0; i < prefix.tokens.size(); ++i) {
    if (prefix.tokens[i] != p.tokens[i]) return false;
  }
  return true;
}

}  // namespace casmem::json
