// casmemd end to end, session timers and held responses: the idle timeout
// runs only while nothing is being served, a stream read slowly but
// steadily is never cut, one whose client stops reading is, and a held 409
// whose client left does not hold its key's turn.
#include <gtest/gtest.h>
#include <poll.h>

#include <string>

#include "tests/net/server_fixture.h"

namespace casmem::testing {
namespace {

void Pause(int ms) { ::poll(nullptr, 0, ms); }

// Writes `n` keys of about `value_bytes` each into workspace `ws`, pipelined.
void Fill(HttpClient* c, const std::string& ws, int n, size_t value_bytes) {
  const std::string value(value_bytes, 'v');
  for (int done = 0; done < n;) {
    std::string batch;
    const int end = std::min(n, done + 200);
    for (int i = done; i < end; ++i) {
      batch += RawRequest("POST", "/workspaces/" + ws + "/memory",
                          R"({"key":"k)" + std::to_string(100000 + i) + R"(","value":")" + value + R"("})");
    }
    ASSERT_TRUE(c->SendRaw(batch));
    for (; done < end; ++done) {
      HttpReply w;
      ASSERT_TRUE(c->Read(&w));
      ASSERT_EQ(w.status, 200) << w.body;
    }
  }
}

size_t CountKeys(const std::string& body) {
  size_t count = 0, pos = 0;
  while ((pos = body.find("\"key\"", pos)) != std::string::npos) ++count, ++pos;
  return count;
}

// A held 409 (its key's turn is not due) is a response the server still
// owes: the idle timeout must not close its connection meanwhile.
TEST_F(ServerTest, AResponsePendingLongerThanTheIdleTimeoutIsDelivered) {
  Start({"--conflict-turn", "30s", "--idle-timeout", "200ms"});
  auto writer = Client();
  writer->Request("POST", "/memory", R"({"key":"hot","value":1})");
  writer->Request("POST", "/memory", R"({"key":"hot","value":2})");
  auto holder = Client();  // holds the key's turn while connected
  EXPECT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})").status, 409);
  auto held = Client();
  ASSERT_TRUE(held->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})")));
  HttpReply r;
  for (int i = 0; i < 10; ++i) {  // 5 idle timeouts; the holder stays active meanwhile
    ASSERT_EQ(holder->Request("GET", "/healthz").status, 200);
    ASSERT_FALSE(held->Read(&r, 100)) << "answered before its turn: " << r.body;
  }
  // The holder's commit passes the turn to it.
  EXPECT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":3,"if_match_version":2})").status, 200);
  ASSERT_TRUE(held->Read(&r, 5000)) << "the held response was dropped";
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find(R"("current_version":3)"), std::string::npos) << r.body;
  // The idle timeout still closes a connection with nothing to serve.
  EXPECT_TRUE(held->ClosedByPeer(5000));
}

// Spec section 3: a stream that takes long to read is not cut by any
// timeout while the client keeps reading. The stream (about 8 MiB) is far
// more than the socket buffers hold, so the server's writes wait on the
// slow reader for much longer than --read-timeout and --idle-timeout.
TEST_F(ServerTest, AStreamReadSlowlyForLongerThanTheTimeoutsCompletes) {
  Start({"--read-timeout", "400ms", "--idle-timeout", "400ms"});
  constexpr int kKeys = 4000;
  Fill(Client().get(), "big", kKeys, 2000);
  auto slow = Client(64 * 1024);
  slow->SetReadPace(32 * 1024, 5);
  HttpReply r;
  ASSERT_TRUE(slow->SendRaw(RawRequest("GET", "/workspaces/big/memory")));
  ASSERT_TRUE(slow->Read(&r, 5000)) << "the stream was cut after " << r.body.size() << " bytes";
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(CountKeys(r.body), static_cast<size_t>(kKeys));
  EXPECT_EQ(r.body.back(), ']');
}

// The same, much slower: the socket turns writable only once half of
// TCP_NOTSENT_LOWAT is unsent, so at tens of KB/s a pending write takes
// many --read-timeouts to complete although the client reads all along.
// The server sees the peer take bytes (its send queue shrinks) and does not
// cut it. The client reads slowly for several read timeouts, then at full
// speed (so that the test does not take minutes); its receive buffer is
// left to autotuning, like a real client's. (The kernel shows progress
// only when the reader has freed half its receive buffer: the timeout must
// exceed that time, about 4 s at 40 KB/s here.)
TEST_F(ServerTest, AStreamReadAtTensOfKilobytesPerSecondIsNotCut) {
  Start({"--read-timeout", "4s", "--idle-timeout", "60s"});
  constexpr int kKeys = 1500;
  Fill(Client().get(), "big", kKeys, 2000);  // about 3 MB, streamed
  auto slow = Client();
  slow->SetReadPace(4 * 1024, 100, 14'000);  // at most 40 KB/s for 14 s
  HttpReply r;
  ASSERT_TRUE(slow->SendRaw(RawRequest("GET", "/workspaces/big/memory")));
  ASSERT_TRUE(slow->Read(&r, 20'000)) << "the stream was cut";
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(CountKeys(r.body), static_cast<size_t>(kKeys));
  EXPECT_EQ(r.body.back(), ']');
}

// The other side of it: a client that stops reading is cut once no byte
// has been accepted for --read-timeout, and others are served meanwhile.
TEST_F(ServerTest, AClientThatStopsReadingAStreamIsCut) {
  Start({"--read-timeout", "200ms", "--idle-timeout", "30s"});
  constexpr int kKeys = 4000;
  Fill(Client().get(), "big", kKeys, 2000);
  auto stuck = Client(64 * 1024);
  ASSERT_TRUE(stuck->SendRaw(RawRequest("GET", "/workspaces/big/memory")));
  Pause(1500);
  EXPECT_EQ(Client()->Request("GET", "/healthz").status, 200);
  HttpReply r;
  EXPECT_FALSE(stuck->Read(&r, 5000)) << "a stream to a client that stopped reading was not cut";
  EXPECT_LT(CountKeys(r.body), static_cast<size_t>(kKeys));
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// A held 409 whose client went away must not take the key's turn: the next
// live waiter gets the turn at the very commit, not --conflict-turn later.
TEST_F(ServerTest, AGoneWaiterDoesNotHoldTheKeysTurn) {
  Start({"--conflict-turn", "30s"});
  auto writer = Client();
  writer->Request("POST", "/memory", R"({"key":"hot","value":1})");
  writer->Request("POST", "/memory", R"({"key":"hot","value":2})");
  const std::string stale = RawRequest("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})");
  auto holder = Client();  // its stale 409 gives it the key's turn
  EXPECT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})").status, 409);
  auto gone = Client(), live = Client();
  ASSERT_TRUE(gone->SendRaw(stale));
  HttpReply r;
  EXPECT_FALSE(gone->Read(&r, 200));
  ASSERT_TRUE(live->SendRaw(stale));
  EXPECT_FALSE(live->Read(&r, 200));
  gone.reset();  // queued first, then the client closes
  Pause(500);     // for the server to see the EOF (no event to wait for)
  EXPECT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":3,"if_match_version":2})").status, 200);
  ASSERT_TRUE(live->Read(&r, 5000)) << "the gone waiter took the turn";
  EXPECT_NE(r.body.find(R"("current_version":3)"), std::string::npos) << r.body;
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();  // sanitizer builds: no leak
}

// The same after a `Connection: close` request: no more requests are read
// from that connection, but its close is still seen.
TEST_F(ServerTest, AGoneWaiterAfterConnectionCloseDoesNotHoldTheKeysTurn) {
  Start({"--conflict-turn", "30s"});
  auto writer = Client();
  writer->Request("POST", "/memory", R"({"key":"hot","value":1})");
  writer->Request("POST", "/memory", R"({"key":"hot","value":2})");
  const std::string body = R"({"key":"hot","value":0,"if_match_version":1})";
  auto holder = Client();
  EXPECT_EQ(holder->Request("POST", "/memory", body).status, 409);
  auto gone = Client(), live = Client();
  ASSERT_TRUE(gone->SendRaw(RawRequest("POST", "/memory", body, "Connection: close\r\n")));
  HttpReply r;
  EXPECT_FALSE(gone->Read(&r, 200));
  ASSERT_TRUE(live->SendRaw(RawRequest("POST", "/memory", body)));
  EXPECT_FALSE(live->Read(&r, 200));
  gone.reset();  // queued first, then the client closes
  Pause(500);     // for the server to see the EOF (no event to wait for)
  EXPECT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":3,"if_match_version":2})").status, 200);
  ASSERT_TRUE(live->Read(&r, 5000)) << "the gone waiter took the turn";
  EXPECT_NE(r.body.find(R"("current_version":3)"), std::string::npos) << r.body;
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// A client that only half-closes after its request still reads: its write,
// waiting for its key's turn, still runs at that turn and is answered.
TEST_F(ServerTest, AHalfClosedWaiterIsStillAnswered) {
  Start({"--conflict-turn", "30s"});
  auto writer = Client();
  writer->Request("POST", "/memory", R"({"key":"hot","value":1})");
  writer->Request("POST", "/memory", R"({"key":"hot","value":2})");
  auto holder = Client();  // holds the key's turn while connected
  EXPECT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})").status, 409);
  auto c = Client();
  ASSERT_TRUE(c->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})")));
  HttpReply r;
  EXPECT_FALSE(c->Read(&r, 200));
  c->ShutdownWrite();
  EXPECT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":3,"if_match_version":2})").status, 200);
  ASSERT_TRUE(c->Read(&r, 5000));
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find(R"("current_version":3)"), std::string::npos) << r.body;
  EXPECT_TRUE(c->ClosedByPeer());
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

}  // namespace
}  // namespace casmem::testing
