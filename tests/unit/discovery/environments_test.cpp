// The Environment cache over the in-process cluster: file:// sources fetched, sha512-checked,
// served, and the outcome written as the Environment's Ready condition.
#include "discovery/environments.hpp"

#include "fakes.hpp"
#include "in_process_cluster.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;

std::string sha512_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha512(), nullptr);
  std::string hex;
  char byte[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", md[i]);
    hex += byte;
  }
  return hex;
}

class EnvironmentCacheTest : public testing::InProcessCluster {
 protected:
  testing::FakeClock clock{1795491532};
  std::filesystem::path root;
  const std::string kernel = "kernel image\n";
  const std::string initrd = std::string(4096, 'i');
  int changes = 0;

  void SetUp() override {
    InProcessCluster::SetUp();
    char tmpl[] = "/tmp/ironboot-envtest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
    std::ofstream(root / "vmlinuz", std::ios::binary) << kernel;
    std::ofstream(root / "initramfs.xz", std::ios::binary) << initrd;
  }
  void TearDown() override {
    InProcessCluster::TearDown();
    std::filesystem::remove_all(root);
  }

  json::object spec(const std::string& kernel_sha512) const {
    return json::object{
        {"kernel", json::object{{"url", "file://" + (root / "vmlinuz").string()},
                                {"sha512", kernel_sha512},
                                {"args", json::array{"console=ttyS0"}}}},
        {"initrd", json::object{{"url", "file://" + (root / "initramfs.xz").string()}, {"sha512", sha512_hex(initrd)}}}};
  }
  // The Ready condition's reason once the Environment has one ("" before).
  std::string ready_reason(const std::string& name) {
    const auto* env = in(cluster.environments(), name);
    const auto* ready = env ? objects::find_condition(*env, "Ready") : nullptr;
    return ready ? std::string(objects::string_at(*ready, "reason")) : std::string();
  }
  http::Response get(const http::Router& router, const std::string& path) {
    http::Request r;
    r.method = "GET";
    r.path = r.target = path;
    return router.handle(r);
  }
};

TEST_F(EnvironmentCacheTest, FileSourcesWithSha512BecomeReadyAndAreServed) {
  EnvironmentCache cache(io, (root / "data").string(), clock, [&] { ++changes; });
  http::Router router;
  cache.register_routes(router);
  cache.start(cluster);
  create("environments", "Environment", "talos", spec(sha512_hex(kernel)));

  ASSERT_TRUE(run_until([&] { return condition(cluster.environments(), "talos", "Ready"); }));
  EXPECT_EQ(ready_reason("talos"), "Fetched");
  EXPECT_GE(changes, 1);
  EXPECT_EQ(cache.asset_path("talos", true), "/assets/environments/talos/kernel");
  EXPECT_EQ(cache.asset_path("talos", false), "/assets/environments/talos/initrd");
  std::ifstream copy(root / "data/environments/talos/kernel", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(copy), {}), kernel);

  const auto served = get(router, "/assets/environments/talos/initrd");
  EXPECT_EQ(served.status, 200);
  ASSERT_TRUE(served.file);
  EXPECT_EQ(served.file->length, initrd.size());
  EXPECT_EQ(get(router, "/assets/environments/talos/other").status, 404);
  EXPECT_EQ(get(router, "/assets/environments/ubuntu/kernel").status, 404);
}

TEST_F(EnvironmentCacheTest, ChecksumMismatchIsNotReadyAndNotServed) {
  EnvironmentCache cache(io, (root / "data").string(), clock, {});
  http::Router router;
  cache.register_routes(router);
  create("environments", "Environment", "bad", spec(sha512_hex("another kernel")));
  cache.start(cluster);  // already in the cache: fetched at start
  ASSERT_TRUE(run_until([&] { return !ready_reason("bad").empty(); }));
  EXPECT_EQ(ready_reason("bad"), "ChecksumMismatch");
  EXPECT_FALSE(condition(cluster.environments(), "bad", "Ready"));
  EXPECT_EQ(cache.asset_path("bad", true), "");
  EXPECT_EQ(get(router, "/assets/environments/bad/kernel").status, 404);
  ASSERT_TRUE(run_until([&] { return has_event("bad", "EnvironmentFetchFailed"); }));
  const auto failed = events_for("bad", "EnvironmentFetchFailed")[0];
  EXPECT_EQ(failed.at("type"), "Warning");
  EXPECT_EQ(failed.at("involvedObject").at("kind"), "Environment");
  EXPECT_EQ(failed.at("involvedObject").at("uid"), in(cluster.environments(), "bad")->at("metadata").at("uid"));
  EXPECT_EQ(std::string(failed.at("message").as_string()).rfind("ChecksumMismatch: ", 0), 0u);

  // Fixing the checksum refetches; deleting forgets it.
  merge("environments", "bad", json::object{{"spec", json::object{{"kernel", json::object{{"sha512", sha512_hex(kernel)}}}}}});
  ASSERT_TRUE(run_until([&] { return condition(cluster.environments(), "bad", "Ready"); }));
  EXPECT_EQ(cache.asset_path("bad", true), "/assets/environments/bad/kernel");
  ASSERT_TRUE(call([&](auto done) { cluster.client().remove("environments", "bad", done); }).ok());
  ASSERT_TRUE(run_until([&] { return in(cluster.environments(), "bad") == nullptr; }));
  EXPECT_EQ(cache.asset_path("bad", true), "");
}

}  // namespace
}  // namespace ironboot::discovery
