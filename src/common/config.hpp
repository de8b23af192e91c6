// Immutable configuration of one ironboot process. The default member initialisers below
// are the one table of defaults; assets/ironboot.yaml documents every key.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot {

// Settings with a fixed set of spellings. One table per enum (config.cpp) holds the spellings
// that parse_* and to_string use, for the YAML file, the Kubernetes objects and the logs alike.
enum class ClusterMode { embedded, kubeconfig, in_cluster };    // embedded | kubeconfig | in-cluster
enum class WipeMode { none, fast, full, secure };                 // none | fast | full | secure
enum class DiskBootMethod { ipxe_exit, http_404, ipxe_sanboot };  // ipxe-exit | http-404 | ipxe-sanboot

// nullopt for any other spelling (the match is exact: case matters).
std::optional<ClusterMode> parse_cluster_mode(std::string_view text);
std::optional<WipeMode> parse_wipe_mode(std::string_view text);
std::optional<DiskBootMethod> parse_disk_boot_method(std::string_view text);
const char* to_string(ClusterMode mode);
const char* to_string(WipeMode mode);
const char* to_string(DiskBootMethod method);

struct DhcpConfig {
  bool enabled = true;
  std::uint16_t port = 67;
  std::uint16_t pxe_port = 4011;
  // Option instances one packet may carry (RFC 3396 long options take one per 255 bytes);
  // packets with more are dropped (ironboot_dhcp_dropped_total{reason="too_many_options"}).
  std::uint32_t max_option_instances = 256;
};

struct TftpConfig {
  bool enabled = true;
  std::uint16_t port = 69;
  std::string root = "/usr/lib/ipxe";
  // 0 = derive from the interface MTU (MTU - IP - UDP - TFTP headers).
  std::uint32_t max_block_size = 0;
  std::uint32_t max_transfers = 2000;
  std::uint32_t max_transfers_per_client = 16;  // by source address
  std::uint32_t first_ack_timeout_seconds = 3;  // a transfer's life until the client's first ACK
  std::uint32_t max_transfer_seconds = 600;     // any transfer's whole life
  // Serve every transfer from the listening port (for NAT and Kubernetes Services).
  bool single_port = false;
  // Files up to this size are kept in memory (revalidated by mtime).
  std::uint64_t cache_max_file_size = 16 * 1024 * 1024;
  // Symlinks inside the root may resolve into these directories (Debian's
  // /usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi); any other symlink out of the root is refused.
  std::vector<std::string> follow_symlinks_into = {"/boot"};
};

struct HttpConfig {
  // HOST:PORT, or :PORT for the provisioning address (advertise_address, else the interface's
  // first IPv4): the agent API and the assets are not offered on every network the host is on.
  std::string listen = ":8080";
  std::uint32_t max_connections = 10000;
  std::uint32_t max_connections_per_client = 64;
  std::uint32_t first_byte_timeout_seconds = 5;
  std::uint32_t header_timeout_seconds = 10;
  std::uint32_t idle_timeout_seconds = 60;
  std::uint32_t max_header_bytes = 8192;
  std::uint32_t max_body_bytes = 1024 * 1024;
  // Extra directories served under /assets/<name>/...; the agent image and tftp.root
  // are always served.
  std::vector<std::string> asset_dirs;
};

struct BootBinaries {
  std::string bios = "undionly.kpxe";
  std::string efi_x86_64 = "ipxe.efi";
  std::string efi_arm64;
};

struct BootConfig {
  BootBinaries binaries;
};

struct AgentConfig {
  std::string kernel;
  std::string initrd;
  std::vector<std::string> kernel_args;
};

struct EmbeddedClusterConfig {
  std::string listen = "127.0.0.1:6443";
  std::string data_dir = "/var/lib/ironboot";
  // Events are deleted this long after they were last seen (kube-apiserver's --event-ttl).
  std::uint32_t event_ttl_seconds = 3600;
  // At most this many events are kept; beyond it the oldest are dropped.
  std::uint32_t max_events = 100000;
  // Limits of the API's connections (beyond max_connections new ones are closed at accept).
  std::uint32_t max_connections = 4096;
  std::uint32_t handshake_timeout_seconds = 10;  // TLS handshake
  std::uint32_t idle_timeout_seconds = 120;      // between requests, and for a request's headers
  std::uint32_t write_timeout_seconds = 30;      // one response (or one watch event) to a slow reader
  std::uint32_t max_header_bytes = 64 * 1024;
  std::uint32_t max_body_bytes = 8 * 1024 * 1024;
  std::uint32_t max_watch_backlog = 20000;       // events queued for one slow watcher before it is closed
};

struct ClusterConfig {
  ClusterMode mode = ClusterMode::embedded;
  std::string kubeconfig;
  EmbeddedClusterConfig embedded;
};

struct DiscoveryConfig {
  bool auto_accept = false;
  WipeMode wipe = WipeMode::fast;
  DiskBootMethod boot_from_disk_method = DiskBootMethod::ipxe_exit;
  // Agent boot tokens /ipxe mints, per source address and minute (docs/agent-api.md).
  std::uint32_t boot_tokens_per_minute = 10;
  // A boot token is exchanged at the agent's first register within this time.
  std::uint32_t boot_token_ttl_seconds = 900;
  // An agent session lapses when no heartbeat renews it within this time.
  std::uint32_t session_ttl_seconds = 300;
  // Every register must prove a TPM 2.0 by credential activation (docs/tpm-identity.md);
  // false: a machine without one registers too, unless its Server is pinned to a TPM.
  bool require_tpm = false;
  // A TPM credential challenge is answered by the next register within this time.
  std::uint32_t tpm_challenge_ttl_seconds = 60;
  // Challenges outstanding per source address at most.
  std::uint32_t tpm_challenges_per_address = 4;
};

// Fetching Environments' kernels and initrds (docs/environments.md).
struct EnvironmentsConfig {
  // file:// URLs are served only from beneath these directories (default: none).
  std::vector<std::string> local_dirs;
  // http:// needs a sha512 (https:// is verified by its certificate); true: http:// without one
  // is fetched too, and a warning is logged at start.
  bool allow_unverified = false;
  std::string ca_bundle;  // extra CA certificates (PEM) for https://, beside the system store
  std::uint64_t max_file_bytes = 2ull << 30;    // one kernel or initrd
  std::uint64_t quota_bytes = 20ull << 30;      // everything under data_dir/environments
  std::uint32_t connect_timeout_seconds = 10;
  std::uint32_t read_timeout_seconds = 60;      // per read: a stalled server fails the fetch
};

// BMC power control and the hands-free lifecycle (docs/bmc.md).
struct BmcConfig {
  bool enabled = true;                       // false: no BMC is ever contacted (spec.bmc only stored)
  std::uint32_t power_refresh_seconds = 60;  // status.power re-read this often (jittered)
  std::uint32_t max_concurrent = 16;         // BMC operations in flight at once, over all BMCs
  std::uint32_t min_interval_ms = 1000;      // per BMC: at least this long between two operations
  bool power_off_available = true;           // a clean, unused (Available) Server is powered off
  bool auto_setup = false;                   // the agent creates a BMC user and ironboot fills spec.bmc
};

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error | critical | off
};

struct Config {
  std::string interface = "eth0";
  std::string advertise_address;  // "" = the interface's first IPv4 address
  DhcpConfig dhcp;
  TftpConfig tftp;
  HttpConfig http;
  BootConfig boot;
  AgentConfig agent;
  ClusterConfig cluster;
  DiscoveryConfig discovery;
  EnvironmentsConfig environments;
  BmcConfig bmc;
  LogConfig log;

  std::string source_path;  // the file it was loaded from, for messages
};

// Thrown only at startup / reload: "FILE:LINE:COL: message".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses YAML text. `source_name` is used in error messages.
Config parse_config(const std::string& yaml_text, const std::string& source_name);
// Reads and parses a file; a missing or unreadable file is a ConfigError.
Config load_config_file(const std::string& path);

}  // namespace ironboot
