#include "kube/exec_plugin.hpp"
#include "kube/kubeconfig.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>

#include "common/base64.hpp"

namespace ironboot::kube {
namespace {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/kube-cfg-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    std::ofstream(path + "/" + name) << text;
    ::chmod((path + "/" + name).c_str(), mode);
  }
  std::string path;
};

TEST(Kubeconfig, CurrentContextWithFilesRelativeToTheKubeconfig) {
  TempDir d;
  d.write("ca.pem", "CA-PEM");
  d.write("tok", "secret-token\n");
  d.write("config", R"(apiVersion: v1
kind: Config
current-context: b
contexts:
- name: a
  context: {cluster: one, user: u1}
- name: b
  context: {cluster: two, user: u2, namespace: sidero-system}
clusters:
- name: one
  cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}
- name: two
  cluster: {server: "https://[fd00::1]:8443", certificate-authority: ca.pem, tls-server-name: api.example}
users:
- name: u1
  user: {token: abc}
- name: u2
  user: {tokenFile: tok}
)");
  std::string err;
  auto c = load_kubeconfig(d.path + "/config", &err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->host, "fd00::1");
  EXPECT_EQ(c->port, "8443");
  EXPECT_EQ(c->ca_pem, "CA-PEM");
  EXPECT_EQ(c->tls_server_name, "api.example");
  EXPECT_EQ(c->token_file, d.path + "/tok");
  EXPECT_EQ(c->namespace_, "sidero-system");
  EXPECT_FALSE(c->insecure_skip_verify);
}

TEST(Kubeconfig, DataFieldsAndErrors) {
  const std::string text = "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                           "clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority-data: " +
                           base64_encode("PEM") + "}}]\nusers: [{name: u, user: {client-certificate-data: " +
                           base64_encode("CERT") + ", client-key-data: " + base64_encode("KEY") + "}}]\n";
  std::string err;
  auto c = parse_kubeconfig(text, "", &err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->ca_pem, "PEM");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_FALSE(parse_kubeconfig("current-context: nope\ncontexts: []\n", "", &err));
  EXPECT_NE(err.find("current-context"), std::string::npos);
  EXPECT_FALSE(parse_kubeconfig("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
                                "clusters: [{name: c, cluster: {server: 'http://h:1'}}]\n", "", &err));
  EXPECT_NE(err.find("https"), std::string::npos);
}

TEST(Kubeconfig, KubeconfigEnvListFirstFileWins) {
  TempDir d;
  d.write("a", "current-context: first\nusers: [{name: u, user: {token: from-a}}]\n");
  d.write("b", "current-context: second\ncontexts: [{name: first, context: {cluster: c, user: u}}]\n"
               "clusters: [{name: c, cluster: {server: 'https://h:6443', insecure-skip-tls-verify: true}}]\n"
               "users: [{name: u, user: {token: from-b}}]\n");
  ::setenv("KUBECONFIG", (d.path + "/a:" + d.path + "/missing:" + d.path + "/b").c_str(), 1);
  std::string err;
  auto c = load_kubeconfig("", &err);
  ::unsetenv("KUBECONFIG");
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->token, "from-a");
  EXPECT_TRUE(c->insecure_skip_verify);
}

// Runs the plugin to completion on `io`, counting how often a 10 ms timer ticked meanwhile.
struct PluginRun {
  std::optional<ExecCredential> credential;
  std::string error;
  int ticks = 0;
};
PluginRun run_plugin(const ExecPlugin& p, std::chrono::milliseconds timeout) {
  boost::asio::io_context io;
  PluginRun out;
  bool done = false;
  run_exec_plugin_async(io, p, timeout, [&](std::optional<ExecCredential> c, std::string e) {
    out.credential = std::move(c);
    out.error = std::move(e);
    done = true;
  });
  boost::asio::steady_timer tick(io);
  std::function<void()> arm = [&] {
    tick.expires_after(std::chrono::milliseconds(10));
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (ec || done) return;
      ++out.ticks;
      arm();
    });
  };
  arm();
  io.run_for(std::chrono::seconds(20));
  EXPECT_TRUE(done);
  return out;
}

TEST(Kubeconfig, ExecPluginCredentials) {
  TempDir d;
  d.write("plugin.sh",
          "#!/bin/sh\necho \"$KUBERNETES_EXEC_INFO\" > \"$(dirname $0)/info\"\n"
          "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
          "\"status\":{\"token\":\"'$1'\",\"expirationTimestamp\":\"2030-01-01T00:00:00Z\"}}'\n",
          0700);
  ExecPlugin p;
  p.command = d.path + "/plugin.sh";
  p.args = {"tok-1"};
  auto run = run_plugin(p, std::chrono::seconds(10));
  ASSERT_TRUE(run.credential) << run.error;
  EXPECT_EQ(run.credential->token, "tok-1");
  ASSERT_TRUE(run.credential->expiry);
  std::ifstream info(d.path + "/info");
  std::string line;
  std::getline(info, line);
  EXPECT_NE(line.find("\"kind\":\"ExecCredential\""), std::string::npos);
  std::string err;
  EXPECT_FALSE(parse_exec_credential(R"({"status":{}})", &err));
}

// A plugin that hangs is killed at the timeout, and the loop kept running all along: the
// event loop never waits for a plugin.
TEST(Kubeconfig, SlowExecPluginTimesOutWithoutBlockingTheLoop) {
  TempDir d;
  d.write("slow.sh", "#!/bin/sh\nsleep 5\n", 0700);
  ExecPlugin p;
  p.command = d.path + "/slow.sh";
  const auto start = std::chrono::steady_clock::now();
  auto run = run_plugin(p, std::chrono::milliseconds(800));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(run.credential);
  EXPECT_EQ(run.error, "exec plugin timed out");
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_GE(run.ticks, 40);  // ~80 ticks of 10 ms in 800 ms; a blocked loop would have none
}

TEST(Kubeconfig, FailingExecPluginsSayWhy) {
  TempDir d;
  d.write("fail.sh", "#!/bin/sh\nexit 3\n", 0700);
  d.write("junk.sh", "#!/bin/sh\necho not-json\n", 0700);
  ExecPlugin p;
  p.command = d.path + "/fail.sh";
  EXPECT_EQ(run_plugin(p, std::chrono::seconds(5)).error, "exec plugin failed (exit 3)");
  p.command = d.path + "/junk.sh";
  auto junk = run_plugin(p, std::chrono::seconds(5));
  EXPECT_FALSE(junk.credential);
  EXPECT_FALSE(junk.error.empty());
  p.command = d.path + "/missing.sh";
  EXPECT_EQ(run_plugin(p, std::chrono::seconds(5)).error, "cannot run exec plugin " + d.path + "/missing.sh");
}

TEST(Kubeconfig, InClusterServiceAccount) {
  TempDir d;
  d.write("token", "sa-token\n");
  d.write("ca.crt", "CA");
  ::setenv("KUBERNETES_SERVICE_HOST", "fd00::10", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  std::string err;
  auto c = in_cluster_credentials(&err, d.path);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->server, "https://[fd00::10]:443");
  EXPECT_EQ(c->token, "sa-token");
  EXPECT_EQ(c->token_file, d.path + "/token");
}

}  // namespace
}  // namespace ironboot::kube
