//===- JsonTest.cpp - The runtime's JSON reader ---------------------------===//

#include "runtime/formats/Json.h"

#include <gtest/gtest.h>

using namespace moec::rt;

namespace {

TEST(JsonTest, ParsesNestedValues) {
  json::Value value;
  std::string error;
  ASSERT_TRUE(json::parse(
      R"( {"a": [1, 2.5, -3e2], "b": {"c": true, "d": null}, "e": "x\"\u00e9"} )",
      value, error))
      << error;
  ASSERT_EQ(value.kind, json::Value::Kind::Object);
  const json::Value *a = value.find("a");
  ASSERT_TRUE(a);
  ASSERT_EQ(a->array.size(), 3u);
  EXPECT_EQ(a->array[1].number, 2.5);
  EXPECT_EQ(a->array[2].number, -300);
  EXPECT_TRUE(value.find("b")->find("c")->boolean);
  EXPECT_EQ(value.find("b")->find("d")->kind, json::Value::Kind::Null);
  EXPECT_EQ(value.find("e")->string, "x\"\xc3\xa9");
}

TEST(JsonTest, KeepsLargeIntegersExact) {
  json::Value value;
  std::string error;
  ASSERT_TRUE(json::parse("[18446744073709551615, 18446744073709551616, 1.0]",
                          value, error));
  uint64_t out = 0;
  EXPECT_TRUE(json::toUInt64(value.array[0], out));
  EXPECT_EQ(out, UINT64_MAX);
  EXPECT_FALSE(json::toUInt64(value.array[1], out)); // overflows
  EXPECT_FALSE(json::toUInt64(value.array[2], out)); // not an integer
}

TEST(JsonTest, RejectsMalformedInput) {
  const char *bad[] = {"",
                       "{",
                       "[1,]",
                       "{\"a\" 1}",
                       "01",
                       "\"\\x\"",
                       "{\"a\":1,\"a\":2}",
                       "[1] x",
                       "\"\\ud800\"",
                       "-",
                       "tru"};
  for (const char *text : bad) {
    json::Value value;
    std::string error;
    EXPECT_FALSE(json::parse(text, value, error)) << text;
    EXPECT_NE(error.find("invalid JSON at byte"), std::string::npos) << text;
  }
}

TEST(JsonTest, BoundsNestingDepth) {
  std::string deep(1000, '[');
  json::Value value;
  std::string error;
  EXPECT_FALSE(json::parse(deep, value, error));
  EXPECT_NE(error.find("nesting too deep"), std::string::npos);
}

TEST(JsonTest, QuotesStrings) {
  std::string out;
  json::appendQuoted(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\"");
  json::Value value;
  std::string error;
  ASSERT_TRUE(json::parse(out, value, error));
  EXPECT_EQ(value.string, "a\"b\\c\n\x01");
}

} // namespace

TEST(JsonTest, FindsDuplicateKeysInSmallAndLargeObjects) {
  json::Value v;
  std::string error;
  EXPECT_FALSE(json::parse(R"({"a": 1, "b": 2, "a": 3})", v, error));
  EXPECT_NE(error.find("duplicate key"), std::string::npos) << error;
  // Past 16 members the check uses a set (tokenizer vocabularies): a key
  // repeated from before the switch and one from after are both found.
  for (const char *repeated : {"k3", "k18"}) {
    std::string text = "{";
    for (int i = 0; i < 20; ++i)
      text += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
    text += std::string("\"") + repeated + "\": 0}";
    EXPECT_FALSE(json::parse(text, v, error)) << repeated;
    EXPECT_NE(error.find("duplicate key"), std::string::npos) << error;
  }
  std::string distinct = "{";
  for (int i = 0; i < 40; ++i)
    distinct += (i ? ", \"k" : "\"k") + std::to_string(i) + "\": 1";
  EXPECT_TRUE(json::parse(distinct + "}", v, error)) << error;
  EXPECT_EQ(v.object.size(), 40u);
}
