// SseParser: events split at every possible byte boundary, CRLF / LF / CR
// line ends (a CRLF cut between its CR and LF), comments, multi-line data,
// ids only on the events that carry them, notices without data, a BOM.
#include "bench/contention/sse_parser.h"

#include <gtest/gtest.h>

#include <vector>

namespace casmem::bench {
namespace {

struct Collected {
  std::vector<SseEvent> events;
  SseParser parser{[this](const SseEvent& e) { events.push_back(e); }};
};

// Feeds `text` whole, then cut in two at every offset, then byte by byte:
// the events must be the same every time.
std::vector<SseEvent> ParseEveryWay(const std::string& text, uint64_t* comments = nullptr) {
  Collected whole;
  whole.parser.Feed(text);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Collected two;
    two.parser.Feed(text.substr(0, cut));
    two.parser.Feed(text.substr(cut));
    EXPECT_EQ(two.events.size(), whole.events.size()) << "cut at " << cut;
    for (size_t i = 0; i < std::min(two.events.size(), whole.events.size()); ++i) {
      EXPECT_EQ(two.events[i].type, whole.events[i].type) << "cut at " << cut;
      EXPECT_EQ(two.events[i].data, whole.events[i].data) << "cut at " << cut;
      EXPECT_EQ(two.events[i].has_id, whole.events[i].has_id) << "cut at " << cut;
      EXPECT_EQ(two.events[i].id, whole.events[i].id) << "cut at " << cut;
    }
    EXPECT_EQ(two.parser.comments(), whole.parser.comments()) << "cut at " << cut;
  }
  Collected bytes;
  for (char c : text) bytes.parser.Feed(&c, 1);
  EXPECT_EQ(bytes.events.size(), whole.events.size());
  if (comments) *comments = whole.parser.comments();
  return whole.events;
}

TEST(SseParser, CasmemEventsWithLfCrLfAndCr) {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    const std::string text = "id: 8813" + eol + "event: put" + eol + "data: {\"key\":\"q\",\"revision\":8813}" + eol +
                             eol + "id: 8814" + eol + "event: delete" + eol + "data: {\"key\":\"q\"}" + eol + eol;
    const auto ev = ParseEveryWay(text);
    ASSERT_EQ(ev.size(), 2u) << "line end " << (eol == "\n" ? "LF" : eol == "\r" ? "CR" : "CRLF");
    EXPECT_EQ(ev[0].type, "put");
    EXPECT_EQ(ev[0].data, "{\"key\":\"q\",\"revision\":8813}");
    EXPECT_TRUE(ev[0].has_id);
    EXPECT_EQ(ev[0].id, "8813");
    EXPECT_EQ(ev[1].type, "delete");
    EXPECT_EQ(ev[1].id, "8814");
  }
}

TEST(SseParser, CrLfCutBetweenCrAndLfIsOneLineEnd) {
  Collected c;
  c.parser.Feed("data: a\r");
  c.parser.Feed("\ndata: b\r");
  c.parser.Feed("\n\r");
  c.parser.Feed("\n");
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].data, "a\nb");  // no empty line was seen between the data lines
}

TEST(SseParser, CommentsAreCountedAndDispatchNothing) {
  uint64_t comments = 0;
  const auto ev = ParseEveryWay(": heartbeat\n\n:\n\n: x\ndata: d\n\n", &comments);
  EXPECT_EQ(comments, 3u);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "message");
  EXPECT_EQ(ev[0].data, "d");
}

TEST(SseParser, MultiLineDataAndFieldSyntax) {
  // One optional space after the colon is dropped, not two; a field with
  // no colon has an empty value; unknown fields and retry are ignored.
  const auto ev = ParseEveryWay("event:put\ndata:  two spaces\ndata\ndata: third\nretry: 10\nfoo: bar\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "put");
  EXPECT_EQ(ev[0].data, " two spaces\n\nthird");
  EXPECT_FALSE(ev[0].has_id);
}

TEST(SseParser, IdOnlyOnTheEventsThatCarryIt) {
  // A transaction: two changes, only the last with an id.
  const auto ev = ParseEveryWay("event: put\ndata: {\"key\":\"a\"}\n\nid: 9\nevent: put\ndata: {\"key\":\"b\"}\n\n"
                                "event: put\ndata: {\"key\":\"c\"}\n\n");
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_FALSE(ev[0].has_id);
  EXPECT_TRUE(ev[1].has_id);
  EXPECT_EQ(ev[1].id, "9");
  EXPECT_FALSE(ev[2].has_id);  // unlike a browser's lastEventId, not carried over
}

TEST(SseParser, NoticesWithoutDataAreHandedOut) {
  const auto ev = ParseEveryWay("event: lagged\n\nevent: compacted\ndata: {\"compact_revision\":5}\n\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "lagged");
  EXPECT_EQ(ev[0].data, "");
  EXPECT_EQ(ev[1].type, "compacted");
}

TEST(SseParser, BlankLinesAloneAndIdAloneDispatchNothing) {
  const auto ev = ParseEveryWay("\n\n\r\nid: 4\n\n\n");
  EXPECT_TRUE(ev.empty());
}

TEST(SseParser, UnfinishedEventIsNotHandedOut) {
  Collected c;
  c.parser.Feed("id: 1\nevent: put\ndata: {}\n");
  EXPECT_TRUE(c.events.empty());
  EXPECT_TRUE(c.parser.partial());
  c.parser.Feed("\n");
  EXPECT_EQ(c.events.size(), 1u);
  EXPECT_FALSE(c.parser.partial());
}

TEST(SseParser, LeadingBomIsSkippedOnlyAtTheStart) {
  const auto ev = ParseEveryWay("\xEF\xBB\xBF" "data: x\n\n\xEF\xBB\xBF" "data: y\n\n");
  ASSERT_EQ(ev.size(), 1u);  // the second BOM makes a field named "\xEF\xBB\xBFdata": ignored
  EXPECT_EQ(ev[0].data, "x");
  // A stream that only starts like a BOM keeps those bytes.
  const auto other = ParseEveryWay("\xEF" "data: z\n\n");
  EXPECT_TRUE(other.empty());  // field "\xEF" "data" is unknown
}

}  // namespace
}  // namespace casmem::bench
