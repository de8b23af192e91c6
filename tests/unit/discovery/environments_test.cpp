// The Environment cache over the in-process cluster: sources fetched under the rules (local
// dirs, sha512, size, quota), served only when Ready, the outcome written as the Ready
// condition and an Event; re-verified at start, cancelled at stop without a join.
#include "discovery/environments.hpp"

#include "fakes.hpp"
#include "fetch_test_server.hpp"
#include "in_process_cluster.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;

using testing::sha512_hex;

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
    std::filesystem::create_directories(root / "images");
    std::filesystem::create_directories(root / "data");
    std::ofstream(root / "images/vmlinuz", std::ios::binary) << kernel;
    std::ofstream(root / "images/initramfs.xz", std::ios::binary) << initrd;
  }
  EnvironmentOptions options() const {
    EnvironmentOptions o;
    o.data_dir = (root / "data").string();
    o.config.local_dirs = {(root / "images").string()};
    return o;
  }
  void TearDown() override {
    InProcessCluster::TearDown();
    std::filesystem::remove_all(root);
  }

  json::object spec(const std::string& kernel_sha512) const {
    return json::object{
        {"kernel", json::object{{"url", "file://" + (root / "images/vmlinuz").string()},
                                {"sha512", kernel_sha512},
                                {"args", json::array{"console=ttyS0"}}}},
        {"initrd", json::object{{"url", "file://" + (root / "images/initramfs.xz").string()}, {"sha512", sha512_hex(initrd)}}}};
  }
  // The Ready condition's reason once the Environment has one ("" before).
  std::string ready_reason(const std::string& name) { return ready_field(name, "reason"); }
  std::string ready_field(const std::string& name, std::string_view field) {
    const auto* env = in(cluster.environments(), name);
    const auto* ready = env ? objects::find_condition(*env, "Ready") : nullptr;
    return ready ? std::string(objects::string_at(*ready, field)) : std::string();
  }
  static json::object kernel_only(const std::string& url, const std::string& sha512 = {}) {
    json::object kernel{{"url", url}};
    if (!sha512.empty()) kernel["sha512"] = sha512;
    return json::object{{"kernel", std::move(kernel)}};
  }
  http::Response get(const http::Router& router, const std::string& path) {
    http::Request r;
    r.method = "GET";
    r.path = r.target = path;
    return router.handle(r);
  }
};

TEST_F(EnvironmentCacheTest, FileSourcesWithSha512BecomeReadyAndAreServed) {
  EnvironmentCache cache(io, options(), clock, [&] { ++changes; });
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
  EnvironmentCache cache(io, options(), clock, {});
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
  // The copy goes with it (it counted against the quota).
  EXPECT_TRUE(run_until([&] { return !std::filesystem::exists(root / "data/environments/bad"); }));
}

// Issue #12: a kernel URL naming the appliance's own token key became Ready and was served
// without authentication.
TEST_F(EnvironmentCacheTest, TheDataDirIsNeverASource) {
  std::ofstream(root / "data/agent-token.key") << "the token key";
  ::chmod((root / "data/agent-token.key").c_str(), 0600);
  for (const bool with_local_dirs : {false, true}) {
    SCOPED_TRACE(with_local_dirs);
    EnvironmentOptions o = options();
    if (!with_local_dirs) o.config.local_dirs.clear();
    else o.config.local_dirs.push_back((root / "data").string());  // config refuses it; the fetch too
    EnvironmentCache cache(io, o, clock, {});
    http::Router router;
    cache.register_routes(router);
    cache.start(cluster);
    const std::string name = with_local_dirs ? "steal2" : "steal";
    create("environments", "Environment", name, kernel_only("file://" + (root / "data/agent-token.key").string()));
    ASSERT_TRUE(run_until([&] { return !ready_reason(name).empty(); }));
    EXPECT_EQ(ready_reason(name), "LocalFileNotAllowed");
    EXPECT_EQ(ready_field(name, "status"), "False");
    EXPECT_NE(ready_field(name, "message").find("kernel: "), std::string::npos);
    EXPECT_EQ(get(router, "/assets/environments/" + name + "/kernel").status, 404);
    EXPECT_FALSE(std::filesystem::exists(root / "data/environments" / name / "kernel"));
    ASSERT_TRUE(run_until([&] { return has_event(name, "EnvironmentFetchFailed"); }));
  }
}

TEST_F(EnvironmentCacheTest, AHardLinkInALocalDirIsRefusedWithItsReason) {
  std::ofstream(root / "data/agent-token.key") << "the token key";
  std::filesystem::create_hard_link(root / "data/agent-token.key", root / "images/innocent");
  EnvironmentCache cache(io, options(), clock, {});
  http::Router router;
  cache.register_routes(router);
  cache.start(cluster);
  create("environments", "Environment", "linked", kernel_only("file://" + (root / "images/innocent").string()));
  ASSERT_TRUE(run_until([&] { return !ready_reason("linked").empty(); }));
  EXPECT_EQ(ready_reason("linked"), "LocalFileNotAllowed");
  EXPECT_EQ(ready_field("linked", "status"), "False");
  EXPECT_NE(ready_field("linked", "message").find("hard links"), std::string::npos) << ready_field("linked", "message");
  EXPECT_EQ(get(router, "/assets/environments/linked/kernel").status, 404);
}

TEST_F(EnvironmentCacheTest, FileUrlsOutsideTheLocalDirsAndUnverifiedHttpAreRefused) {
  EnvironmentCache cache(io, options(), clock, {});
  cache.start(cluster);
  std::ofstream(root / "elsewhere") << kernel;
  create("environments", "Environment", "outside", kernel_only("file://" + (root / "elsewhere").string()));
  create("environments", "Environment", "plain", kernel_only("http://127.0.0.1:9/vmlinuz"));
  create("environments", "Environment", "ftp", kernel_only("ftp://127.0.0.1/vmlinuz", sha512_hex(kernel)));
  ASSERT_TRUE(run_until([&] {
    return !ready_reason("outside").empty() && !ready_reason("plain").empty() && !ready_reason("ftp").empty();
  }));
  EXPECT_EQ(ready_reason("outside"), "LocalFileNotAllowed");
  EXPECT_EQ(ready_reason("plain"), "ChecksumRequired");
  EXPECT_EQ(ready_reason("ftp"), "UnsupportedScheme");
}

TEST_F(EnvironmentCacheTest, AllowUnverifiedFetchesHttpWithoutSha512) {
  testing::FetchTestServer server;
  server.route("/vmlinuz", testing::FetchTestServer::reply(200, kernel));
  EnvironmentOptions o = options();
  o.config.allow_unverified = true;
  EnvironmentCache cache(io, o, clock, {});
  cache.start(cluster);
  create("environments", "Environment", "plain",
         kernel_only("http://127.0.0.1:" + std::to_string(server.port()) + "/vmlinuz"));
  ASSERT_TRUE(run_until([&] { return condition(cluster.environments(), "plain", "Ready"); }));
}

TEST_F(EnvironmentCacheTest, OversizeFileAndQuota) {
  EnvironmentOptions o = options();
  o.config.max_file_bytes = 8192;
  o.config.quota_bytes = 8192;
  EnvironmentCache cache(io, o, clock, {});
  cache.start(cluster);
  std::ofstream(root / "images/huge", std::ios::binary) << std::string(8193, 'h');
  create("environments", "Environment", "huge", kernel_only("file://" + (root / "images/huge").string()));
  ASSERT_TRUE(run_until([&] { return !ready_reason("huge").empty(); }));
  EXPECT_EQ(ready_reason("huge"), "FileTooLarge");

  create("environments", "Environment", "first", spec(sha512_hex(kernel)));  // 4 KiB + 13 bytes
  ASSERT_TRUE(run_until([&] { return condition(cluster.environments(), "first", "Ready"); }));
  create("environments", "Environment", "second", spec(sha512_hex(kernel)));
  ASSERT_TRUE(run_until([&] { return !ready_reason("second").empty(); }));
  EXPECT_EQ(ready_reason("second"), "QuotaExceeded");
  EXPECT_FALSE(std::filesystem::exists(root / "data/environments/second/kernel"));
  EXPECT_FALSE(std::filesystem::exists(root / "data/environments/second/initrd"));
}

TEST_F(EnvironmentCacheTest, CachedCopiesAreReverifiedAtStart) {
  const auto copy = root / "data/environments/talos/kernel";
  // A rewrite shows in the modification time (nanoseconds); inode numbers are reused.
  auto written_at = [&] {
    struct stat st {};
    ::stat(copy.c_str(), &st);
    return std::pair(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  };
  // https:// needs no sha512, so the digest recorded at fetch time is what a restart checks:
  // the spec here has none for the kernel either.
  json::object no_kernel_sha = spec("");
  no_kernel_sha["kernel"].as_object().erase("sha512");
  {
    EnvironmentCache cache(io, options(), clock, {});
    cache.start(cluster);
    create("environments", "Environment", "talos", no_kernel_sha);
    ASSERT_TRUE(run_until([&] { return condition(cluster.environments(), "talos", "Ready"); }));
  }
  const auto first = written_at();
  {
    EnvironmentCache cache(io, options(), clock, {});
    cache.start(cluster);
    ASSERT_TRUE(run_until([&] { return cache.asset_path("talos", true) != ""; }));
  }
  EXPECT_EQ(written_at(), first) << "an intact copy is kept";
  {
    std::fstream tamper(copy, std::ios::in | std::ios::out | std::ios::binary);
    tamper.seekp(0);
    tamper << "X";
  }
  EnvironmentCache cache(io, options(), clock, {});
  cache.start(cluster);
  ASSERT_TRUE(run_until([&] { return cache.asset_path("talos", true) != ""; }));
  std::ifstream in(copy, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), kernel) << "a copy that differs is fetched again";
}

TEST_F(EnvironmentCacheTest, StopEndsAStalledFetchWithinASecondAndASpecChangeRestartsIt) {
  testing::FetchTestServer server;
  testing::FetchTestServer::Reply stall;
  stall.body = kernel;
  stall.stall_before_body = true;
  server.route("/stall", stall);
  const std::string stalled = "http://127.0.0.1:" + std::to_string(server.port()) + "/stall";
  EnvironmentCache cache(io, options(), clock, {});
  cache.start(cluster);
  create("environments", "Environment", "slow", kernel_only(stalled, sha512_hex(kernel)));
  ASSERT_TRUE(run_until([&] { return server.requests() == 1; }));
  EXPECT_EQ(cache.workers(), 1);
  // A spec change cancels the running job; the next one starts when it has ended.
  merge("environments", "slow", json::object{{"spec", spec(sha512_hex(kernel))}});
  ASSERT_TRUE(run_until([&] { return condition(cluster.environments(), "slow", "Ready"); }));
  EXPECT_EQ(cache.workers(), 0);

  create("environments", "Environment", "stuck", kernel_only(stalled, sha512_hex(kernel)));
  ASSERT_TRUE(run_until([&] { return server.requests() == 2; }));
  const auto start = std::chrono::steady_clock::now();
  cache.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(cache.workers(), 0);
  EXPECT_EQ(cache.asset_path("stuck", true), "");
}

}  // namespace
}  // namespace ironboot::discovery
