// Conflict turns end to end against casmemd: during a client's turn on a
// hot key, other clients' guarded writes of that key wait (so the released
// loser cannot be overtaken), run in order when their turn comes, and hold
// back the requests pipelined behind them; a holder that disconnects gives
// its turn up at once.
#include "tests/net/server_fixture.h"

namespace casmem::testing {
namespace {

constexpr const char* kStaleAt1 = R"({"key":"hot","value":0,"if_match_version":1})";

class TurnsTest : public ServerTest {
 protected:
  // Versions 1 and 2 of "hot", then `holder` loses with a stale guard: it
  // holds the key's turn (a long one: only its own actions end it).
  void MakeHolder(HttpClient* holder) {
    auto writer = Client();
    ASSERT_EQ(writer->Request("POST", "/memory", R"({"key":"hot","value":1})").status, 200);
    ASSERT_EQ(writer->Request("POST", "/memory", R"({"key":"hot","value":2})").status, 200);
    ASSERT_EQ(holder->Request("POST", "/memory", kStaleAt1).status, 409);
  }
};

TEST_F(TurnsTest, AnotherClientsGuardedWriteWaitsForTheHoldersRetry) {
  Start({"--conflict-turn", "30s"});
  auto holder = Client(), winner = Client();
  MakeHolder(holder.get());
  // The winner, holding the current version, tries to write first...
  ASSERT_TRUE(winner->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":"w","if_match_version":2})")));
  HttpReply r;
  EXPECT_FALSE(winner->Read(&r, 300)) << "a guarded write overtook the turn holder: " << r.body;
  // ...but the holder's retry, sent later, is the one that commits.
  r = holder->Request("POST", "/memory", R"({"key":"hot","value":"h","if_match_version":2})");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(winner->Read(&r, 5000)) << "the deferred write never ran";
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find(R"("current_version":3)"), std::string::npos) << r.body;
  // Reads and unguarded writes never wait for a turn.
  EXPECT_EQ(Client()->Request("GET", "/memory/hot").status, 200);
  auto metrics = Client()->Request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("casmem_writes_deferred_total 1\n"), std::string::npos) << metrics;
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// A holder whose connection closes gives its turn up at once: the write
// deferred behind it runs (and, the version unchanged, commits) without
// waiting for the 30 s turn to run out.
TEST_F(TurnsTest, AHolderThatDisconnectsGivesItsTurnUpAtOnce) {
  Start({"--conflict-turn", "30s"});
  auto holder = Client(), other = Client();
  MakeHolder(holder.get());
  ASSERT_TRUE(other->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":"o","if_match_version":2})")));
  HttpReply r;
  EXPECT_FALSE(other->Read(&r, 300));
  holder.reset();
  ASSERT_TRUE(other->Read(&r, 5000)) << "the gone holder kept its turn";
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("version":3)"), std::string::npos) << r.body;
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// Requests pipelined behind a deferred write run after it, not before.
TEST_F(TurnsTest, RequestsPipelinedBehindADeferredWriteRunAfterIt) {
  Start({"--conflict-turn", "30s"});
  auto holder = Client(), other = Client();
  MakeHolder(holder.get());
  ASSERT_TRUE(other->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":"o","if_match_version":2})") +
                             RawRequest("GET", "/memory/hot")));
  HttpReply r;
  EXPECT_FALSE(other->Read(&r, 300));
  holder.reset();
  ASSERT_TRUE(other->Read(&r, 5000));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(other->Read(&r, 5000));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("value":"o")"), std::string::npos) << "the GET ran before the write: " << r.body;
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// A deferred write whose client left still runs at its turn (the client
// sent it), but costs the key no more than that: the next waiter runs
// right after, not a turn later.
TEST_F(TurnsTest, ADeferredWriteWhoseClientLeftDoesNotHoldTheKey) {
  Start({"--conflict-turn", "30s"});
  auto holder = Client(), gone = Client(), live = Client();
  MakeHolder(holder.get());
  ASSERT_TRUE(gone->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":"x","if_match_version":2})")));
  HttpReply r;
  EXPECT_FALSE(gone->Read(&r, 200));
  ASSERT_TRUE(live->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":"l","if_match_version":3})")));
  EXPECT_FALSE(live->Read(&r, 200));
  gone.reset();
  ASSERT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":"h","if_match_version":2})").status, 200);
  // gone's write ran at version 3 and lost; its turn passed at its close.
  ASSERT_TRUE(live->Read(&r, 5000)) << "the gone client kept the turn";
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("version":4)"), std::string::npos) << r.body;
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// A client that sends its write with `Connection: close` and half-closes
// still waits for its turn: its EOF must not run the write out of turn.
TEST_F(TurnsTest, AHalfClosingClientsDeferredWriteStillWaitsForItsTurn) {
  Start({"--conflict-turn", "30s"});
  auto holder = Client(), other = Client();
  MakeHolder(holder.get());
  ASSERT_TRUE(other->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":"o","if_match_version":2})",
                                        "Connection: close\r\n")));
  other->ShutdownWrite();
  HttpReply r;
  EXPECT_FALSE(other->Read(&r, 500)) << "the deferred write ran out of turn: " << r.body;
  EXPECT_EQ(holder->Request("POST", "/memory", R"({"key":"hot","value":"h","if_match_version":2})").status, 200);
  ASSERT_TRUE(other->Read(&r, 5000));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_TRUE(other->ClosedByPeer());
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

}  // namespace
}  // namespace casmem::testing
