// TransferEncodingError on its own: which Transfer-Encoding fields are
// accepted, and which are refused with 400 or 501 (RFC 9112 §6.1, §6.3).
// The end-to-end behaviour (the refusal closes the connection, nothing
// after it is parsed) is in server_framing_test.cc.
#include "net/http_framing.h"

#include <gtest/gtest.h>

namespace casmem::net {
namespace {

// The status of the refusal, or 0 when the framing is accepted.
int Check(std::vector<std::string_view> fields, bool beast_chunked = true, unsigned version = 11,
          bool content_length = false) {
  auto err = TransferEncodingError(fields, version, content_length, beast_chunked);
  return err ? err->status : 0;
}

TEST(HttpFraming, NoTransferEncodingIsNotChecked) {
  EXPECT_EQ(Check({}, false, 10, true), 0);
}

TEST(HttpFraming, ExactlyOneChunkedCodingIsAccepted) {
  EXPECT_EQ(Check({"chunked"}), 0);
  EXPECT_EQ(Check({"Chunked"}), 0);
  EXPECT_EQ(Check({" chunked\t"}), 0);
  EXPECT_EQ(Check({"chunked;foo=bar"}), 0);
}

TEST(HttpFraming, ALastCodingOtherThanChunkedIs400) {
  EXPECT_EQ(Check({"chunked, gzip"}, false), 400);
  EXPECT_EQ(Check({"gzip"}, false), 400);
  EXPECT_EQ(Check({"chunked", "gzip"}, false), 400);  // two fields form one list
  EXPECT_EQ(Check({"chunked,"}, false), 400);         // an empty last item
}

TEST(HttpFraming, CodingsBeforeChunkedAre501) {
  EXPECT_EQ(Check({"gzip, chunked"}), 501);
  EXPECT_EQ(Check({"gzip", "chunked"}), 501);
}

TEST(HttpFraming, MalformedListsAre400) {
  EXPECT_EQ(Check({";, chunked"}, false), 400);
  EXPECT_EQ(Check({" ;q=1 , chunked"}, false), 400);
  EXPECT_EQ(Check({"\"chunked\""}, false), 400);
  EXPECT_EQ(Check({""}, false), 400);
}

TEST(HttpFraming, BeastMustAgreeThatTheBodyIsChunked) {
  // Whatever this parse says, a body Beast would not frame as chunked is
  // refused: two framings of one request are how smuggling starts.
  EXPECT_EQ(Check({"chunked"}, false), 400);
}

TEST(HttpFraming, ContentLengthBesideItOrHttp10Is400) {
  EXPECT_EQ(Check({"chunked"}, true, 11, true), 400);
  EXPECT_EQ(Check({"chunked"}, true, 10), 400);
}

}  // namespace
}  // namespace casmem::net
