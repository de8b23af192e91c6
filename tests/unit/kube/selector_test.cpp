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
  auto s = label_selector_from_json(o, nullptr);
  ASSERT_TRUE(s);
  auto yes = json::parse(R"({"a":"1","b":"y"})").as_object();
  auto no = json::parse(R"({"a":"1","b":"y","c":"z"})").as_object();
  EXPECT_TRUE(s->matches(&yes));
  EXPECT_FALSE(s->matches(&no));
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
