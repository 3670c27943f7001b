// casmem-bench's command line for access control and TLS: --token and
// CASMEM_TOKEN, the target schemes (casmem, http, https, casmems),
// --cacert / --insecure, the handshake workload's target; and the
// Retry-After wait of a 429 (refusal.h).
#include <gtest/gtest.h>

#include <vector>

#include "bench/contention/client_security.h"
#include "bench/contention/options.h"
#include "bench/contention/refusal.h"

namespace casmem::bench {
namespace {

struct Parsed {
  bool ok = false;
  BenchOptions o;
  std::string error;
};

Parsed Parse(std::vector<const char*> args, const char* env_token = nullptr) {
  args.insert(args.begin(), "casmem-bench");
  Parsed p;
  p.ok = ParseBenchArgs(static_cast<int>(args.size()), args.data(), env_token, &p.o, &p.error);
  return p;
}

TEST(BenchOptions, TokenFromTheOptionElseFromCasmemToken) {
  Parsed p = Parse({"--token", "from-option"}, "from-env");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.o.client.token, "from-option");
  p = Parse({}, "from-env");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.o.client.token, "from-env");
  p = Parse({});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.o.client.token, "");
}

TEST(BenchOptions, TokenIsForCasmemTargetsAndNeverEchoed) {
  Parsed p = Parse({"--target", "redis://127.0.0.1:6379", "--token", "s3cret-redis"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error.find("s3cret"), std::string::npos) << p.error;
  // The environment's token is ambient: a peer's target ignores it.
  p = Parse({"--target", "etcd://127.0.0.1:2379"}, "s3cret-env");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.o.client.token, "");
  p = Parse({"--token", ""});
  EXPECT_FALSE(p.ok);
  p = Parse({"--token"});
  EXPECT_FALSE(p.ok);
}

TEST(BenchOptions, TargetSchemes) {
  std::string error;
  for (const char* plain : {"casmem://127.0.0.1:7070", "http://127.0.0.1:7070", "http://127.0.0.1:7070/"}) {
    auto u = ParseTargetUrl(plain, &error);
    ASSERT_TRUE(u) << plain << ": " << error;
    EXPECT_EQ(u->scheme, "casmem") << plain;
    EXPECT_FALSE(u->tls) << plain;
    EXPECT_EQ(u->host, "127.0.0.1");
    EXPECT_EQ(u->port, 7070);
  }
  for (const char* tls : {"https://db.example:7443", "casmems://db.example:7443"}) {
    auto u = ParseTargetUrl(tls, &error);
    ASSERT_TRUE(u) << tls << ": " << error;
    EXPECT_EQ(u->scheme, "casmem") << tls;
    EXPECT_TRUE(u->tls) << tls;
    EXPECT_EQ(u->host, "db.example");
    EXPECT_EQ(u->port, 7443);
  }
  auto v6 = ParseTargetUrl("https://[::1]:7443", &error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->host, "::1");
  auto redis = ParseTargetUrl("redis://127.0.0.1:6379", &error);
  ASSERT_TRUE(redis);
  EXPECT_EQ(redis->scheme, "redis");
  EXPECT_FALSE(redis->tls);
  for (const char* bad : {"ftp://127.0.0.1:21", "https://127.0.0.1", "https://127.0.0.1:0", "casmem://:7070",
                          "https://127.0.0.1:70000", "127.0.0.1:7070"}) {
    EXPECT_FALSE(ParseTargetUrl(bad, &error)) << bad;
  }
}

TEST(BenchOptions, CacertAndInsecureAreForTlsTargetsAndExcludeEachOther) {
  Parsed p = Parse({"--target", "https://127.0.0.1:7443", "--cacert", "/tmp/ca.pem"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.o.client.tls.cacert, "/tmp/ca.pem");
  EXPECT_FALSE(p.o.client.tls.insecure);
  p = Parse({"--target", "casmems://127.0.0.1:7443", "--insecure"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(p.o.client.tls.insecure);
  EXPECT_FALSE(Parse({"--target", "https://127.0.0.1:7443", "--insecure", "--cacert", "/tmp/ca.pem"}).ok);
  EXPECT_FALSE(Parse({"--target", "casmem://127.0.0.1:7070", "--insecure"}).ok);
  EXPECT_FALSE(Parse({"--target", "http://127.0.0.1:7070", "--cacert", "/tmp/ca.pem"}).ok);
}

TEST(BenchOptions, HandshakeWorkloadNeedsACasmemTarget) {
  EXPECT_TRUE(Parse({"--workload", "handshake", "--target", "https://127.0.0.1:7443"}).ok);
  EXPECT_TRUE(Parse({"--workload", "handshake"}).ok);
  EXPECT_FALSE(Parse({"--workload", "handshake", "--target", "redis://127.0.0.1:6379"}).ok);
}

TEST(BenchOptions, OtherOptionsStillParse) {
  Parsed p = Parse({"--workload", "watch", "--agents", "4", "--watchers", "3", "--rate", "max", "--json", "--keys",
                    "7", "--workspace", "ws1"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.o.cfg.workload, "watch");
  EXPECT_EQ(p.o.cfg.agents, 4);
  EXPECT_EQ(p.o.wcfg.watchers, 3);
  EXPECT_EQ(p.o.cfg.keys, 7);
  EXPECT_TRUE(p.o.keys_given);
  EXPECT_EQ(p.o.format, "json");
  EXPECT_EQ(p.o.workspace, "ws1");
  EXPECT_FALSE(Parse({"--agents", "many"}).ok);
  EXPECT_FALSE(Parse({"--bogus"}).ok);
  EXPECT_TRUE(Parse({"--help"}).o.help);
}

TEST(Refusal, ClassesOfStatuses) {
  EXPECT_EQ(RefusalOf(401), Refusal::kUnauthorized);
  EXPECT_EQ(RefusalOf(403), Refusal::kForbidden);
  EXPECT_EQ(RefusalOf(429), Refusal::kRateLimited);
  EXPECT_EQ(RefusalOf(409), Refusal::kNone);
  EXPECT_STREQ(RefusalName(Refusal::kUnauthorized), "unauthorized");
  EXPECT_STREQ(RefusalName(Refusal::kForbidden), "forbidden");
  EXPECT_STREQ(RefusalName(Refusal::kRateLimited), "rate limited");
}

TEST(Refusal, RetryAfterIsHonouredWithinTheCap) {
  EXPECT_DOUBLE_EQ(RetryAfterSeconds("2"), 2);
  EXPECT_DOUBLE_EQ(RetryAfterSeconds(" 0 "), 0);
  EXPECT_DOUBLE_EQ(RetryAfterSeconds("3600"), kMaxRetryAfterSeconds);
  EXPECT_DOUBLE_EQ(RetryAfterSeconds("99999999999999999999"), kDefaultRetryAfterSeconds);  // not a sane number
  EXPECT_DOUBLE_EQ(RetryAfterSeconds(""), kDefaultRetryAfterSeconds);
  EXPECT_DOUBLE_EQ(RetryAfterSeconds("Wed, 21 Oct 2026 07:28:00 GMT"), kDefaultRetryAfterSeconds);
  EXPECT_DOUBLE_EQ(RetryAfterSeconds("-5"), kDefaultRetryAfterSeconds);
  EXPECT_DOUBLE_EQ(RetryAfterSeconds("7", 3), 3);
}

}  // namespace
}  // namespace casmem::bench
