#include "common/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include <stdlib.h>
#include <unistd.h>

namespace ironboot {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, EmptyFileGivesDefaults) {
  const Config c = parse_config("", "empty.yaml");
  EXPECT_EQ(c.interface, "eth0");
  EXPECT_EQ(c.dhcp.port, 67);
  EXPECT_EQ(c.dhcp.pxe_port, 4011);
  EXPECT_EQ(c.tftp.root, "/usr/lib/ipxe");
  EXPECT_THAT(c.tftp.follow_symlinks_into, ::testing::ElementsAre("/boot"));
  EXPECT_EQ(c.http.listen, ":8080");  // the provisioning address only
  EXPECT_EQ(c.boot.binaries.bios, "undionly.kpxe");
  EXPECT_EQ(c.boot.binaries.efi_x86_64, "ipxe.efi");
  EXPECT_EQ(c.boot.binaries.efi_arm64, "");
  EXPECT_STREQ(to_string(c.cluster.mode), "embedded");
  EXPECT_EQ(c.cluster.embedded.listen, "127.0.0.1:6443");
  EXPECT_STREQ(to_string(c.discovery.wipe), "fast");
  EXPECT_STREQ(to_string(c.discovery.boot_from_disk_method), "ipxe-exit");
  EXPECT_FALSE(c.discovery.auto_accept);
  EXPECT_EQ(c.log.level, "info");
}

TEST(Config, ReadsEveryDocumentedKey) {
  const Config c = parse_config(R"(
interface: br-prov
advertise_address: 10.9.0.2
dhcp: {enabled: false, port: 1067, pxe_port: 14011}
tftp: {enabled: true, port: 1069, root: /srv/tftp, max_block_size: 1468, max_transfers: 10, single_port: true, follow_symlinks_into: [/srv/boot]}
http: {listen: "127.0.0.1:8081", asset_dirs: [/srv/a, /srv/b]}
boot:
  binaries: {bios: a.kpxe, efi_x86_64: b.efi, efi_arm64: c.efi}
agent: {kernel: /k, initrd: /i, kernel_args: [console=ttyS0, quiet]}
cluster:
  mode: kubeconfig
  kubeconfig: /etc/kube.conf
  embedded: {listen: "127.0.0.1:7443", data_dir: /tmp/x}
discovery: {auto_accept: true, wipe: full, boot_from_disk_method: http-404}
log: {level: debug}
)", "full.yaml");
  EXPECT_EQ(c.interface, "br-prov");
  EXPECT_EQ(c.advertise_address, "10.9.0.2");
  EXPECT_FALSE(c.dhcp.enabled);
  EXPECT_EQ(c.dhcp.port, 1067);
  EXPECT_EQ(c.dhcp.pxe_port, 14011);
  EXPECT_EQ(c.tftp.port, 1069);
  EXPECT_EQ(c.tftp.root, "/srv/tftp");
  EXPECT_EQ(c.tftp.max_block_size, 1468u);
  EXPECT_EQ(c.tftp.max_transfers, 10u);
  EXPECT_TRUE(c.tftp.single_port);
  EXPECT_THAT(c.tftp.follow_symlinks_into, ::testing::ElementsAre("/srv/boot"));
  EXPECT_EQ(c.http.listen, "127.0.0.1:8081");
  EXPECT_THAT(c.http.asset_dirs, ::testing::ElementsAre("/srv/a", "/srv/b"));
  EXPECT_EQ(c.boot.binaries.efi_arm64, "c.efi");
  EXPECT_THAT(c.agent.kernel_args, ::testing::ElementsAre("console=ttyS0", "quiet"));
  EXPECT_STREQ(to_string(c.cluster.mode), "kubeconfig");
  EXPECT_EQ(c.cluster.kubeconfig, "/etc/kube.conf");
  EXPECT_EQ(c.cluster.embedded.data_dir, "/tmp/x");
  EXPECT_TRUE(c.discovery.auto_accept);
  EXPECT_STREQ(to_string(c.discovery.wipe), "full");
  EXPECT_STREQ(to_string(c.discovery.boot_from_disk_method), "http-404");
  EXPECT_EQ(c.log.level, "debug");
}

TEST(Config, UnknownKeyNamesLineAndColumnAndSuggests) {
  const std::string err = error_of("interface: eth1\ndhcp:\n  enabled: true\n  prot: 67\n");
  EXPECT_THAT(err, HasSubstr("test.yaml:4:3:"));
  EXPECT_THAT(err, HasSubstr("unknown key 'dhcp.prot'"));
  EXPECT_THAT(err, HasSubstr("did you mean 'port'"));
}

TEST(Config, UnknownTopLevelKey) {
  EXPECT_THAT(error_of("interfce: eth1\n"), HasSubstr("test.yaml:1:1: unknown key 'interfce'"));
}

TEST(Config, WrongTypesAreErrorsWithPosition) {
  EXPECT_THAT(error_of("dhcp:\n  port: abc\n"), HasSubstr("test.yaml:2:9: 'dhcp.port' must be an integer"));
  EXPECT_THAT(error_of("dhcp:\n  port: 70000\n"), HasSubstr("out of range"));
  EXPECT_THAT(error_of("dhcp:\n  port: -1\n"), HasSubstr("out of range"));
  EXPECT_THAT(error_of("dhcp: {enabled: maybe}\n"), HasSubstr("must be true or false"));
  EXPECT_THAT(error_of("dhcp: [1, 2]\n"), HasSubstr("'dhcp' must be a mapping"));
  EXPECT_THAT(error_of("interface: [a]\n"), HasSubstr("'interface' must be a single value"));
  EXPECT_THAT(error_of("agent: {kernel_args: quiet}\n"), HasSubstr("must be a list of strings"));
  EXPECT_THAT(error_of("cluster: {mode: cloud}\n"), HasSubstr("must be one of embedded, kubeconfig, in-cluster"));
  EXPECT_THAT(error_of("http: {listen: nowhere}\n"), HasSubstr("must be HOST:PORT"));
  EXPECT_THAT(error_of("log: {level: loud}\n"), HasSubstr("'log.level' must be one of"));
}

TEST(Config, ClusterModeSpellings) {
  EXPECT_EQ(parse_config("cluster: {mode: embedded}\n", "t").cluster.mode, ClusterMode::embedded);
  EXPECT_EQ(parse_config("cluster: {mode: kubeconfig, kubeconfig: /k}\n", "t").cluster.mode, ClusterMode::kubeconfig);
  EXPECT_EQ(parse_config("cluster: {mode: in-cluster}\n", "t").cluster.mode, ClusterMode::in_cluster);
  for (const auto mode : {ClusterMode::embedded, ClusterMode::kubeconfig, ClusterMode::in_cluster})
    EXPECT_EQ(parse_cluster_mode(to_string(mode)), mode);
  EXPECT_STREQ(to_string(ClusterMode::in_cluster), "in-cluster");
  EXPECT_EQ(parse_cluster_mode("in_cluster"), std::nullopt);
  EXPECT_EQ(parse_cluster_mode("Embedded"), std::nullopt);
  EXPECT_EQ(parse_cluster_mode(""), std::nullopt);
  EXPECT_EQ(error_of("cluster:\n  mode: in_cluster\n"),
            "test.yaml:2:9: 'cluster.mode' must be one of embedded, kubeconfig, in-cluster, not 'in_cluster'");
}

TEST(Config, WipeModeSpellings) {
  EXPECT_EQ(parse_config("discovery: {wipe: none}\n", "t").discovery.wipe, WipeMode::none);
  EXPECT_EQ(parse_config("discovery: {wipe: fast}\n", "t").discovery.wipe, WipeMode::fast);
  EXPECT_EQ(parse_config("discovery: {wipe: full}\n", "t").discovery.wipe, WipeMode::full);
  EXPECT_EQ(parse_config("discovery: {wipe: secure}\n", "t").discovery.wipe, WipeMode::secure);
  for (const auto mode : {WipeMode::none, WipeMode::fast, WipeMode::full, WipeMode::secure}) {
    EXPECT_EQ(parse_wipe_mode(to_string(mode)), mode);
  }
  EXPECT_STREQ(to_string(WipeMode::full), "full");
  EXPECT_EQ(parse_wipe_mode("FAST"), std::nullopt);
  EXPECT_EQ(error_of("discovery:\n  wipe: quick\n"),
            "test.yaml:2:9: 'discovery.wipe' must be one of none, fast, full, secure, not 'quick'");
}

TEST(Config, DiskBootMethodSpellings) {
  EXPECT_EQ(parse_config("discovery: {boot_from_disk_method: ipxe-exit}\n", "t").discovery.boot_from_disk_method,
            DiskBootMethod::ipxe_exit);
  EXPECT_EQ(parse_config("discovery: {boot_from_disk_method: http-404}\n", "t").discovery.boot_from_disk_method,
            DiskBootMethod::http_404);
  EXPECT_EQ(parse_config("discovery: {boot_from_disk_method: ipxe-sanboot}\n", "t").discovery.boot_from_disk_method,
            DiskBootMethod::ipxe_sanboot);
  for (const auto m : {DiskBootMethod::ipxe_exit, DiskBootMethod::http_404, DiskBootMethod::ipxe_sanboot})
    EXPECT_EQ(parse_disk_boot_method(to_string(m)), m);
  EXPECT_STREQ(to_string(DiskBootMethod::http_404), "http-404");
  EXPECT_EQ(parse_disk_boot_method("exit"), std::nullopt);
  EXPECT_EQ(parse_disk_boot_method("ipxe_exit"), std::nullopt);
  EXPECT_EQ(error_of("discovery:\n  boot_from_disk_method: sanboot\n"),
            "test.yaml:2:26: 'discovery.boot_from_disk_method' must be one of ipxe-exit, http-404, ipxe-sanboot, "
            "not 'sanboot'");
}

TEST(Config, SemanticChecks) {
  EXPECT_THAT(error_of("advertise_address: 10.0.0.256\n"), HasSubstr("must be an IPv4 address"));
  EXPECT_THAT(error_of("cluster: {mode: kubeconfig}\n"), HasSubstr("'cluster.kubeconfig' must be set"));
  EXPECT_THAT(error_of("tftp: {max_block_size: 7}\n"), HasSubstr("max_block_size"));
  EXPECT_THAT(error_of("dhcp: {port: 4011}\n"), HasSubstr("must differ"));
}

// Values that would expose the data dir or hang every connection are refused at load, at the
// line that set them.
TEST(Config, DangerousValuesAreRefusedWithTheirPosition) {
  EXPECT_EQ(error_of("tftp:\n  root: \"\"\n"),
            "test.yaml:2:9: 'tftp.root' must name a directory of boot files, not '' (it would serve the whole "
            "filesystem)");
  EXPECT_THAT(error_of("tftp: {root: /}\n"), HasSubstr("test.yaml:1:14: 'tftp.root' must name a directory"));
  EXPECT_THAT(error_of("tftp: {root: /usr/..//}\n"), HasSubstr("'tftp.root' must name a directory"));
  EXPECT_THAT(error_of("http:\n  header_timeout_seconds: 0\n"),
              HasSubstr("test.yaml:2:27: 'http.header_timeout_seconds' must be at least 1"));
  // A served directory may neither contain the data dir nor lie inside it.
  EXPECT_THAT(error_of("tftp: {root: /var/lib}\ncluster: {embedded: {data_dir: /var/lib/ironboot}}\n"),
              HasSubstr("test.yaml:1:14: 'tftp.root' entry '/var/lib' overlaps 'cluster.embedded.data_dir'"));
  EXPECT_THAT(error_of("http: {asset_dirs: [/srv/a, /var/lib/ironboot/environments]}\n"),
              HasSubstr("'http.asset_dirs' entry '/var/lib/ironboot/environments' overlaps"));
  EXPECT_THAT(error_of("environments:\n  local_dirs: [/var/lib/ironboot/../ironboot]\n"),
              HasSubstr("test.yaml:2:15: 'environments.local_dirs' entry"));
  EXPECT_THAT(error_of("environments: {local_dirs: [images]}\n"), HasSubstr("must be absolute paths"));
  // Neighbours of the data dir are fine.
  EXPECT_NO_THROW(parse_config("tftp: {root: /var/lib/ironboot-tftp}\nenvironments: {local_dirs: [/srv/images]}\n", "t"));
}

TEST(Config, AMissingOrUnreadableCaBundleIsRefusedWithItsPosition) {
  EXPECT_EQ(error_of("environments:\n  ca_bundle: /nonexistent/ca.pem\n"),
            "test.yaml:2:14: 'environments.ca_bundle' '/nonexistent/ca.pem' is not a readable file (of at most "
            "16777216 bytes)");
  EXPECT_THAT(error_of("environments: {ca_bundle: /tmp}\n"), HasSubstr("test.yaml:1:27: 'environments.ca_bundle' '/tmp'"));
  char tmpl[] = "/tmp/ironboot-ca-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(tmpl) << "-----BEGIN CERTIFICATE-----\n";
  EXPECT_NO_THROW(parse_config(std::string("environments: {ca_bundle: ") + tmpl + "}\n", "t"));
  ::unlink(tmpl);
}

TEST(Config, ListenWithoutHostMeansTheProvisioningAddress) {
  EXPECT_EQ(parse_config("http: {listen: \":9090\"}\n", "t").http.listen, ":9090");
  EXPECT_EQ(parse_config("http: {listen: \"0.0.0.0:8080\"}\n", "t").http.listen, "0.0.0.0:8080");
  EXPECT_THAT(error_of("http: {listen: \":0\"}\n"), HasSubstr("must be HOST:PORT or :PORT"));
  EXPECT_THAT(error_of("http: {listen: \"8080\"}\n"), HasSubstr("must be HOST:PORT or :PORT"));
  EXPECT_THAT(error_of("cluster: {embedded: {listen: \":6443\"}}\n"), HasSubstr("must be HOST:PORT, not"));
}

TEST(Config, AgentTokenAndEnvironmentLimits) {
  const Config d = parse_config("", "t");
  EXPECT_EQ(d.discovery.boot_tokens_per_minute, 10u);
  EXPECT_EQ(d.discovery.session_ttl_seconds, 300u);
  EXPECT_TRUE(d.environments.local_dirs.empty());
  EXPECT_FALSE(d.environments.allow_unverified);
  EXPECT_EQ(d.environments.max_file_bytes, 2ull << 30);
  EXPECT_THAT(error_of("discovery: {boot_tokens_per_minute: 0}\n"), HasSubstr("at least 1"));
  EXPECT_THAT(error_of("discovery: {session_ttl_seconds: 5}\n"), HasSubstr("at least 30"));
  EXPECT_FALSE(d.discovery.require_tpm);
  EXPECT_EQ(d.discovery.tpm_challenge_ttl_seconds, 60u);
  EXPECT_EQ(d.discovery.tpm_challenges_per_address, 4u);
  EXPECT_TRUE(parse_config("discovery: {require_tpm: true}\n", "t").discovery.require_tpm);
  EXPECT_THAT(error_of("discovery: {tpm_challenge_ttl_seconds: 1}\n"), HasSubstr("test.yaml:1:40: 'discovery.tpm_challenge_ttl_seconds' must be 5 to 600"));
  EXPECT_THAT(error_of("discovery: {tpm_challenges_per_address: 0}\n"), HasSubstr("at least 1"));
  EXPECT_THAT(error_of("discovery: {require_tpm: maybe}\n"), HasSubstr("test.yaml:1:26"));
  EXPECT_THAT(error_of("environments: {max_file_bytes: 100, quota_bytes: 10}\n"),
              HasSubstr("'environments.quota_bytes' must be at least 'environments.max_file_bytes'"));
  EXPECT_THAT(error_of("environments: {allow_unverifed: true}\n"), HasSubstr("did you mean 'allow_unverified'"));
}

TEST(Config, EmbeddedApiLimits) {
  const Config d = parse_config("", "t");
  EXPECT_EQ(d.cluster.embedded.max_connections, 4096u);
  EXPECT_EQ(d.cluster.embedded.max_body_bytes, 8u * 1024 * 1024);
  const Config c = parse_config("cluster: {embedded: {max_connections: 64, write_timeout_seconds: 5}}\n", "t");
  EXPECT_EQ(c.cluster.embedded.max_connections, 64u);
  EXPECT_EQ(c.cluster.embedded.write_timeout_seconds, 5u);
  EXPECT_EQ(error_of("cluster:\n  embedded:\n    max_connections: 2\n"),
            "test.yaml:3:22: 'cluster.embedded.max_connections' must be at least 8");
  EXPECT_THAT(error_of("cluster: {embedded: {max_body_bytes: 10}}\n"), HasSubstr("at least 65536"));
}

TEST(Config, YamlSyntaxErrorHasPosition) {
  EXPECT_THAT(error_of("dhcp:\n  port: [1\n"), HasSubstr("test.yaml:"));
}

TEST(Config, MissingFileIsAnError) {
  EXPECT_THROW(load_config_file("/nonexistent/ironboot.yaml"), ConfigError);
}

TEST(Config, EmbeddedEventRetention) {
  const Config d = parse_config("", "t");
  EXPECT_EQ(d.cluster.embedded.event_ttl_seconds, 3600u);
  EXPECT_EQ(d.cluster.embedded.max_events, 100000u);
  const Config c = parse_config("cluster: {embedded: {event_ttl_seconds: 60, max_events: 50000}}\n", "t");
  EXPECT_EQ(c.cluster.embedded.event_ttl_seconds, 60u);
  EXPECT_EQ(c.cluster.embedded.max_events, 50000u);
  EXPECT_THROW(parse_config("cluster: {embedded: {event_ttl_seconds: 0}}\n", "t"), ConfigError);
  EXPECT_THROW(parse_config("cluster: {embedded: {max_events: 99}}\n", "t"), ConfigError);
  EXPECT_THROW(parse_config("cluster: {embedded: {max_events: -1}}\n", "t"), ConfigError);
}

TEST(Config, ShippedExampleIsValid) {
  // Tests run from the source root.
  const Config c = load_config_file("assets/ironboot.yaml");
  EXPECT_STREQ(to_string(c.cluster.mode), "embedded");
}

}  // namespace
}  // namespace ironboot
