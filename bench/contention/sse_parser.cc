// SseParser: line splitting (LF, CRLF, CR across feeds) and fields.
#include "bench/contention/sse_parser.h"

#include <algorithm>
#include <cstring>

namespace casmem::bench {

void SseParser::Feed(const char* data, size_t n) {
  size_t i = 0;
  if (at_start_) {
    static const char kBom[] = "\xEF\xBB\xBF";
    while (i < n && bom_seen_ < 3 && data[i] == kBom[bom_seen_]) ++i, ++bom_seen_;
    if (bom_seen_ == 3 || (i < n)) {
      // Either a whole BOM, or the stream diverged from one: a partial
      // match that diverges was real content.
      if (bom_seen_ < 3) line_.append(kBom, bom_seen_);
      at_start_ = false;
    } else {
      return;  // all of it so far could still be a BOM
    }
  }
  // The next LF and CR at or after data + i (nullptr: none left). Kept
  // across lines: searching the rest of the buffer for a CR at every line
  // would cost O(lines x bytes) on a stream that never sends one (and the
  // same for LF on a CR-only stream).
  const char* next_lf = nullptr;
  const char* next_cr = nullptr;
  bool known = false;
  while (i < n) {
    if (after_cr_) {
      after_cr_ = false;
      if (data[i] == '\n') {
        ++i;  // the LF of a CRLF
        continue;
      }
    }
    // Find the next line end in what is left.
    const char* start = data + i;
    const size_t left = n - i;
    if (!known || (next_lf != nullptr && next_lf < start)) {
      next_lf = static_cast<const char*>(std::memchr(start, '\n', left));
    }
    if (!known || (next_cr != nullptr && next_cr < start)) {
      next_cr = static_cast<const char*>(std::memchr(start, '\r', left));
    }
    known = true;
    const char* end = next_lf && next_cr ? std::min(next_lf, next_cr) : next_lf ? next_lf : next_cr;
    if (!end) {
      line_.append(start, left);
      return;
    }
    const size_t len = static_cast<size_t>(end - start);
    if (line_.empty()) {
      Line(start, len);
    } else {
      line_.append(start, len);
      std::string line;
      line.swap(line_);
      Line(line.data(), line.size());
    }
    after_cr_ = *end == '\r';
    i += len + 1;
  }
}

void SseParser::Line(const char* p, size_t n) {
  if (n == 0) return Dispatch();
  if (p[0] == ':') {
    ++comments_;
    return;
  }
  const char* colon = static_cast<const char*>(std::memchr(p, ':', n));
  const size_t name_len = colon ? static_cast<size_t>(colon - p) : n;
  const char* value = colon ? colon + 1 : p + n;
  size_t value_len = colon ? n - name_len - 1 : 0;
  if (value_len > 0 && *value == ' ') ++value, --value_len;
  auto is = [&](const char* name) { return name_len == std::strlen(name) && std::memcmp(p, name, name_len) == 0; };
  if (is("event")) {
    ev_.type.assign(value, value_len);
    has_type_ = pending_ = true;
  } else if (is("data")) {
    if (has_data_) ev_.data += '\n';
    ev_.data.append(value, value_len);
    has_data_ = pending_ = true;
  } else if (is("id")) {
    if (std::memchr(value, '\0', value_len) == nullptr) {
      ev_.id.assign(value, value_len);
      ev_.has_id = pending_ = true;
    }
  }
  // retry and unknown fields: ignored.
}

void SseParser::Dispatch() {
  if (has_data_ || has_type_) {
    if (!has_type_ || ev_.type.empty()) ev_.type = "message";
    ++events_;
    on_event_(ev_);
  }
  ev_.type = "message";
  ev_.data.clear();
  ev_.id.clear();
  ev_.has_id = has_data_ = has_type_ = pending_ = false;
}

}  // namespace casmem::bench
