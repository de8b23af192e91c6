// The embedded API's local transport (EmbeddedApiServer::local_transport) and the cluster
// service's use of it: this process's informers hear a change from the store's publish after
// its log sync, with the resourceVersions a watch gives, and hold no connection to the API.
// In a private network namespace (private_netns.hpp), as rest_test.cpp.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "common/config.hpp"
#include "kube/api_server.hpp"
#include "kube/client.hpp"
#include "kube/cluster_context.hpp"
#include "kube/cluster_service.hpp"
#include "kube/informer.hpp"
#include "kube/resource_type.hpp"
#include "kube/store.hpp"
#include "private_netns.hpp"
#include "store_fixtures.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;
namespace net = boost::asio;

using store_testing::TempDir;

template <class Pred>
bool run_until(net::io_context& io, Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return pred();
}

json::object server(const std::string& name) {
  return json::object{{"apiVersion", kApiVersion}, {"kind", "Server"}, {"metadata", json::object{{"name", name}}},
                      {"spec", json::object{{"accepted", false}}}};
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string rv_of(const json::object& o) { return std::string(o.at("metadata").at("resourceVersion").as_string()); }

class Local : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(private_netns()) << "needs CAP_SYS_ADMIN for a private network namespace";
    start_server();
  }
  void start_server() {
    cfg.listen = "127.0.0.1:16444";
    cfg.data_dir = dir.path;
    api = std::make_unique<EmbeddedApiServer>(io, cfg);
    ASSERT_EQ(api->start(), "");
    client = std::make_unique<KubeClient>(api->local_transport());
  }
  ApiReply sync(std::function<void(ReplyHandler)> op) {
    std::optional<ApiReply> out;
    op([&](ApiReply r) { out = std::move(r); });
    EXPECT_TRUE(run_until(io, [&] { return out.has_value(); }));
    return out.value_or(ApiReply{});
  }

  TempDir dir;
  EmbeddedClusterConfig cfg;
  net::io_context io;
  std::unique_ptr<EmbeddedApiServer> api;
  std::unique_ptr<KubeClient> client;
};

// Every change the informer hears is in the synced log already, and the informer's
// resourceVersions are the ones the writes were answered with.
TEST_F(Local, InformerHearsOnlyDurableChangesWithTheirResourceVersions) {
  Informer inf(io, *client, "servers");
  std::vector<std::string> seen_rvs;
  std::size_t not_yet_durable = 0;
  inf.add_handler([&](const ObjectPtr&, const ObjectPtr& now) {
    if (!now) return;
    seen_rvs.push_back(rv_of(*now));
    // The log holds the version as JSON: the text with this resourceVersion must be there.
    const std::string log = file_text(dir.path + "/store.log");
    if (log.find("\"resourceVersion\":\"" + seen_rvs.back() + "\"") == std::string::npos) ++not_yet_durable;
  });
  inf.start();
  ASSERT_TRUE(run_until(io, [&] { return inf.synced(); }));
  auto created = sync([&](auto d) { client->create("servers", server("a"), d); });
  ASSERT_EQ(created.status, 201u) << created.message;
  auto patched = sync([&](auto d) {
    client->patch("servers", "a", PatchType::Merge, json::parse(R"({"spec":{"hostname":"x"}})"), d);
  });
  ASSERT_TRUE(patched.ok()) << patched.message;
  // Published before the writer is answered: the writer's informer already has its write.
  ASSERT_NE(inf.get("a"), nullptr);
  EXPECT_EQ(inf.get("a")->at("spec").at("hostname").as_string(), "x");
  EXPECT_EQ(seen_rvs, (std::vector<std::string>{rv_of(*created.object()), rv_of(*patched.object())}));
  EXPECT_EQ(not_yet_durable, 0u);
  EXPECT_EQ(inf.resource_version(), std::to_string(api->store().resource_version()));
  EXPECT_TRUE(sync([&](auto d) { client->remove("servers", "a", d); }).ok());
  ASSERT_TRUE(run_until(io, [&] { return inf.size() == 0; }));
  EXPECT_EQ(inf.resource_version(), std::to_string(api->store().resource_version()));
}

// The stream ends at its timeout (200) and the informer resumes from its last RV, hearing
// what changed in between once; no relist.
TEST_F(Local, WatchEndsAtItsTimeoutAndResumes) {
  Informer inf(io, *client, "servers");
  inf.watch_timeout = std::chrono::seconds(1);
  inf.start();
  ASSERT_TRUE(run_until(io, [&] { return inf.synced(); }));
  ASSERT_TRUE(run_until(io, [&] { return inf.watches() >= 2; }, std::chrono::seconds(5)));
  sync([&](auto d) { client->create("servers", server("b"), d); });
  ASSERT_TRUE(run_until(io, [&] { return inf.get("b") != nullptr; }));
  EXPECT_EQ(inf.relists(), 1u);
}

// A watch from a resourceVersion older than the history is 410, as over HTTPS; a bad
// request's status and body come back as the handler answered them.
TEST_F(Local, TooOldResourceVersionIsGone) {
  sync([&](auto d) { client->create("servers", server("c"), d); });
  api->stop();
  api.reset();
  client.reset();
  start_server();  // the history starts at the loaded resourceVersion
  WatchOptions old;
  old.resource_version = "1";
  std::optional<ApiReply> end;
  auto stream = client->watch("servers", old, [](WatchEvent) {}, [&](ApiReply r) { end = std::move(r); });
  ASSERT_TRUE(run_until(io, [&] { return end.has_value(); }));
  EXPECT_EQ(end->status, 410u);
  EXPECT_EQ(end->reason, "Expired");
  auto missing = sync([&](auto d) { client->get("servers", "nope", d); });
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.reason, "NotFound");
}

// After stop(), requests end without an answer (status 0) and a running watch ends too.
TEST_F(Local, StopEndsRequestsAndWatches) {
  std::optional<ApiReply> end;
  auto stream = client->watch("servers", WatchOptions{}, [](WatchEvent) {}, [&](ApiReply r) { end = std::move(r); });
  run_until(io, [] { return false; }, std::chrono::milliseconds(50));
  api->stop();
  ASSERT_TRUE(run_until(io, [&] { return end.has_value(); }));
  EXPECT_EQ(end->status, 0u);
  EXPECT_EQ(sync([&](auto d) { client->get("servers", "x", d); }).status, 0u);
}

// The cluster service in embedded mode: its informers sync and follow the store without a
// single connection to the embedded API (over HTTPS they held one watch stream each).
TEST(ClusterServiceEmbedded, InformersUseNoConnection) {
  ASSERT_TRUE(private_netns()) << "needs CAP_SYS_ADMIN for a private network namespace";
  TempDir dir;
  net::io_context io;
  Config config;
  config.cluster.mode = ClusterMode::embedded;
  config.cluster.embedded.listen = "127.0.0.1:16444";
  config.cluster.embedded.data_dir = dir.path;
  auto service = make_cluster_service(io, config);
  ASSERT_EQ(service->start(), "");
  ClusterContext* context = service->context();
  ASSERT_NE(context, nullptr);
  ASSERT_TRUE(run_until(io, [&] { return context->synced(); }));
  std::optional<ApiReply> created;
  context->client().create("servers", server("d"), [&](ApiReply r) { created = std::move(r); });
  ASSERT_TRUE(run_until(io, [&] { return context->servers().get("d") != nullptr; }));
  ASSERT_TRUE(created && created->status == 201u);
  EXPECT_TRUE(service->idle()) << "the informers' watches hold connections to the embedded API";
  service->stop();
}

}  // namespace
}  // namespace ironboot::kube
