// JSON Merge Patch (engine/json_patch.h): RFC 7396 Appendix A, absent and
// null documents, exact text, malformed patches and the result limits.
#include <gtest/gtest.h>

#include <string>

#include "engine/json_patch.h"

namespace casmem {
namespace {

struct Outcome {
  bool ok = false;
  std::string value;
  PatchError error;
};

Outcome Merge(std::optional<std::string_view> doc, std::string_view patch,
              size_t max_bytes = 1 << 20) {
  Outcome o;
  auto p = MergePatch::Parse(patch, &o.error);
  EXPECT_NE(p, nullptr) << patch << ": " << o.error.message;
  if (!p) return o;
  o.ok = ApplyMergePatch(*p, doc, max_bytes, &o.value, &o.error);
  return o;
}

std::string Ok(std::optional<std::string_view> doc, std::string_view patch) {
  Outcome o = Merge(doc, patch);
  EXPECT_TRUE(o.ok) << o.error.message;
  return o.value;
}

TEST(MergePatchRfc7396, AppendixA) {
  struct Case {
    const char* target;
    const char* patch;
    const char* result;  // in casmem's member order: kept, then added
  };
  const Case cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", "null", "null"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Ok(c.target, c.patch), c.result) << c.target << " + " << c.patch;
  }
}

TEST(MergePatch, AbsentAndNullDocuments) {
  EXPECT_EQ(Ok(std::nullopt, R"({"a":1,"b":null})"), R"({"a":1})");
  EXPECT_EQ(Ok(std::nullopt, "null"), "null");
  EXPECT_EQ(Ok(std::nullopt, "[1]"), "[1]");
  EXPECT_EQ(Ok(std::nullopt, "{}"), "{}");
  EXPECT_EQ(Ok("null", R"({"a":{"b":null}})"), R"({"a":{}})");
  EXPECT_EQ(Ok("5", R"({"a":5})"), R"({"a":5})");
  EXPECT_EQ(Ok(R"({"a":1})", "{}"), R"({"a":1})");
}

TEST(MergePatch, KeepsTextAndOrder) {
  EXPECT_EQ(Ok(R"({"z":12345678901234567890,"a":{"x":1.10,"y":-0},"m":1E+2})",
               R"({"a":{"y":null,"w":0.50},"n":[1e-7]})"),
            R"({"z":12345678901234567890,"a":{"x":1.10,"w":0.50},"m":1E+2,"n":[1e-7]})");
  EXPECT_EQ(Ok("{ \"a\" : \"\\u00e9\\t\" }", R"({"b":true})"), "{\"a\":\"\xc3\xa9\\t\",\"b\":true}");
  // A replaced member keeps its place.
  EXPECT_EQ(Ok(R"({"a":1,"b":2,"c":3})", R"({"b":{"x":null,"y":1}})"), R"({"a":1,"b":{"y":1},"c":3})");
}

TEST(MergePatch, Malformed) {
  for (const char* bad : {"", "{", "[1,]", "\"\\udc00\"", "{\"\\udc00\":1}", "\"\xff\"", "1 2"}) {
    PatchError e;
    EXPECT_EQ(MergePatch::Parse(bad, &e), nullptr) << bad;
    EXPECT_EQ(e.kind, PatchFailure::kMalformed);
    EXPECT_EQ(e.op_index, -1);
    EXPECT_FALSE(e.message.empty());
  }
  PatchError e;
  const std::string nested128 = std::string(128, '[') + std::string(128, ']');
  EXPECT_NE(MergePatch::Parse(nested128, &e), nullptr);
  EXPECT_EQ(MergePatch::Parse("[" + nested128 + "]", &e), nullptr);
  EXPECT_EQ(e.kind, PatchFailure::kMalformed);
  EXPECT_EQ(MergePatch::Parse(std::string(1'000'000, '{'), &e), nullptr);
}

TEST(MergePatch, Limits) {
  const std::string want = R"({"a":1,"b":"xyz"})";
  Outcome o = Merge(R"({"a":1})", R"({"b":"xyz"})", want.size());
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.value, want);
  o = Merge(R"({"a":1})", R"({"b":"xyz"})", want.size() - 1);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error.kind, PatchFailure::kTooLarge);
  // Merging never nests deeper than the deeper of the two; a 128-deep patch
  // replaces, a 128-deep object patch merges into a value of its own depth.
  const std::string deep_obj = [] {
    std::string s;
    for (int i = 0; i < 127; ++i) s += "{\"k\":";
    s += "{}";
    for (int i = 0; i < 127; ++i) s += "}";
    return s;
  }();
  o = Merge(deep_obj, deep_obj);
  EXPECT_TRUE(o.ok) << o.error.message;
  EXPECT_EQ(o.value, deep_obj);
  // A broken stored value fails cleanly.
  for (const char* doc : {"", "{", "\"\\udc00\"", "[1] 2"}) {
    o = Merge(std::string_view(doc), "{}");
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error.kind, PatchFailure::kFailed) << doc;
  }
  o = Merge(std::string(129, '[') + std::string(129, ']'), "{}");
  EXPECT_EQ(o.error.kind, PatchFailure::kFailed);
}

}  // namespace
}  // namespace casmem

namespace casmem {
namespace {

// A merge patch naming a member twice: the last one wins, and applying
// the patch again changes nothing (found by fuzz_patch: `{"d":null,"d":2}`
// used to remove `d` and append it again, moving it to the end each time).
TEST(MergePatch, DuplicateMembersLastWinsAndStayIdempotent) {
  PatchError err;
  auto p = MergePatch::Parse(R"({"a":{"b":null,"b":[1E+2]},"d":null,"d":2,"e":"x"})", &err);
  ASSERT_TRUE(p) << err.message;
  std::string once, twice;
  ASSERT_TRUE(ApplyMergePatch(*p, R"({"d":1,"z":0})", 1 << 20, &once, &err));
  EXPECT_EQ(once, R"({"d":2,"z":0,"a":{"b":[1E+2]},"e":"x"})");
  ASSERT_TRUE(ApplyMergePatch(*p, std::string_view(once), 1 << 20, &twice, &err));
  EXPECT_EQ(twice, once);
  auto q = MergePatch::Parse(R"({"k":1,"k":null})", &err);
  ASSERT_TRUE(ApplyMergePatch(*q, R"({"k":0,"j":1})", 1 << 20, &once, &err));
  EXPECT_EQ(once, R"({"j":1})") << "the last, null, removes";
}

}  // namespace
}  // namespace casmem

namespace casmem {
namespace {

// Large objects take the indexed path (IndexedAndLinearPathsAgree checks
// it against the linear one): 100,000 members merge without a stall, a
// repeated stored name is removed whole.
TEST(MergePatch, LargeObjectsMergeLikeSmallOnes) {
  std::string doc = "{", patch = "{";
  for (int i = 0; i < 100000; ++i) {
    doc += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":" + std::to_string(i);
    // Every third removed, every third replaced, every third new.
    const std::string name = i % 3 == 2 ? "n" + std::to_string(i) : "k" + std::to_string(i);
    patch += (i ? "," : "") + std::string("\"") + name + "\":" + (i % 3 == 0 ? "null" : "{\"v\":1}");
  }
  doc += ",\"k0\":7}";  // a stored value may repeat a name: null removes both
  patch += "}";
  PatchError err;
  auto p = MergePatch::Parse(patch, &err);
  ASSERT_TRUE(p) << err.message;
  std::string big;
  ASSERT_TRUE(ApplyMergePatch(*p, doc, 64 << 20, &big, &err)) << err.message;
  EXPECT_EQ(big.find("\"k0\""), std::string::npos) << "both k0 removed";
  EXPECT_NE(big.find("\"k1\":{\"v\":1}"), std::string::npos);
  EXPECT_NE(big.find("\"n2\":{\"v\":1}"), std::string::npos);
  EXPECT_NE(big.find("\"k2\":2"), std::string::npos);
}

// 70 x 70 members take the indexed path; the same patch sent one member
// at a time (1 x 70) takes the linear one: the results must be equal.
TEST(MergePatch, IndexedAndLinearPathsAgree) {
  std::string doc = "{";
  for (int i = 0; i < 70; ++i) {
    doc += (i ? "," : "") + std::string("\"k") + std::to_string(i % 60) + "\":" + std::to_string(i);
  }
  doc += "}";  // k0..k9 appear twice
  std::vector<std::string> members;
  for (int i = 0; i < 70; ++i) {
    const std::string name = "k" + std::to_string((i * 7) % 90);
    members.push_back("\"" + name + "\":" + (i % 4 == 0 ? "null" : i % 4 == 1 ? "{\"v\":1}" : std::to_string(i)));
  }
  std::string whole = "{";
  for (size_t i = 0; i < members.size(); ++i) whole += (i ? "," : "") + members[i];
  whole += "}";
  PatchError err;
  auto p = MergePatch::Parse(whole, &err);
  ASSERT_TRUE(p) << err.message;
  std::string indexed;
  ASSERT_TRUE(ApplyMergePatch(*p, doc, 1 << 20, &indexed, &err));
  std::string linear = doc;
  for (const std::string& m : members) {
    auto q = MergePatch::Parse("{" + m + "}", &err);
    ASSERT_TRUE(q);
    std::string next;
    ASSERT_TRUE(ApplyMergePatch(*q, std::string_view(linear), 1 << 20, &next, &err));
    linear = std::move(next);
  }
  EXPECT_EQ(indexed, linear);
}

}  // namespace
}  // namespace casmem
