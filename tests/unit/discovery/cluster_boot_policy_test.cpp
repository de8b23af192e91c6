// The boot policy over the in-process cluster with its real inputs: the reconcile runner's
// memberships and the Environment cache's served copies.
#include "discovery/cluster_boot_policy.hpp"

#include "discovery/environments.hpp"
#include "discovery/reconcile_runner.hpp"
#include "fakes.hpp"
#include "in_process_cluster.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;
using Kind = BootDecision::Kind;

constexpr const char* kUuid = "4c4c4544-0042-3510-8051-b7c04f4e4d32";
constexpr const char* kMac = "52:54:00:12:34:56";

class ClusterBootPolicyTest : public testing::InProcessCluster {
 protected:
  testing::FakeClock clock{1795491532};
  std::filesystem::path root;

  void SetUp() override {
    InProcessCluster::SetUp();
    char tmpl[] = "/tmp/ironboot-policytest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
    std::filesystem::create_directories(root / "images");
    std::ofstream(root / "images/vmlinuz") << "kernel";
  }
  // file:// sources from root/images, the copies under root/data.
  EnvironmentOptions environment_options() const {
    EnvironmentOptions o;
    o.data_dir = (root / "data").string();
    o.config.local_dirs = {(root / "images").string()};
    return o;
  }
  void TearDown() override {
    InProcessCluster::TearDown();
    std::filesystem::remove_all(root);
  }

  BootQuery query(bool probe = false) const {
    BootQuery q;
    q.uuid = kUuid;
    q.mac = kMac;
    q.arch = "x86_64";
    q.probe = probe;
    return q;
  }
  void accepted_clean_server() {
    create("servers", "Server", kUuid, json::object{{"accepted", true}},
           json::object{{"isClean", true}, {"conditions", json::array{}}});
  }
};

TEST_F(ClusterBootPolicyTest, ClassEnvironmentServedOnceThenDisk) {
  EnvironmentCache environments(io, environment_options(), clock, {});
  ReconcileRunner reconciler(io, clock, {});
  ClusterBootPolicy policy(DiskBootMethod::http_404, clock, reconciler, environments);
  EXPECT_EQ(policy.decide(query()).kind, Kind::agent) << "not started: the agent";

  accepted_clean_server();
  create("serverclasses", "ServerClass", "talos-nodes",
         json::object{{"qualifiers", json::object{}}, {"environmentRef", json::object{{"name", "talos"}}}});
  create("environments", "Environment", "talos",
         json::object{{"kernel", json::object{{"url", "file://" + (root / "images/vmlinuz").string()},
                                              {"args", json::array{"talos.platform=metal"}}}}});
  environments.start(cluster);
  reconciler.start(cluster);
  policy.start(cluster);
  ASSERT_TRUE(run_until([&] { return reconciler.memberships() != nullptr; }));

  // Ready in the API is not enough: until this process has the files, the agent waits. The
  // fetch runs on a worker and may already have ended here; its result is applied on this
  // thread, so nothing changes between the check and the decision.
  if (environments.asset_path("talos", true).empty()) {
    EXPECT_EQ(policy.decide_for_server(in(cluster.servers(), kUuid)).kind, Kind::agent);
  }
  ASSERT_TRUE(run_until([&] { return !environments.asset_path("talos", true).empty(); }));
  // The fetch runs on a worker and may end before the class reconcile lists the Server.
  ASSERT_TRUE(run_until([&] { return policy.decide(query(true)).kind == Kind::environment; }));
  run_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(objects::find_condition(*in(cluster.servers(), kUuid), "PXEBooted")) << "a probe records nothing";

  const BootDecision boot = policy.decide(query());
  ASSERT_EQ(boot.kind, Kind::environment) << boot.reason;
  EXPECT_EQ(boot.environment_name, "talos");
  EXPECT_EQ(boot.environment.kernel_url, "/assets/environments/talos/kernel");
  EXPECT_EQ(boot.environment.initrd_url, "");
  EXPECT_EQ(boot.environment.args, std::vector<std::string>{"talos.platform=metal"});
  run_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(objects::find_condition(*in(cluster.servers(), kUuid), "PXEBooted"))
      << "asking /ipxe records nothing: anyone may";
  EXPECT_EQ(policy.decide(query()).kind, Kind::environment) << "still to be booted";

  // The machine fetches the kernel with the script's ticket: that is the boot.
  EXPECT_FALSE(policy.kernel_fetched(kUuid, kMac, "other", "10.0.0.50")) << "a ticket for another Environment";
  EXPECT_FALSE(policy.kernel_fetched("4c4c4544-0042-3510-8051-b7c04f4e4d33", kMac, "talos", "10.0.0.50"));
  EXPECT_TRUE(policy.kernel_fetched(kUuid, kMac, "talos", "10.0.0.50"));
  ASSERT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "PXEBooted"); }));

  const BootDecision next = policy.decide(query());
  EXPECT_EQ(next.kind, Kind::disk);
  EXPECT_EQ(next.disk_method, DiskBootMethod::http_404) << "the configured default";
  EXPECT_EQ(next.reason, "already booted environment talos");

  // Events: one per real boot, none for the probe or decide_for_server.
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "BootFromDisk"); }));
  EXPECT_EQ(reasons_for(kUuid), (std::vector<std::string>{"BootEnvironment", "BootFromDisk"}));
  EXPECT_EQ(events_for(kUuid, "BootEnvironment")[0].at("message"), "environment talos kernel fetched from 10.0.0.50");
  EXPECT_EQ(events_for(kUuid, "BootEnvironment")[0].at("count"), 1);
  EXPECT_EQ(events_for(kUuid, "BootFromDisk")[0].at("message"), "boot from disk, method http-404");
}

TEST_F(ClusterBootPolicyTest, ABootLoopIsOneEventWithACount) {
  EnvironmentCache environments(io, environment_options(), clock, {});
  ReconcileRunner reconciler(io, clock, {});
  ClusterBootPolicy policy(DiskBootMethod::ipxe_exit, clock, reconciler, environments);
  accepted_clean_server();
  reconciler.start(cluster);
  policy.start(cluster);
  ASSERT_TRUE(run_until([&] { return reconciler.memberships() != nullptr; }));
  for (int i = 0; i < 500; ++i) ASSERT_EQ(policy.decide(query()).kind, Kind::disk);
  run_for(std::chrono::milliseconds(200));
  const auto events = events_for(kUuid, "BootFromDisk");
  ASSERT_EQ(events.size(), 1u);
  // The rate limit lets the first 25 through (1 create + bumps), then 1 per 5 minutes.
  EXPECT_LE(api_events->patches, 24u);
  EXPECT_GE(events[0].at("count").as_int64(), 2);
}

TEST_F(ClusterBootPolicyTest, AmbiguousClassesAreRecordedOnTheServer) {
  EnvironmentCache environments(io, environment_options(), clock, {});
  ReconcileRunner reconciler(io, clock, {});
  ClusterBootPolicy policy(DiskBootMethod::ipxe_exit, clock, reconciler, environments);
  accepted_clean_server();
  for (const char* name : {"a", "b"})
    create("serverclasses", "ServerClass", name,
           json::object{{"qualifiers", json::object{}}, {"environmentRef", json::object{{"name", name}}}});
  reconciler.start(cluster);
  policy.start(cluster);
  ASSERT_TRUE(run_until([&] { return reconciler.memberships() != nullptr; }));
  const BootDecision d = policy.decide(query());
  EXPECT_EQ(d.kind, Kind::agent);
  EXPECT_EQ(d.reason, "ambiguous classes a, b");
  EXPECT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "AmbiguousClass"); }));
}

}  // namespace
}  // namespace ironboot::discovery
