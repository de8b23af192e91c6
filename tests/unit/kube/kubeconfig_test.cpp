#include "kube/kubeconfig.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
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
  std::string err;
  auto cred = run_exec_plugin(p, std::chrono::seconds(10), &err);
  ASSERT_TRUE(cred) << err;
  EXPECT_EQ(cred->token, "tok-1");
  ASSERT_TRUE(cred->expiry);
  std::ifstream info(d.path + "/info");
  std::string line;
  std::getline(info, line);
  EXPECT_NE(line.find("\"kind\":\"ExecCredential\""), std::string::npos);
  d.write("slow.sh", "#!/bin/sh\nsleep 5\n", 0700);
  p.command = d.path + "/slow.sh";
  EXPECT_FALSE(run_exec_plugin(p, std::chrono::seconds(1), &err));
  EXPECT_EQ(err, "exec plugin timed out");
  EXPECT_FALSE(parse_exec_credential(R"({"status":{}})", &err));
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
