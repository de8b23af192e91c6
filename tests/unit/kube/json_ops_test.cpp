#include "kube/json_ops.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace ironboot::kube {
namespace {

namespace json = boost::json;

json::value J(const char* s) { return json::parse(s); }

// RFC 7386 appendix A, every example.
TEST(MergePatch, Rfc7386Examples) {
  struct Case { const char *target, *patch, *result; };
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
  for (const auto& c : cases) EXPECT_EQ(merge_patch(J(c.target), J(c.patch)), J(c.result)) << c.patch;
}

TEST(MergePatch, DiffRoundTrips) {
  auto a = J(R"({"spec":{"x":1,"y":{"z":2}},"keep":true,"gone":1})");
  auto b = J(R"({"spec":{"x":2,"y":{"z":2,"w":3}},"keep":true})");
  auto d = merge_diff(a, b);
  EXPECT_EQ(d, J(R"({"gone":null,"spec":{"x":2,"y":{"w":3}}})"));
  EXPECT_EQ(merge_patch(a, d), b);
}

// RFC 6902 appendix A examples.
TEST(JsonPatch, Rfc6902Examples) {
  struct Case { const char *doc, *patch, *result; };
  const Case ok[] = {
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])", R"({"baz":"qux","foo":"bar"})"},
      {R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])", R"({"foo":["bar","qux","baz"]})"},
      {R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
      {R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
      {R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
      {R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {R"({"foo":["all","grass","cows","eat"]})", R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
       R"({"foo":["all","cows","eat","grass"]})"},
      {R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])", R"({"foo":["bar",["abc","def"]]})"},
      {R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])", R"({"/":9,"~1":10})"},
      {R"({"a":1})", R"([{"op":"copy","from":"/a","path":"/b"}])", R"({"a":1,"b":1})"},
  };
  for (const auto& c : ok) {
    auto doc = J(c.doc);
    auto err = apply_json_patch(doc, J(c.patch));
    EXPECT_FALSE(err) << c.patch << ": " << err.value_or("");
    EXPECT_EQ(doc, J(c.result)) << c.patch;
  }
  const Case bad[] = {
      {R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])", nullptr},
      {R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])", nullptr},
      {R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/5","value":1}])", nullptr},
      {R"({"foo":"bar"})", R"([{"op":"remove","path":"/nope"}])", nullptr},
      {R"({"foo":"bar"})", R"([{"op":"frobnicate","path":"/foo"}])", nullptr},
      {R"({"foo":{"a":1}})", R"([{"op":"move","from":"/foo","path":"/foo/a/b"}])", nullptr},
      {R"({"foo":[1]})", R"([{"op":"replace","path":"/foo/01","value":1}])", nullptr},
  };
  for (const auto& c : bad) {
    auto doc = J(c.doc);
    const auto before = doc;
    EXPECT_TRUE(apply_json_patch(doc, J(c.patch))) << c.patch;
    EXPECT_EQ(doc, before) << "a failed patch must leave the document unchanged";
  }
}

TEST(Yaml, TypesScalarsLikeKubernetes) {
  auto v = yaml_to_json("a: 1\nb: true\nc: \"1\"\nd: hello\ne: ~\nf: [x, 2.5]\ng: {h: 'no'}\n");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, J(R"({"a":1,"b":true,"c":"1","d":"hello","e":null,"f":["x",2.5],"g":{"h":"no"}})"));
  std::string err;
  EXPECT_FALSE(yaml_to_json("a: [1, 2", &err));
  EXPECT_FALSE(err.empty());
  auto round = yaml_to_json(json_to_yaml(*v));
  ASSERT_TRUE(round);
  EXPECT_EQ(*round, *v);
}

// A plain scalar as the value of a one-key document.
json::value plain(const std::string& text) {
  auto v = yaml_to_json("v: " + text + "\n");
  EXPECT_TRUE(v) << text;
  return v ? v->at("v") : json::value();
}

TEST(Yaml, PlainScalarTypingEdgeCases) {
  // The subset of the YAML 1.2 core schema that is typed: decimal integers and floats, three
  // spellings each of true, false and null; hex, octal and .inf/.nan stay strings.
  for (const char* t : {"true", "True", "TRUE"}) EXPECT_EQ(plain(t), json::value(true)) << t;
  for (const char* t : {"false", "False", "FALSE"}) EXPECT_EQ(plain(t), json::value(false)) << t;
  for (const char* t : {"~", "null", "Null", "NULL", ""}) EXPECT_TRUE(plain(t).is_null()) << t;
  for (const char* t : {"tRUE", "yes", "on", "nULL", "0x1F", "0o17", ".inf", "-.inf", ".nan", ".NaN", ".", "+",
                        "1e", "e3", "1.2.3", "1_000", "12abc", "+-1", "1e999", "--1", "1e+", ". 5"})
    EXPECT_EQ(plain(t), json::value(t)) << t;
  EXPECT_EQ(plain("+1"), json::value(1));
  EXPECT_EQ(plain("-1"), json::value(-1));
  EXPECT_EQ(plain("007"), json::value(7));
  EXPECT_EQ(plain("-0"), json::value(0));
  EXPECT_EQ(plain("9223372036854775807"), json::value(INT64_MAX));
  EXPECT_EQ(plain("-9223372036854775808"), json::value(INT64_MIN));
  EXPECT_EQ(plain("9223372036854775808"), json::value(9223372036854775808.0)) << "too big for int64: a float";
  EXPECT_EQ(plain("1e3"), json::value(1000.0));
  EXPECT_EQ(plain("1E+3"), json::value(1000.0));
  EXPECT_EQ(plain("1.5e-3"), json::value(0.0015));
  EXPECT_EQ(plain("-.5"), json::value(-0.5));
  EXPECT_EQ(plain("+.5"), json::value(0.5));
  EXPECT_EQ(plain("1."), json::value(1.0));
  EXPECT_EQ(plain("2.50"), json::value(2.5));
  // Quoted scalars are strings whatever they spell.
  for (const char* t : {"'true'", "\"1\"", "'~'", "'1e3'", "\"\""}) EXPECT_TRUE(plain(t).is_string()) << t;
}

TEST(Yaml, StringsThatLookLikeOtherTypesAreQuotedOnOutput) {
  const json::value strings = json::array{"007", "1e3", "-.5", "+1", "true", "True", "FALSE", "~", "null", "NULL", "",
                                          "0x1F", ".inf", "hello", "1.2.3"};
  const std::string yaml = json_to_yaml(strings);
  auto round = yaml_to_json(yaml);
  ASSERT_TRUE(round) << yaml;
  EXPECT_EQ(*round, strings) << yaml;
  // Plain where that reads back as the same string.
  EXPECT_NE(yaml.find("- hello\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("- 0x1F\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("- \"007\"\n"), std::string::npos) << yaml;
}

}  // namespace
}  // namespace ironboot::kube
