#include "serverclass/reconciler.hpp"

#include "kube/objects.hpp"
#include "yaml_json.hpp"

#include <gtest/gtest.h>

namespace ironboot::serverclass {
namespace {

using testing::yaml_object;
namespace json = boost::json;

json::object server(const std::string& name, bool accepted, bool cordoned, bool in_use, const std::string& maker) {
  return yaml_object("metadata: {name: " + name + "}\nspec: {accepted: " + (accepted ? "true" : "false") +
                     ", cordoned: " + (cordoned ? "true" : "false") + ", hardware: {system: {manufacturer: \"" +
                     maker + "\"}}}\nstatus: {inUse: " + (in_use ? "true" : "false") + "}\n");
}

std::vector<const json::object*> ptrs(const std::vector<json::object>& v) {
  std::vector<const json::object*> out;
  for (const auto& o : v) out.push_back(&o);
  return out;
}

TEST(Reconciler, ListsOnlyAcceptedUncordonedSortedAndSplitsInUse) {
  const std::vector<json::object> servers = {
      server("c", true, false, false, "Dell Inc."),  server("a", true, false, true, "Dell Inc."),
      server("b", true, false, false, "Dell Inc."),  server("d", false, false, false, "Dell Inc."),
      server("e", true, true, false, "Dell Inc."),   server("f", true, false, false, "HPE"),
  };
  const std::vector<json::object> classes = {
      yaml_object("metadata: {name: dell}\nspec: {qualifiers: {systemInformation: [{manufacturer: Dell}]}}\n"),
      make_any_server_class(),
      yaml_object("metadata: {name: broken}\nspec: {qualifiers: {cpu: [{version: \"(\"}]}}\n"),
  };
  MatcherCache cache;
  const auto statuses = reconcile(ptrs(servers), ptrs(classes), cache);
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_EQ(statuses[0].name, "dell");
  EXPECT_EQ(statuses[0].servers_available, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(statuses[0].servers_in_use, (std::vector<std::string>{"a"}));
  EXPECT_FALSE(statuses[0].error);
  EXPECT_EQ(statuses[1].name, "any");
  EXPECT_EQ(statuses[1].servers_available, (std::vector<std::string>{"b", "c", "f"}));
  EXPECT_EQ(statuses[1].servers_in_use, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(statuses[2].error);
  EXPECT_TRUE(statuses[2].servers_available.empty());

  EXPECT_EQ(classes_of("a", statuses), (std::vector<std::string>{"dell", "any"}));
  EXPECT_EQ(classes_of("f", statuses), (std::vector<std::string>{"any"}));
  EXPECT_TRUE(classes_of("d", statuses).empty());
  EXPECT_EQ(cache.size(), 3u);
}

TEST(Reconciler, AnyClassIsCreatedWhenMissing) {
  std::vector<json::object> classes = {yaml_object("metadata: {name: dell}\nspec: {}\n")};
  EXPECT_FALSE(has_any_class(ptrs(classes)));
  const auto any = make_any_server_class();
  EXPECT_EQ(objects::name_of(any), "any");
  EXPECT_EQ(any.at("apiVersion"), "metal.sidero.dev/v1alpha2");
  EXPECT_EQ(any.at("kind"), "ServerClass");
  classes.push_back(any);
  EXPECT_TRUE(has_any_class(ptrs(classes)));
}

TEST(Reconciler, StatusPatchOnlyWhenChanged) {
  const std::vector<json::object> servers = {server("b", true, false, false, "Dell Inc."),
                                             server("a", true, false, false, "Dell Inc.")};
  auto cls = yaml_object("metadata: {name: dell}\nspec: {qualifiers: {systemInformation: [{manufacturer: Dell}]}}\n");
  MatcherCache cache;
  auto statuses = reconcile(ptrs(servers), {&cls}, cache);
  const auto patch = status_patch(cls, statuses[0], "2026-11-24T04:00:00Z");
  ASSERT_TRUE(patch);
  const auto& st = patch->at("status").as_object();
  EXPECT_EQ(st.at("serversAvailable"), (json::array{"a", "b"}));
  EXPECT_EQ(st.at("serversInUse"), json::array{});
  const auto& cond = st.at("conditions").as_array().at(0).as_object();
  EXPECT_EQ(cond.at("type"), "Ready");
  EXPECT_EQ(cond.at("status"), "True");

  // Apply it and ask again: nothing to write.
  cls["status"] = st;
  EXPECT_FALSE(status_patch(cls, statuses[0], "2026-11-24T04:01:00Z"));

  // The class becomes invalid: it lists nobody and says why.
  cls["spec"].as_object()["qualifiers"].as_object()["systemInformation"].as_array()[0].as_object()["manufacturer"] =
      "Dell[";
  cls["metadata"].as_object()["generation"] = 2;
  statuses = reconcile(ptrs(servers), {&cls}, cache);
  const auto bad = status_patch(cls, statuses[0], "2026-11-24T04:02:00Z");
  ASSERT_TRUE(bad);
  const auto& bst = bad->at("status").as_object();
  EXPECT_EQ(bst.at("serversAvailable"), json::array{});
  const auto& bcond = bst.at("conditions").as_array().at(0).as_object();
  EXPECT_EQ(bcond.at("status"), "False");
  EXPECT_EQ(bcond.at("reason"), "InvalidQualifiers");
  EXPECT_NE(std::string(bcond.at("message").as_string()).find("spec.qualifiers.systemInformation[0].manufacturer: "
                                                               "invalid regular expression: missing ]"),
            std::string::npos)
      << bcond.at("message");
  EXPECT_EQ(bcond.at("lastTransitionTime"), "2026-11-24T04:02:00Z");
}

}  // namespace
}  // namespace ironboot::serverclass
