#include "kube/selector.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace ironboot::kube {
namespace {

namespace json = boost::json;

bool sel(const char* s, const char* labels) {
  std::string err;
  auto p = parse_label_selector(s, &err);
  EXPECT_TRUE(p) << s << ": " << err;
  auto l = json::parse(labels).as_object();
  return p && p->matches(&l);
}

TEST(LabelSelector, EqualityAndSets) {
  EXPECT_TRUE(sel("", R"({})"));
  EXPECT_TRUE(sel("rack=a", R"({"rack":"a"})"));
  EXPECT_TRUE(sel("rack==a", R"({"rack":"a"})"));
  EXPECT_FALSE(sel("rack=a", R"({"rack":"b"})"));
  EXPECT_FALSE(sel("rack=a", R"({})"));
  EXPECT_TRUE(sel("rack!=a", R"({})"));
  EXPECT_FALSE(sel("rack!=a", R"({"rack":"a"})"));
  EXPECT_TRUE(sel("rack in (a, b)", R"({"rack":"b"})"));
  EXPECT_FALSE(sel("rack in (a,b)", R"({"rack":"c"})"));
  EXPECT_TRUE(sel("rack notin (a,b)", R"({"rack":"c"})"));
  EXPECT_TRUE(sel("rack notin (a,b)", R"({})"));
  EXPECT_TRUE(sel("rack", R"({"rack":""})"));
  EXPECT_FALSE(sel("!rack", R"({"rack":""})"));
  EXPECT_TRUE(sel("rack=a,env in (prod),!broken", R"({"rack":"a","env":"prod"})"));
  EXPECT_FALSE(sel("rack=a,env in (prod),!broken", R"({"rack":"a","env":"prod","broken":"1"})"));
  EXPECT_TRUE(sel("metal.sidero.dev/serverclass=any", R"({"metal.sidero.dev/serverclass":"any"})"));
  LabelSelector s = *parse_label_selector("a=b", nullptr);
  EXPECT_FALSE(s.matches(nullptr));
}

TEST(LabelSelector, RejectsMalformed) {
  for (const char* bad : {"a in (b", "a=b)", "a in b", "=b", "a=b c", "a foo (b)"}) {
    std::string err;
    EXPECT_FALSE(parse_label_selector(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

TEST(LabelSelector, FromLabelSelectorObject) {
  auto o = json::parse(R"({"matchLabels":{"a":"1"},"matchExpressions":[{"key":"b","operator":"In","values":["x","y"]},
                          {"key":"c","operator":"DoesNotExist"}]})").as_object();
  FieldError err;
  auto s = label_selector_from_json(o, "selector", err);
  ASSERT_TRUE(s) << err.text();
  auto yes = json::parse(R"({"a":"1","b":"y"})").as_object();
  auto no = json::parse(R"({"a":"1","b":"y","c":"z"})").as_object();
  EXPECT_TRUE(s->matches(&yes));
  EXPECT_FALSE(s->matches(&no));
}

TEST(LabelSelector, FromJsonNamesTheMalformedField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([])", "selector"},
      {R"({"matchLabel":{}})", "selector.matchLabel"},
      {R"({"matchLabels":{"a":1}})", "selector.matchLabels.a"},
      {R"({"matchLabels":"a=b"})", "selector.matchLabels"},
      {R"({"matchExpressions":{}})", "selector.matchExpressions"},
      {R"({"matchExpressions":["a"]})", "selector.matchExpressions[0]"},
      {R"({"matchExpressions":[{"key":"","operator":"In","values":["x"]}]})", "selector.matchExpressions[0].key"},
      {R"({"matchExpressions":[{"key":"a","operator":"in","values":["x"]}]})", "selector.matchExpressions[0].operator"},
      {R"({"matchExpressions":[{"key":"a","operator":"In","values":[1]}]})", "selector.matchExpressions[0].values"},
      {R"({"matchExpressions":[{"key":"a","operator":"NotIn","values":[]}]})", "selector.matchExpressions[0].values"},
      {R"({"matchExpressions":[{"key":"a","operator":"Exists"},{"key":"b","operator":"DoesNotExist","values":["x"]}]})",
       "selector.matchExpressions[1].values"},
  };
  for (const auto& [text, field] : cases) {
    FieldError err;
    EXPECT_FALSE(label_selector_from_json(json::parse(text), "selector", err)) << text;
    EXPECT_EQ(err.field, field) << text;
    EXPECT_FALSE(err.message.empty()) << text;
  }
  FieldError err;
  auto everything = label_selector_from_json(nullptr, "selector", err);
  ASSERT_TRUE(everything);
  EXPECT_TRUE(everything->matches(nullptr));
}

TEST(LabelSelector, FromLabelMap) {
  FieldError err;
  auto s = label_map_from_json(json::parse(R"({"rack":"a","zone":"z1"})"), "labels", err);
  ASSERT_TRUE(s) << err.text();
  auto both = json::parse(R"({"rack":"a","zone":"z1","x":"y"})").as_object();
  auto one = json::parse(R"({"rack":"a"})").as_object();
  EXPECT_TRUE(s->matches(&both));
  EXPECT_FALSE(s->matches(&one));
  EXPECT_FALSE(s->matches(nullptr));
  EXPECT_TRUE(label_map_from_json(nullptr, "labels", err)->matches(nullptr));
  EXPECT_FALSE(label_map_from_json(json::parse(R"("rack=a")"), "labels", err));
  EXPECT_EQ(err.text(), "labels: must be a map of label names to values");
}

TEST(FieldSelector, MetadataNameOnly) {
  auto s = parse_field_selector("metadata.name=abc", nullptr);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->matches("abc"));
  EXPECT_FALSE(s->matches("abd"));
  auto n = parse_field_selector("metadata.name!=abc", nullptr);
  ASSERT_TRUE(n);
  EXPECT_FALSE(n->matches("abc"));
  EXPECT_FALSE(parse_field_selector("spec.hostname=x", nullptr));
}

}  // namespace
}  // namespace ironboot::kube
