// JSON Patch (engine/json_patch.h): RFC 6902 Appendix A, every operation
// and error kind, RFC 6901 pointers, casmem's increment, exact digits,
// depth and size limits, and a model test against a reference written on
// RapidJSON's DOM.
#include "engine/json_patch.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace casmem {
namespace {

constexpr size_t kBig = 1 << 20;

struct Outcome {
  bool ok = false;
  std::string value;  // ok: the result
  PatchError error;   // !ok
};

// Parses `patch` (which must be well formed) and applies it.
Outcome Patch(std::optional<std::string_view> doc, std::string_view patch,
            size_t max_bytes = kBig) {
  Outcome o;
  auto p = JsonPatch::Parse(patch, &o.error);
  EXPECT_NE(p, nullptr) << patch << ": " << o.error.message;
  if (!p) return o;
  o.ok = ApplyJsonPatch(*p, doc, max_bytes, &o.value, &o.error);
  if (!o.ok) {
    EXPECT_NE(o.error.kind, PatchFailure::kNone);
  }
  return o;
}

std::string Ok(std::optional<std::string_view> doc, std::string_view patch) {
  Outcome o = Patch(doc, patch);
  EXPECT_TRUE(o.ok) << patch << " on " << doc.value_or("<absent>") << ": " << o.error.message;
  return o.value;
}

// Expects the patch to fail with kFailed at op_index; returns the message.
std::string Fails(std::optional<std::string_view> doc, std::string_view patch, int op_index) {
  Outcome o = Patch(doc, patch);
  EXPECT_FALSE(o.ok) << patch << " gave " << o.value;
  EXPECT_EQ(o.error.kind, PatchFailure::kFailed) << o.error.message;
  EXPECT_EQ(o.error.op_index, op_index) << o.error.message;
  EXPECT_FALSE(o.error.message.empty());
  return o.error.message;
}

// Expects Parse to refuse; returns the error.
PatchError Malformed(std::string_view patch) {
  PatchError e;
  auto p = JsonPatch::Parse(patch, &e);
  EXPECT_EQ(p, nullptr) << patch;
  EXPECT_EQ(e.kind, PatchFailure::kMalformed) << patch;
  EXPECT_FALSE(e.message.empty());
  return e;
}

// ---- RFC 6902 Appendix A ----

TEST(JsonPatchRfc6902, A1AddingAnObjectMember) {
  EXPECT_EQ(Ok(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])"),
            R"({"foo":"bar","baz":"qux"})");
}
TEST(JsonPatchRfc6902, A2AddingAnArrayElement) {
  EXPECT_EQ(Ok(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])"),
            R"({"foo":["bar","qux","baz"]})");
}
TEST(JsonPatchRfc6902, A3RemovingAnObjectMember) {
  EXPECT_EQ(Ok(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])"),
            R"({"foo":"bar"})");
}
TEST(JsonPatchRfc6902, A4RemovingAnArrayElement) {
  EXPECT_EQ(Ok(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])"),
            R"({"foo":["bar","baz"]})");
}
TEST(JsonPatchRfc6902, A5ReplacingAValue) {
  EXPECT_EQ(Ok(R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])"),
            R"({"baz":"boo","foo":"bar"})");
}
TEST(JsonPatchRfc6902, A6MovingAValue) {
  EXPECT_EQ(Ok(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
               R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])"),
            R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})");
}
TEST(JsonPatchRfc6902, A7MovingAnArrayElement) {
  EXPECT_EQ(Ok(R"({"foo":["all","grass","cows","eat"]})",
               R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])"),
            R"({"foo":["all","cows","eat","grass"]})");
}
TEST(JsonPatchRfc6902, A8TestingAValueSuccess) {
  EXPECT_EQ(Ok(R"({"baz":"qux","foo":["a",2,"c"]})",
               R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])"),
            R"({"baz":"qux","foo":["a",2,"c"]})");
}
TEST(JsonPatchRfc6902, A9TestingAValueError) {
  EXPECT_EQ(Fails(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])", 0),
            "test failed at /baz");
}
TEST(JsonPatchRfc6902, A10AddingANestedMemberObject) {
  EXPECT_EQ(Ok(R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])"),
            R"({"foo":"bar","child":{"grandchild":{}}})");
}
TEST(JsonPatchRfc6902, A11IgnoringUnrecognizedElements) {
  EXPECT_EQ(Ok(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])"),
            R"({"foo":"bar","baz":"qux"})");
}
TEST(JsonPatchRfc6902, A12AddingToANonexistentTarget) {
  Fails(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])", 0);
}
TEST(JsonPatchRfc6902, A13InvalidJsonPatchDocument) {
  EXPECT_EQ(Malformed(R"([{"op":"add","path":"/baz","value":"qux","op":"remove"}])").op_index, 0);
}
TEST(JsonPatchRfc6902, A14EscapeOrdering) {
  EXPECT_EQ(Ok(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])"),
            R"({"/":9,"~1":10})");
}
TEST(JsonPatchRfc6902, A15ComparingStringsAndNumbers) {
  Fails(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])", 0);
}
TEST(JsonPatchRfc6902, A16AddingAnArrayValue) {
  EXPECT_EQ(Ok(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])"),
            R"({"foo":["bar",["abc","def"]]})");
}

// ---- every operation ----

TEST(JsonPatchOps, Add) {
  const char* doc = R"({"a":[1,2],"b":{"c":1}})";
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/b/c","value":[true]}])"), R"({"a":[1,2],"b":{"c":[true]}})");
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/a/0","value":0}])"), R"({"a":[0,1,2],"b":{"c":1}})");
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/a/2","value":3}])"), R"({"a":[1,2,3],"b":{"c":1}})");
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/a/-","value":null}])"), R"({"a":[1,2,null],"b":{"c":1}})");
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"","value":{"x":1}}])"), R"({"x":1})");
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/","value":1}])"), R"({"a":[1,2],"b":{"c":1},"":1})");
  EXPECT_EQ(Ok(R"({"":{}})", R"([{"op":"add","path":"//","value":1}])"), R"({"":{"":1}})");
  Fails(doc, R"([{"op":"add","path":"/a/3","value":0}])", 0);   // past size
  Fails(doc, R"([{"op":"add","path":"/a/01","value":0}])", 0);  // leading zero
  Fails(doc, R"([{"op":"add","path":"/a/x","value":0}])", 0);
  Fails(doc, R"([{"op":"add","path":"/a/-1","value":0}])", 0);
  Fails(doc, R"([{"op":"add","path":"/b/c/d","value":0}])", 0);  // parent is a number
  Fails(doc, R"([{"op":"add","path":"/x/y","value":0}])", 0);
}

TEST(JsonPatchOps, Remove) {
  const char* doc = R"({"a":[1,2],"b":{"c":1},"d":null})";
  EXPECT_EQ(Ok(doc, R"([{"op":"remove","path":"/d"}])"), R"({"a":[1,2],"b":{"c":1}})");
  EXPECT_EQ(Ok(doc, R"([{"op":"remove","path":"/a/1"}])"), R"({"a":[1],"b":{"c":1},"d":null})");
  EXPECT_EQ(Ok(doc, R"([{"op":"remove","path":"/b/c"}])"), R"({"a":[1,2],"b":{},"d":null})");
  Fails(doc, R"([{"op":"remove","path":"/e"}])", 0);
  Fails(doc, R"([{"op":"remove","path":"/a/2"}])", 0);
  Fails(doc, R"([{"op":"remove","path":"/a/-"}])", 0);
  Fails(doc, R"([{"op":"remove","path":"/b/c/d"}])", 0);
  EXPECT_EQ(Fails(doc, R"([{"op":"remove","path":""}])", 0),
            "remove at \"\": cannot remove the whole document");
}

TEST(JsonPatchOps, Replace) {
  const char* doc = R"({"a":[1,2],"b":{"c":1}})";
  EXPECT_EQ(Ok(doc, R"([{"op":"replace","path":"/a/1","value":"x"}])"), R"({"a":[1,"x"],"b":{"c":1}})");
  EXPECT_EQ(Ok(doc, R"([{"op":"replace","path":"/b","value":null}])"), R"({"a":[1,2],"b":null})");
  EXPECT_EQ(Ok(doc, R"([{"op":"replace","path":"","value":[1]}])"), "[1]");
  Fails(doc, R"([{"op":"replace","path":"/x","value":1}])", 0);
  Fails(doc, R"([{"op":"replace","path":"/a/2","value":1}])", 0);
  Fails(doc, R"([{"op":"replace","path":"/a/-","value":1}])", 0);
}

TEST(JsonPatchOps, Move) {
  const char* doc = R"({"a":{"b":[1,2]},"c":3})";
  EXPECT_EQ(Ok(doc, R"([{"op":"move","from":"/c","path":"/a/b/0"}])"), R"({"a":{"b":[3,1,2]}})");
  EXPECT_EQ(Ok(doc, R"([{"op":"move","from":"/a/b","path":"/b"}])"), R"({"a":{},"c":3,"b":[1,2]})");
  EXPECT_EQ(Ok(doc, R"([{"op":"move","from":"/a","path":"/a"}])"), doc);  // same place
  EXPECT_EQ(Ok(doc, R"([{"op":"move","from":"/a/b","path":""}])"), "[1,2]");
  EXPECT_EQ(Ok(doc, R"([{"op":"move","from":"/c","path":"/a"}])"), R"({"a":3})");  // replaces
  EXPECT_EQ(Fails(doc, R"([{"op":"move","from":"/a","path":"/a/b/x"}])", 0),
            "move from /a to /a/b/x: cannot move a value into itself");
  Fails(doc, R"([{"op":"move","from":"","path":"/x"}])", 0);
  Fails(doc, R"([{"op":"move","from":"/x","path":"/y"}])", 0);
  Fails(doc, R"([{"op":"move","from":"/x","path":"/x"}])", 0);  // from must exist
  Fails(doc, R"([{"op":"move","from":"/c","path":"/q/r"}])", 0);
  // "/a" is not a prefix of "/ab".
  EXPECT_EQ(Ok(R"({"a":1,"ab":{}})", R"([{"op":"move","from":"/a","path":"/ab/x"}])"),
            R"({"ab":{"x":1}})");
}

TEST(JsonPatchOps, Copy) {
  const char* doc = R"({"a":{"b":[1,2]},"c":3})";
  EXPECT_EQ(Ok(doc, R"([{"op":"copy","from":"/a/b","path":"/a/b/-"}])"), R"({"a":{"b":[1,2,[1,2]]},"c":3})");
  EXPECT_EQ(Ok(doc, R"([{"op":"copy","from":"","path":"/d"}])"),
            R"({"a":{"b":[1,2]},"c":3,"d":{"a":{"b":[1,2]},"c":3}})");
  EXPECT_EQ(Ok(doc, R"([{"op":"copy","from":"/c","path":""}])"), "3");
  // The copy is independent of its source.
  EXPECT_EQ(Ok(doc, R"([{"op":"copy","from":"/a","path":"/d"},{"op":"add","path":"/d/b/0","value":0}])"),
            R"({"a":{"b":[1,2]},"c":3,"d":{"b":[0,1,2]}})");
  Fails(doc, R"([{"op":"copy","from":"/x","path":"/d"}])", 0);
  Fails(doc, R"([{"op":"copy","from":"/c","path":"/a/b/5"}])", 0);
}

TEST(JsonPatchOps, Test) {
  const char* doc = R"({"n":1.0,"big":12345678901234567890,"o":{"x":[1,"s",null,true]},"z":-0})";
  EXPECT_EQ(Ok(doc, R"([{"op":"test","path":"/n","value":1}])"), doc);
  EXPECT_EQ(Ok(doc, R"([{"op":"test","path":"/n","value":10e-1}])"), doc);
  EXPECT_EQ(Ok(doc, R"([{"op":"test","path":"/z","value":0}])"), doc);
  EXPECT_EQ(Ok(doc, R"([{"op":"test","path":"/big","value":12345678901234567890}])"), doc);
  Fails(doc, R"([{"op":"test","path":"/big","value":12345678901234567891}])", 0);
  EXPECT_EQ(Ok(doc, R"([{"op":"test","path":"/o","value":{"x":[1,"s",null,true]}}])"), doc);
  Fails(doc, R"([{"op":"test","path":"/o","value":{"x":[1,"s",null,false]}}])", 0);
  Fails(doc, R"([{"op":"test","path":"/o/x","value":[1,"s",null]}])", 0);
  EXPECT_EQ(Ok(doc, R"([{"op":"test","path":"","value":{"z":0,"o":{"x":[1,"s",null,true]},"big":12345678901234567890,"n":1}}])"),
            doc);
  Fails(doc, R"([{"op":"test","path":"/missing","value":null}])", 0);
  EXPECT_EQ(Ok(R"({"s":"\u00e9"})", "[{\"op\":\"test\",\"path\":\"/s\",\"value\":\"\xc3\xa9\"}]"),
            "{\"s\":\"\xc3\xa9\"}");
}

TEST(JsonPatchOps, AllOrNothingAndOpIndex) {
  const char* doc = R"({"a":1})";
  Outcome o = Patch(doc, R"([{"op":"add","path":"/b","value":2},{"op":"remove","path":"/a"},
                            {"op":"test","path":"/a","value":1}])");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error.op_index, 2);
  // Ops see the effects of the earlier ones.
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/b","value":[]},{"op":"add","path":"/b/-","value":1},
                        {"op":"test","path":"/b","value":[1]},{"op":"remove","path":"/a"}])"),
            R"({"b":[1]})");
  EXPECT_EQ(Ok(doc, "[]"), doc);
  // Messages name the op and the path.
  EXPECT_EQ(Fails(doc, R"([{"op":"replace","path":"/x~1y","value":1}])", 0),
            "replace at /x~1y: member \"x/y\" not found");
}

TEST(JsonPatchOps, AbsentAndNullDocuments) {
  // An absent key is the document null: "" works, any other path fails.
  EXPECT_EQ(Ok(std::nullopt, R"([{"op":"add","path":"","value":{"a":1}}])"), R"({"a":1})");
  EXPECT_EQ(Ok(std::nullopt, R"([{"op":"replace","path":"","value":[]}])"), "[]");
  EXPECT_EQ(Ok(std::nullopt, R"([{"op":"test","path":"","value":null}])"), "null");
  EXPECT_EQ(Ok(std::nullopt, R"([{"op":"add","path":"","value":{}},{"op":"add","path":"/a","value":1}])"),
            R"({"a":1})");
  Fails(std::nullopt, R"([{"op":"add","path":"/a","value":1}])", 0);
  Fails(std::nullopt, R"([{"op":"remove","path":""}])", 0);
  EXPECT_EQ(Fails(std::nullopt, R"([{"op":"test","path":"","value":0}])", 0), "test failed at \"\"");
  Fails(std::nullopt, R"([{"op":"increment","path":"/n","value":1}])", 0);
  Fails("null", R"([{"op":"add","path":"/a","value":1}])", 0);
  EXPECT_EQ(Ok("null", R"([{"op":"test","path":"","value":null}])"), "null");
  // A scalar document.
  EXPECT_EQ(Ok("7", R"([{"op":"test","path":"","value":7}])"), "7");
  Fails("7", R"([{"op":"add","path":"/0","value":1}])", 0);
}

TEST(JsonPatchOps, BrokenStoredValueFailsCleanly) {
  for (const char* doc : {"", "{", "[1,]", "\"\\udc00\"", "{\"a\":1} x", "\xff"}) {
    Outcome o = Patch(std::string_view(doc), R"([{"op":"test","path":"","value":1}])");
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error.kind, PatchFailure::kFailed) << doc;
  }
  Outcome o = Patch(std::string(200, '[') + std::string(200, ']'), R"([{"op":"remove","path":"/0"}])");
  EXPECT_EQ(o.error.kind, PatchFailure::kFailed);
}

// ---- pointers ----

TEST(JsonPatchPointers, Escapes) {
  const char* doc = R"({"a/b":{"~c":1},"~1":2,"m~0n":3})";
  EXPECT_EQ(Ok(doc, R"([{"op":"replace","path":"/a~1b/~0c","value":9}])"), R"({"a/b":{"~c":9},"~1":2,"m~0n":3})");
  EXPECT_EQ(Ok(doc, R"([{"op":"remove","path":"/~01"}])"), R"({"a/b":{"~c":1},"m~0n":3})");
  EXPECT_EQ(Ok(doc, R"([{"op":"remove","path":"/m~00n"}])"), R"({"a/b":{"~c":1},"~1":2})");
  Fails(doc, R"([{"op":"remove","path":"/a/b"}])", 0);
  // Object members named like indexes are members.
  EXPECT_EQ(Ok(R"({"0":1,"-":2,"01":3})", R"([{"op":"remove","path":"/0"},{"op":"remove","path":"/-"},{"op":"remove","path":"/01"}])"),
            "{}");
}

TEST(JsonPatchPointers, ArrayIndexes) {
  const char* doc = R"([10,11,12])";
  EXPECT_EQ(Ok(doc, R"([{"op":"replace","path":"/0","value":0}])"), "[0,11,12]");
  EXPECT_EQ(Ok(doc, R"([{"op":"replace","path":"/2","value":0}])"), "[10,11,0]");
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/3","value":0}])"), "[10,11,12,0]");
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/-","value":0}])"), "[10,11,12,0]");
  for (const char* bad : {"/01", "/00", "/3", "/-", "/+1", "/1.0", "/ 1", "/1 ", "/", "/99999999999999999999"}) {
    Fails(doc, std::string(R"([{"op":"replace","path":")") + bad + R"(","value":0}])", 0);
  }
  Fails(doc, R"([{"op":"add","path":"/4","value":0}])", 0);
  EXPECT_EQ(Fails(doc, R"([{"op":"add","path":"/4","value":0}])", 0),
            "add at /4: index 4 is out of range (array of 3)");
}

// ---- malformed patches ----

TEST(JsonPatchParse, Malformed) {
  EXPECT_EQ(Malformed("").op_index, -1);
  EXPECT_EQ(Malformed("[").op_index, -1);
  EXPECT_EQ(Malformed("{\"op\":\"add\"}").op_index, -1);  // not an array
  EXPECT_EQ(Malformed("null").op_index, -1);
  EXPECT_EQ(Malformed("[{\"op\":\"test\",\"path\":\"\",\"value\":\"\\udc00\"}]").op_index, -1);
  EXPECT_EQ(Malformed("[{\"op\":\"test\",\"path\":\"\",\"value\":\"\xff\"}]").op_index, -1);
  EXPECT_EQ(Malformed(R"([{"op":"test","path":"","value":1},2])").op_index, 1);
  EXPECT_EQ(Malformed(R"([[]])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"path":"/a"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"bogus","path":"/a"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"ADD","path":"/a","value":1}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":1,"path":"/a"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"remove"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"remove","path":1}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"remove","path":null}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"remove","path":"a"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"remove","path":"/a~2"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"remove","path":"/a~"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"add","path":"/a"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"replace","path":"/a"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"test","path":"/a"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"move","path":"/a"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"copy","path":"/a","from":5}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"copy","path":"/a","from":"b"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"remove","path":"/a","path":"/b"}])").op_index, 0);
  EXPECT_EQ(Malformed(R"([{"op":"remove","path":"/a"},{"op":"add","path":"/a","value":1,"value":2}])").op_index, 1);
  // The message says which operation.
  EXPECT_EQ(Malformed(R"([{"op":"remove","path":"/a"},{"op":"nope","path":""}])").message,
            "operation 1: unknown op \"nope\"");
  // Unused members are not checked; "value" of remove is ignored.
  PatchError e;
  EXPECT_NE(JsonPatch::Parse(R"([{"op":"remove","path":"/a","value":1,"from":7,"x":{}}])", &e), nullptr);
  auto p = JsonPatch::Parse(R"([{"op":"remove","path":"/a"},{"op":"test","path":"","value":1}])", &e);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->size(), 2u);
  EXPECT_EQ(e.kind, PatchFailure::kNone);
}

TEST(JsonPatchParse, IncrementValue) {
  for (const char* v : {"5.0", "1e2", "\"5\"", "null", "true", "[1]", "9223372036854775808",
                        "-9223372036854775809", "0.5", "-1E0"}) {
    EXPECT_EQ(Malformed(std::string(R"([{"op":"increment","path":"/n","value":)") + v + "}]").op_index, 0)
        << v;
  }
  EXPECT_EQ(Malformed(R"([{"op":"increment","path":"/n"}])").op_index, 0);
  PatchError e;
  EXPECT_NE(JsonPatch::Parse(R"([{"op":"increment","path":"/n","value":-9223372036854775808}])", &e), nullptr);
  EXPECT_NE(JsonPatch::Parse(R"([{"op":"increment","path":"/n","value":9223372036854775807}])", &e), nullptr);
  EXPECT_NE(JsonPatch::Parse(R"([{"op":"increment","path":"/n","value":-0}])", &e), nullptr);
}

// ---- increment ----

TEST(JsonPatchIncrement, Sums) {
  EXPECT_EQ(Ok(R"({"n":5})", R"([{"op":"increment","path":"/n","value":3}])"), R"({"n":8})");
  EXPECT_EQ(Ok(R"({"n":5})", R"([{"op":"increment","path":"/n","value":-7}])"), R"({"n":-2})");
  EXPECT_EQ(Ok(R"({"n":-0})", R"([{"op":"increment","path":"/n","value":0}])"), R"({"n":0})");
  EXPECT_EQ(Ok(R"({"n":12345678901234567})", R"([{"op":"increment","path":"/n","value":1}])"),
            R"({"n":12345678901234568})");
  EXPECT_EQ(Ok(R"([1,2])", R"([{"op":"increment","path":"/1","value":10}])"), "[1,12]");
  EXPECT_EQ(Ok("41", R"([{"op":"increment","path":"","value":1}])"), "42");
  EXPECT_EQ(Ok(R"({"n":1})", R"([{"op":"increment","path":"/n","value":1},{"op":"increment","path":"/n","value":1}])"),
            R"({"n":3})");
}

TEST(JsonPatchIncrement, Int64Edges) {
  EXPECT_EQ(Ok(R"({"n":9223372036854775806})", R"([{"op":"increment","path":"/n","value":1}])"),
            R"({"n":9223372036854775807})");
  EXPECT_EQ(Fails(R"({"n":9223372036854775807})", R"([{"op":"increment","path":"/n","value":1}])", 0),
            "increment at /n: increment overflows 64 bits");
  EXPECT_EQ(Ok(R"({"n":-9223372036854775807})", R"([{"op":"increment","path":"/n","value":-1}])"),
            R"({"n":-9223372036854775808})");
  Fails(R"({"n":-9223372036854775808})", R"([{"op":"increment","path":"/n","value":-1}])", 0);
  EXPECT_EQ(Ok(R"({"n":-9223372036854775808})", R"([{"op":"increment","path":"/n","value":9223372036854775807}])"),
            R"({"n":-1})");
  Fails(R"({"n":1})", R"([{"op":"increment","path":"/n","value":9223372036854775807}])", 0);
  Fails(R"({"n":-2})", R"([{"op":"increment","path":"/n","value":-9223372036854775807}])", 0);
  // A target beyond int64 is not an integer within 64 bits.
  Fails(R"({"n":9223372036854775808})", R"([{"op":"increment","path":"/n","value":-1}])", 0);
  // The failed op leaves nothing behind: all or nothing.
  Outcome o = Patch(R"({"n":9223372036854775807,"m":0})",
                  R"([{"op":"increment","path":"/m","value":1},{"op":"increment","path":"/n","value":1}])");
  EXPECT_EQ(o.error.op_index, 1);
}

TEST(JsonPatchIncrement, AbsentTargetIsCreated) {
  EXPECT_EQ(Ok(R"({})", R"([{"op":"increment","path":"/n","value":-4}])"), R"({"n":-4})");
  EXPECT_EQ(Ok(R"({"a":{}})", R"([{"op":"increment","path":"/a/n","value":1}])"), R"({"a":{"n":1}})");
  EXPECT_EQ(Ok(R"([5])", R"([{"op":"increment","path":"/-","value":2}])"), "[5,2]");
  EXPECT_EQ(Ok(R"([5])", R"([{"op":"increment","path":"/1","value":2}])"), "[5,2]");
  Fails(R"([5])", R"([{"op":"increment","path":"/2","value":2}])", 0);
  Fails(R"([5])", R"([{"op":"increment","path":"/01","value":2}])", 0);
  Fails(R"({})", R"([{"op":"increment","path":"/a/n","value":1}])", 0);  // parent must exist
  Fails(R"({"a":1})", R"([{"op":"increment","path":"/a/n","value":1}])", 0);
  // The whole document of an absent key counts as 0; a stored null is null.
  EXPECT_EQ(Ok(std::nullopt, R"([{"op":"increment","path":"","value":5}])"), "5");
  EXPECT_EQ(Ok(std::nullopt, R"([{"op":"test","path":"","value":null},{"op":"increment","path":"","value":5}])"), "5");
  Fails("null", R"([{"op":"increment","path":"","value":5}])", 0);
  Fails(std::nullopt, R"([{"op":"add","path":"","value":null},{"op":"increment","path":"","value":5}])", 1);
}

TEST(JsonPatchIncrement, NonIntegerTargetFails) {
  for (const char* v : {"1.0", "1e2", "1.5", "\"1\"", "null", "true", "[]", "{}", "-0.0"}) {
    const std::string doc = std::string(R"({"n":)") + v + "}";
    EXPECT_EQ(Fails(doc, R"([{"op":"increment","path":"/n","value":1}])", 0).rfind("increment at /n: ", 0), 0u)
        << v;
  }
}

// ---- exact text ----

TEST(JsonPatchText, UntouchedNumbersAndStringsKeepTheirText) {
  const char* doc = R"({"a":12345678901234567890,"b":1.10,"c":-0,"d":1E+2,"e":"\u00e9\n\"","f":[0.1e-7]})";
  const std::string expect = "{\"a\":12345678901234567890,\"b\":1.10,\"c\":-0,\"d\":1E+2,\"e\":\"\xc3\xa9\\n\\\"\",\"f\":[0.1e-7],\"g\":1.50}";
  EXPECT_EQ(Ok(doc, R"([{"op":"add","path":"/g","value":1.50}])"), expect);
  // Values moved and copied keep their text too; the result is compact.
  EXPECT_EQ(Ok("{ \"a\" : [ 1.0 , 2E0 ] }", R"([{"op":"copy","from":"/a","path":"/b"},{"op":"move","from":"/a/1","path":"/c"}])"),
            R"({"a":[1.0],"b":[1.0,2E0],"c":2E0})");
}

// ---- limits ----

std::string Nested(int depth, std::string_view inner = "") {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

TEST(JsonPatchLimits, Depth) {
  // A value of kMaxJsonDepth levels fits at the top, not one level down.
  const std::string v128 = Nested(128);
  EXPECT_EQ(Ok("{}", R"([{"op":"add","path":"","value":)" + v128 + "}]"), v128);
  Outcome o = Patch("{}", R"([{"op":"add","path":"/a","value":)" + v128 + "}]");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error.kind, PatchFailure::kTooDeep);
  EXPECT_EQ(o.error.op_index, 0);
  EXPECT_EQ(Ok("{}", R"([{"op":"add","path":"/a","value":)" + Nested(127) + "}]"), R"({"a":)" + Nested(127) + "}");
  // A patch value deeper than the limit is malformed, however deep.
  EXPECT_EQ(Malformed(R"([{"op":"add","path":"","value":)" + Nested(129) + "}]").kind,
            PatchFailure::kMalformed);
  EXPECT_EQ(Malformed(std::string(1'000'000, '[')).op_index, -1);
  // Growing by copy: {"a":[[...]]} is 65 deep; its innermost array is at
  // "/a" + "/0" x 63 and holds values 65 levels down.
  auto zeros = [](int n) {
    std::string p;
    for (int i = 0; i < n; ++i) p += "/0";
    return p;
  };
  const std::string doc65 = R"({"a":)" + Nested(64) + "}";
  const std::string inner = "/a" + zeros(63) + "/-";
  o = Patch(doc65, R"([{"op":"test","path":"","value":)" + doc65 + R"(},{"op":"copy","from":"","path":")" + inner + R"("}])");
  EXPECT_EQ(o.error.kind, PatchFailure::kTooDeep);  // 65 + 65
  EXPECT_EQ(o.error.op_index, 1);
  o = Patch(doc65, R"([{"op":"copy","from":"/a/0","path":")" + inner + R"("}])");  // 65 + 63
  EXPECT_TRUE(o.ok) << o.error.message;
  EXPECT_EQ(Patch(doc65, R"([{"op":"replace","path":"/a","value":)" + Nested(128) + "}]").error.kind,
            PatchFailure::kTooDeep);
  EXPECT_TRUE(Patch(doc65, R"([{"op":"replace","path":"/a","value":)" + Nested(127) + "}]").ok);
  // A path that names nothing fails as such, however deep it reaches.
  std::string long_path;
  for (int i = 0; i < 200; ++i) long_path += "/x";
  for (const char* op : {"add", "replace", "increment"}) {
    o = Patch("{}", std::string(R"([{"op":")") + op + R"(","path":")" + long_path + R"(","value":1}])");
    EXPECT_EQ(o.error.kind, PatchFailure::kFailed) << op << ": " << o.error.message;
  }
  o = Patch(R"({"a":1})", R"([{"op":"copy","from":"/a","path":")" + long_path + R"("}])");
  EXPECT_EQ(o.error.kind, PatchFailure::kFailed) << o.error.message;
  o = Patch(R"({"a":1})", R"([{"op":"move","from":"/a","path":")" + long_path + R"("}])");
  EXPECT_EQ(o.error.kind, PatchFailure::kFailed) << o.error.message;
  // A move is checked at its new place: {"b":[[...]]} 29 deep, its
  // innermost array at "/b" + "/0" x 27 holds values 29 levels down.
  const std::string doc = R"({"a":)" + Nested(100) + R"(,"b":)" + Nested(28) + "}";
  EXPECT_TRUE(Patch(doc, R"([{"op":"move","from":"/a","path":"/b)" + zeros(26) + R"(/-"}])").ok);
  o = Patch(doc, R"([{"op":"test","path":"/b/0","value":)" + Nested(27) +
                     R"(},{"op":"move","from":"/a","path":"/b)" + zeros(27) + R"(/-"}])");
  EXPECT_EQ(o.error.kind, PatchFailure::kTooDeep);
  EXPECT_EQ(o.error.op_index, 1);
}

TEST(JsonPatchLimits, MaxBytes) {
  const std::string result = R"({"a":"xxxxxxxxxx"})";
  Outcome o = Patch("{}", R"([{"op":"add","path":"/a","value":"xxxxxxxxxx"}])", result.size());
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.value, result);
  o = Patch("{}", R"([{"op":"add","path":"/a","value":"xxxxxxxxxx"}])", result.size() - 1);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error.kind, PatchFailure::kTooLarge);
  // A copy that passes the limit fails even if a later op would shrink it.
  o = Patch(R"({"a":"xxxxxxxxxx"})", R"([{"op":"copy","from":"/a","path":"/b"},{"op":"remove","path":"/a"}])", 20);
  EXPECT_EQ(o.error.kind, PatchFailure::kTooLarge);
  EXPECT_EQ(o.error.op_index, 0);
  // Each copy of the whole document into itself doubles it: 64 of them
  // would need 2^64 elements. The copy that passes max_bytes fails, before
  // the document grows any further.
  std::string patch = "[";
  for (int i = 0; i < 64; ++i) patch += std::string(i ? "," : "") + R"({"op":"copy","from":"","path":"/-"})";
  patch += "]";
  o = Patch("[1]", patch, 1 << 16);
  EXPECT_EQ(o.error.kind, PatchFailure::kTooLarge);
  EXPECT_GT(o.error.op_index, 5);
  EXPECT_LT(o.error.op_index, 20);
  // The same patch with fewer copies fits.
  o = Patch("[1]", R"([{"op":"copy","from":"","path":"/-"},{"op":"copy","from":"","path":"/-"}])", 16);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.value, "[1,[1],[1,[1]]]");
  // Other ops are checked on the result only.
  o = Patch(R"({"a":"xxxxxxxxxx"})", R"([{"op":"add","path":"/b","value":"yyyyyyyyyy"},{"op":"remove","path":"/a"}])", 20);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.value, R"({"b":"yyyyyyyyyy"})");
}


// ---- model test: random documents and patches against a reference ----
//
// The reference applies the same operations to a RapidJSON Document,
// locating values with rapidjson::Pointer. Numbers are int64 only, so
// RapidJSON holds them exactly and writes them back as the same text.
namespace model {

using RVal = rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;
using Tokens = std::vector<std::string>;

std::string Encode(const Tokens& t, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += '/';
    for (char c : t[i]) {
      if (c == '~') out += "~0";
      else if (c == '/') out += "~1";
      else out += c;
    }
  }
  return out;
}
std::string Encode(const Tokens& t) { return Encode(t, t.size()); }

std::string Write(const RVal& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

RVal* Get(RVal& root, const Tokens& t, size_t n) {
  if (n == 0) return &root;
  const std::string s = Encode(t, n);
  rapidjson::Pointer p(s.c_str(), s.size());
  EXPECT_TRUE(p.IsValid()) << s;
  return p.Get(root);
}

// A strict array index within [0, limit].
bool Index(const std::string& tok, size_t limit, size_t* out) {
  if (tok.empty() || tok.size() > 9 || (tok.size() > 1 && tok[0] == '0')) return false;
  size_t n = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  *out = n;
  return n <= limit;
}

bool RefAdd(RVal& root, const Tokens& t, RVal& v, Alloc& a) {
  if (t.empty()) {
    root = v;  // moves
    return true;
  }
  RVal* parent = Get(root, t, t.size() - 1);
  if (parent == nullptr) return false;
  const std::string& last = t.back();
  if (parent->IsObject()) {
    auto m = parent->FindMember(RVal(last.c_str(), static_cast<rapidjson::SizeType>(last.size())));
    if (m != parent->MemberEnd()) m->value = v;
    else parent->AddMember(RVal(last.c_str(), static_cast<rapidjson::SizeType>(last.size()), a), v, a);
    return true;
  }
  if (!parent->IsArray()) return false;
  size_t i = parent->Size();
  if (last != "-" && !Index(last, parent->Size(), &i)) return false;
  parent->PushBack(v, a);
  for (size_t j = parent->Size() - 1; j > i; --j) (*parent)[j].Swap((*parent)[j - 1]);
  return true;
}

bool RefRemove(RVal& root, const Tokens& t, RVal* removed, Alloc& a) {
  if (t.empty()) return false;
  RVal* parent = Get(root, t, t.size() - 1);
  if (parent == nullptr) return false;
  const std::string& last = t.back();
  if (parent->IsObject()) {
    auto m = parent->FindMember(RVal(last.c_str(), static_cast<rapidjson::SizeType>(last.size())));
    if (m == parent->MemberEnd()) return false;
    if (removed) removed->CopyFrom(m->value, a);
    parent->EraseMember(m);
    return true;
  }
  if (!parent->IsArray()) return false;
  size_t i = 0;
  if (!Index(last, parent->Size(), &i) || i == parent->Size()) return false;
  if (removed) removed->CopyFrom((*parent)[static_cast<rapidjson::SizeType>(i)], a);
  parent->Erase(parent->Begin() + i);
  return true;
}

bool IsPrefix(const Tokens& a, const Tokens& b) {  // a proper prefix of b
  return a.size() < b.size() && std::equal(a.begin(), a.end(), b.begin());
}

struct Op {
  std::string name;
  Tokens path, from;
  std::string value;  // JSON text
  int64_t delta = 0;
};

bool RefApply(RVal& root, const Op& op, Alloc& a) {
  rapidjson::Document vdoc;
  RVal v;
  if (!op.value.empty()) {
    vdoc.Parse(op.value.c_str(), op.value.size());
    v.CopyFrom(vdoc, a);
  }
  if (op.name == "add") return RefAdd(root, op.path, v, a);
  if (op.name == "remove") return RefRemove(root, op.path, nullptr, a);
  if (op.name == "replace") {
    RVal* target = Get(root, op.path, op.path.size());
    if (target == nullptr) return false;
    *target = v;
    return true;
  }
  if (op.name == "move") {
    if (op.from == op.path) return Get(root, op.from, op.from.size()) != nullptr;
    if (IsPrefix(op.from, op.path)) return false;
    RVal moved;
    return RefRemove(root, op.from, &moved, a) && RefAdd(root, op.path, moved, a);
  }
  if (op.name == "copy") {
    RVal* src = Get(root, op.from, op.from.size());
    if (src == nullptr) return false;
    RVal copy(*src, a);
    return RefAdd(root, op.path, copy, a);
  }
  if (op.name == "test") {
    RVal* target = Get(root, op.path, op.path.size());
    return target != nullptr && *target == v;
  }
  // increment
  RVal* target = nullptr;
  if (op.path.empty()) {
    target = &root;
  } else {
    RVal* parent = Get(root, op.path, op.path.size() - 1);
    if (parent == nullptr) return false;
    if (parent->IsObject() || (parent->IsArray() && op.path.back() != "-")) {
      target = Get(root, op.path, op.path.size());
    }
  }
  if (target == nullptr) {
    RVal n(op.delta);
    return RefAdd(root, op.path, n, a);
  }
  if (!target->IsInt64()) return false;
  int64_t sum = 0;
  if (__builtin_add_overflow(target->GetInt64(), op.delta, &sum)) return false;
  target->SetInt64(sum);
  return true;
}

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::string Scalar() {
    static const char* kScalars[] = {"0", "1", "-3", "42", "9223372036854775807",
                                     "-9223372036854775808", "9223372036854775806", "\"x\"",
                                     "\"1\"", "\"\"", "true", "false", "null"};
    return kScalars[Pick(sizeof kScalars / sizeof *kScalars)];
  }
  std::string Key() {
    static const char* kKeys[] = {"a", "b", "c", "0", "1", "-", "~", "/", "a/b", "~1", ""};
    return kKeys[Pick(sizeof kKeys / sizeof *kKeys)];
  }
  std::string Value(int depth) {
    const int r = Pick(depth > 0 ? 10 : 6);
    if (r < 6) return Scalar();
    if (r < 8) {
      std::string s = "[";
      const int n = Pick(4);
      for (int i = 0; i < n; ++i) s += (i ? "," : "") + Value(depth - 1);
      return s + "]";
    }
    std::vector<std::string> keys;
    const int n = Pick(4);
    std::string s = "{";
    for (int i = 0; i < n; ++i) {
      std::string k = Key();
      if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
      s += (keys.empty() ? "" : ",") + std::string("\"") + k + "\":" + Value(depth - 1);
      keys.push_back(k);
    }
    return s + "}";
  }

  // A pointer into `root`: mostly one that exists, else one token past an
  // existing container, with tokens that may or may not name something.
  Tokens Path(const RVal& root) {
    std::vector<Tokens> all;
    Collect(root, {}, &all);
    Tokens t = all[Pick(static_cast<int>(all.size()))];
    if (Pick(3) == 0) {
      const RVal* v = &root;
      for (const auto& tok : t) v = Step(v, tok);
      if (v->IsArray()) {
        const std::string candidates[] = {"-", std::to_string(v->Size()),
                                          std::to_string(v->Size() + 1), "01", "x", "0"};
        t.push_back(candidates[Pick(6)]);
      } else {
        t.push_back(Key());
      }
    }
    return t;
  }

  Op Operation(const RVal& root) {
    static const char* kOps[] = {"add", "remove", "replace", "move", "copy", "test", "increment"};
    Op op;
    op.name = kOps[Pick(7)];
    op.path = Path(root);
    if (op.name == "move" || op.name == "copy") op.from = Path(root);
    if (op.name == "add" || op.name == "replace") op.value = Value(2);
    if (op.name == "test") {
      const RVal* target = Find(root, op.path);
      op.value = target != nullptr && Pick(2) ? Write(*target) : Value(2);
    }
    if (op.name == "increment") {
      static const int64_t kDeltas[] = {1, -1, 7, INT64_MAX, INT64_MIN, 0};
      op.delta = kDeltas[Pick(6)];
    }
    return op;
  }

  static std::string Json(const Op& op) {
    std::string s = R"({"op":")" + op.name + R"(","path":")" + Escape(Encode(op.path)) + "\"";
    if (op.name == "move" || op.name == "copy") s += R"(,"from":")" + Escape(Encode(op.from)) + "\"";
    if (!op.value.empty()) s += R"(,"value":)" + op.value;
    if (op.name == "increment") s += R"(,"value":)" + std::to_string(op.delta);
    return s + "}";
  }

 private:
  static std::string Escape(const std::string& s) {  // pointers hold no " or backslash
    return s;
  }
  static const RVal* Step(const RVal* v, const std::string& tok) {
    if (v->IsObject()) return &v->FindMember(RVal(tok.c_str(), static_cast<rapidjson::SizeType>(tok.size())))->value;
    return &(*v)[static_cast<rapidjson::SizeType>(std::stoul(tok))];
  }
  static const RVal* Find(const RVal& root, const Tokens& t) {
    const std::string s = Encode(t);
    rapidjson::Pointer p(s.c_str(), s.size());
    return t.empty() ? &root : p.Get(root);
  }
  static void Collect(const RVal& v, Tokens t, std::vector<Tokens>* all) {
    all->push_back(t);
    if (v.IsObject()) {
      for (auto& m : v.GetObject()) {
        Tokens u = t;
        u.emplace_back(m.name.GetString(), m.name.GetStringLength());
        Collect(m.value, u, all);
      }
    } else if (v.IsArray()) {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        Tokens u = t;
        u.push_back(std::to_string(i));
        Collect(v[i], u, all);
      }
    }
  }

  std::mt19937 rng_;
};

TEST(JsonPatchModel, RandomPatchesMatchTheReference) {
  Gen gen(20261129);
  int applied = 0, failed = 0;
  for (int round = 0; round < 6000; ++round) {
    const std::string doc_text = gen.Value(3);
    rapidjson::Document ref;
    ref.Parse(doc_text.c_str(), doc_text.size());
    ASSERT_FALSE(ref.HasParseError()) << doc_text;
    ASSERT_EQ(Write(ref), doc_text);

    // Ops are drawn against the reference as it evolves, so later ones
    // often name what earlier ones made.
    const int n = 1 + gen.Pick(4);
    std::string patch = "[";
    int ref_failed_at = -1;
    for (int i = 0; i < n; ++i) {
      const Op op = gen.Operation(ref);
      patch += (i ? "," : "") + Gen::Json(op);
      if (ref_failed_at < 0 && !RefApply(ref, op, ref.GetAllocator())) ref_failed_at = i;
    }
    patch += "]";

    Outcome o = Patch(std::string_view(doc_text), patch);
    SCOPED_TRACE(doc_text + " + " + patch);
    if (ref_failed_at < 0) {
      ASSERT_TRUE(o.ok) << o.error.message;
      ASSERT_EQ(o.value, Write(ref));
      ++applied;
    } else {
      ASSERT_FALSE(o.ok) << o.value;
      ASSERT_EQ(o.error.kind, PatchFailure::kFailed) << o.error.message;
      ASSERT_EQ(o.error.op_index, ref_failed_at) << o.error.message;
      ++failed;
    }
  }
  // Both outcomes are well represented.
  EXPECT_GT(applied, 800);
  EXPECT_GT(failed, 800);
}

}  // namespace model

}  // namespace
}  // namespace casmem
