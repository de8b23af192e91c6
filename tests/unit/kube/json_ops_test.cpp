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

// A reader refuses implicit keys longer than 1024 characters; keys that long, or that
// escaping makes that long (control characters, invalid UTF-8), must still read back.
TEST(Yaml, LongKeysReadBack) {
  for (const std::string& key : {std::string(2000, 'k'), std::string(300, '\x1a') + ":", std::string(200, '\xff')}) {
    boost::json::object obj;
    obj["short"] = 1;
    obj[key] = "v";
    obj["after"] = nullptr;
    const boost::json::value v = obj;
    std::string err;
    auto round = yaml_to_json(json_to_yaml(v), &err);
    ASSERT_TRUE(round) << err;
    EXPECT_EQ(round->as_object().size(), 3u);
    EXPECT_EQ(round->at("short"), 1);
    EXPECT_EQ(round->at("after"), nullptr);
  }
}

// "Billion laughs": nine levels of aliases name 10^9 scalars in a few hundred bytes. The
// conversion stops at its budget instead of expanding them; the same tree written out in
// full (and a flow map of nulls, one node per byte) converts.
TEST(Yaml, AliasExpansionIsBoundedByTheDocumentSize) {
  std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev +
            ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n";
  }
  std::string err;
  EXPECT_FALSE(yaml_to_json(bomb, &err));
  EXPECT_NE(err.find("budget"), std::string::npos) << err;
  // Two levels of aliases (100 scalars) expand to more than the text but within the budget.
  auto small = yaml_to_json("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n", &err);
  ASSERT_TRUE(small) << err;
  EXPECT_EQ(small->at("b").as_array().size(), 10u);
  std::string nulls = "{";
  for (int i = 0; i < 5000; ++i) nulls += (i ? ",k" : "k") + std::to_string(i);
  nulls += "}";
  auto dense = yaml_to_json(nulls, &err);
  ASSERT_TRUE(dense) << err;
  EXPECT_EQ(dense->as_object().size(), 5000u);
}

TEST(Yaml, NumberGrammarOfPlainScalars) {
  struct Case {
    const char* text;
    const char* json;
  };
  const Case cases[] = {
      {"0", "0"},          {"-7", "-7"},        {"+1", "1"},           {"007", "7"},
      {"1e3", "1E3"},      {"-.5", "-5E-1"},    {".5", "5E-1"},        {"1.", "1E0"},
      {"2.5e-2", "2.5E-2"}, {"+3.0E+1", "3E1"}, {"true", "true"},      {"True", "true"},
      {"TRUE", "true"},    {"FALSE", "false"},  {"~", "null"},         {"null", "null"},
      {"Null", "null"},    {"0x1F", "\"0x1F\""}, {".inf", "\".inf\""}, {"1e", "\"1e\""},
      {".", "\".\""},     {"+", "\"+\""},       {"1.2.3", "\"1.2.3\""},
      {"e5", "\"e5\""},   {"1e+", "\"1e+\""}, {"--1", "\"--1\""},   {"1_000", "\"1_000\""},
      {"yes", "\"yes\""}, {"tRUE", "\"tRUE\""}, {"99999999999999999999", "1E20"},
  };
  for (const auto& c : cases) {
    auto v = yaml_to_json(std::string("v: ") + c.text + "\n");
    ASSERT_TRUE(v) << c.text;
    EXPECT_EQ(v->at("v"), J(c.json)) << c.text;
    EXPECT_EQ(*yaml_to_json(json_to_yaml(*v)), *v) << c.text << " must read back as the same type";
  }
}

}  // namespace
}  // namespace ironboot::kube
