// SseParser: an incremental Server-Sent Events parser (the WHATWG
// event-stream format) for casmem-bench's watch workload. Bytes are fed as
// they arrive, cut anywhere (inside a line, between a CR and its LF); a
// complete event is handed out at the blank line that ends it.
//
// Lines end with LF, CRLF or a lone CR. A line starting with ':' is a
// comment (casmem's heartbeat): counted, nothing else. `field: value`
// (one optional space after the colon is dropped; a line without a colon
// is a field with an empty value): `event` sets the type, `data` appends
// to the data (several data lines are joined with LF), `id` sets the
// event's id (an id containing NUL is ignored, as the standard says),
// anything else (`retry`, unknown fields) is ignored. A blank line with no
// data line since the last event dispatches nothing (the standard's rule),
// except that casmem-bench must not lose a `lagged` / `compacted` notice
// sent without data: an event with a type but no data is still handed out.
// A UTF-8 BOM at the very start of the stream is skipped.
//
// Unlike a browser, `has_id` says whether *this* event carried an `id:`
// line: casmem puts it only on the last change of a transaction, and the
// watch accounting counts one delivery per id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace casmem::bench {

struct SseEvent {
  std::string type = "message";  // `event:`, or the default
  std::string data;              // `data:` lines joined with LF
  bool has_id = false;           // this event had an `id:` line
  std::string id;                // its value
};

class SseParser {
 public:
  // Called once per complete event, in stream order.
  using EventFn = std::function<void(const SseEvent&)>;
  explicit SseParser(EventFn on_event) : on_event_(std::move(on_event)) {}

  // Feeds the next bytes of the stream.
  void Feed(const char* data, size_t n);
  void Feed(const std::string& s) { Feed(s.data(), s.size()); }

  uint64_t comments() const { return comments_; }  // comment lines seen
  uint64_t events() const { return events_; }      // events handed out
  // Bytes of an unfinished line or event are pending (the stream ended
  // inside an event when this is true at its end).
  bool partial() const { return !line_.empty() || pending_; }

 private:
  void Line(const char* p, size_t n);
  void Dispatch();

  EventFn on_event_;
  std::string line_;          // the current line so far (without its end)
  bool after_cr_ = false;     // the last byte was a CR: an LF next ends nothing
  bool at_start_ = true;      // BOM check pending
  size_t bom_seen_ = 0;       // bytes of a possible BOM matched so far
  SseEvent ev_;               // the event being built
  bool has_data_ = false;     // ev_ got a data line
  bool has_type_ = false;     // ev_ got an event line
  bool pending_ = false;      // ev_ got any field
  uint64_t comments_ = 0, events_ = 0;
};

}  // namespace casmem::bench
