// The ServerClass status runner over the in-process cluster.
#include "discovery/reconcile_runner.hpp"

#include "fakes.hpp"
#include "in_process_cluster.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;

json::object server_spec(bool accepted, const std::string& manufacturer) {
  return json::object{{"accepted", accepted},
                      {"hardware", json::object{{"system", json::object{{"manufacturer", manufacturer}}}}}};
}

json::array names(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& n : v) a.emplace_back(n);
  return a;
}

class ReconcileRunnerTest : public testing::InProcessCluster {
 protected:
  testing::FakeClock clock{1795491532};

  // The class's status.<list> in the cache (null when there is none yet).
  const json::value* status_list(const std::string& name, const char* list) {
    const auto* c = in(cluster.serverclasses(), name);
    const auto* status = c ? objects::status_of(*c) : nullptr;
    return status ? status->if_contains(list) : nullptr;
  }
  bool lists(const std::string& name, const std::vector<std::string>& available) {
    const auto* v = status_list(name, "serversAvailable");
    return v && *v == json::value(names(available));
  }
};

TEST_F(ReconcileRunnerTest, WritesEachClassStatusAndCreatesAny) {
  create("servers", "Server", "s1", server_spec(true, "Dell Inc."));
  create("servers", "Server", "s2", server_spec(false, "Dell Inc."));
  create("servers", "Server", "s3", server_spec(true, "HPE"));
  create("serverclasses", "ServerClass", "dell",
         json::object{{"qualifiers", json::parse(R"({"systemInformation":[{"manufacturer":"Dell"}]})")}});
  ASSERT_TRUE(run_until([&] { return cluster.servers().size() == 3 && in(cluster.serverclasses(), "dell"); }));

  int reconciled = 0;
  ReconcileRunner runner(io, clock, [&] { ++reconciled; });
  EXPECT_EQ(runner.memberships(), nullptr);
  runner.start(cluster);
  ASSERT_TRUE(run_until([&] { return lists("dell", {"s1"}) && lists("any", {"s1", "s3"}); }));
  EXPECT_GE(reconciled, 1);
  ASSERT_NE(runner.memberships(), nullptr);
  EXPECT_TRUE(condition(cluster.serverclasses(), "dell", "Ready"));
  const auto* status = objects::status_of(*in(cluster.serverclasses(), "dell"));
  EXPECT_EQ(status->at("serversInUse"), json::array{});

  // Accepting a Server is a Server event: the next reconcile lists it.
  merge("servers", "s2", json::object{{"spec", json::object{{"accepted", true}}}});
  EXPECT_TRUE(run_until([&] { return lists("dell", {"s1", "s2"}) && lists("any", {"s1", "s2", "s3"}); }));

  // A class whose qualifier does not compile lists nobody and says why.
  create("serverclasses", "ServerClass", "broken",
         json::object{{"qualifiers", json::parse(R"({"cpu":[{"version":"("}]})")}});
  ASSERT_TRUE(run_until([&] {
    const auto* c = in(cluster.serverclasses(), "broken");
    return c && objects::find_condition(*c, "Ready") && !objects::condition_is_true(*c, "Ready");
  }));
  EXPECT_TRUE(lists("broken", {}));
}

// A walk parses and matches only the Servers that changed since the last one, and all of
// them again when a class changed.
TEST_F(ReconcileRunnerTest, OnlyChangedServersAreMatchedAgain) {
  create("servers", "Server", "s1", server_spec(true, "Dell Inc."));
  create("servers", "Server", "s2", server_spec(true, "HPE"));
  create("servers", "Server", "s3", server_spec(true, "Dell Inc."));
  create("serverclasses", "ServerClass", "dell",
         json::object{{"qualifiers", json::parse(R"({"systemInformation":[{"manufacturer":"Dell"}]})")}});
  ASSERT_TRUE(run_until([&] { return cluster.servers().size() == 3 && in(cluster.serverclasses(), "dell"); }));
  ReconcileRunner runner(io, clock, {});
  runner.start(cluster);
  ASSERT_TRUE(run_until([&] { return lists("dell", {"s1", "s3"}) && lists("any", {"s1", "s2", "s3"}); }));
  run_for(std::chrono::milliseconds(100));
  const auto first = runner.placements();

  // s2 becomes a Dell: only s2 is matched again, and the lists follow.
  merge("servers", "s2", json::object{{"spec", server_spec(true, "Dell EMC")}});
  ASSERT_TRUE(run_until([&] { return lists("dell", {"s1", "s2", "s3"}); }));
  run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(runner.placements(), first + 1);

  // A class changes: every Server is matched again against it.
  merge("serverclasses", "dell",
        json::object{{"spec", json::object{{"qualifiers", json::parse(R"({"systemInformation":[{"manufacturer":"EMC"}]})")}}}});
  ASSERT_TRUE(run_until([&] { return lists("dell", {"s2"}); }));
  run_for(std::chrono::milliseconds(100));
  EXPECT_GE(runner.placements(), first + 1 + 3);
  EXPECT_TRUE(lists("any", {"s1", "s2", "s3"}));

  // Un-accepted: it leaves every class.
  merge("servers", "s2", json::object{{"spec", json::object{{"accepted", false}}}});
  EXPECT_TRUE(run_until([&] { return lists("dell", {}) && lists("any", {"s1", "s3"}); }));

  // Deleted, first and last in name order: they leave every class; a new one joins.
  for (const char* name : {"s1", "s3"}) {
    auto r = call([&](auto done) { cluster.client().remove("servers", name, done); });
    ASSERT_TRUE(r.ok()) << r.message;
  }
  create("servers", "Server", "s4", server_spec(true, "HPE"));
  EXPECT_TRUE(run_until([&] { return lists("any", {"s4"}); }));
  merge("servers", "s2", json::object{{"spec", json::object{{"accepted", true}}}});
  EXPECT_TRUE(run_until([&] { return lists("any", {"s2", "s4"}) && lists("dell", {"s2"}); }));
}

TEST_F(ReconcileRunnerTest, StoppedRunnerWritesNothing) {
  create("servers", "Server", "s1", server_spec(true, "Dell Inc."));
  ReconcileRunner runner(io, clock, {});
  runner.stop();
  runner.start(cluster);
  run_for(std::chrono::milliseconds(300));
  EXPECT_EQ(in(cluster.serverclasses(), "any"), nullptr);
  EXPECT_EQ(runner.memberships(), nullptr);
}

}  // namespace
}  // namespace ironboot::discovery
