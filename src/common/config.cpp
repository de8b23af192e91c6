#include "common/config.hpp"

#include "common/files.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <limits>
#include <set>
#include <sstream>

#include "common/net.hpp"

namespace ironboot {
namespace {

template <class Enum>
struct Spelling {
  Enum value;
  const char* text;
};

constexpr Spelling<ClusterMode> kClusterModes[] = {
    {ClusterMode::embedded, "embedded"}, {ClusterMode::kubeconfig, "kubeconfig"}, {ClusterMode::in_cluster, "in-cluster"}};
constexpr Spelling<WipeMode> kWipeModes[] = {{WipeMode::none, "none"}, {WipeMode::fast, "fast"}, {WipeMode::full, "full"}, {WipeMode::secure, "secure"}};
constexpr Spelling<DiskBootMethod> kDiskBootMethods[] = {{DiskBootMethod::ipxe_exit, "ipxe-exit"},
                                                         {DiskBootMethod::http_404, "http-404"},
                                                         {DiskBootMethod::ipxe_sanboot, "ipxe-sanboot"}};

template <class Enum, std::size_t N>
std::optional<Enum> parse_spelling(const Spelling<Enum> (&table)[N], std::string_view text) {
  for (const auto& s : table)
    if (text == s.text) return s.value;
  return std::nullopt;
}

template <class Enum, std::size_t N>
const char* spelling_of(const Spelling<Enum> (&table)[N], Enum value) {
  for (const auto& s : table)
    if (s.value == value) return s.text;
  return "unknown";  // not reached: every enumerator is in its table
}

// "a, b, c" for error messages.
template <class Enum, std::size_t N>
std::string spellings(const Spelling<Enum> (&table)[N]) {
  std::string list;
  for (const auto& s : table) list += std::string(list.empty() ? "" : ", ") + s.text;
  return list;
}

std::string where(const std::string& file, const YAML::Mark& mark) {
  // yaml-cpp marks are 0-based; editors count from 1.
  std::ostringstream out;
  out << file << ':' << (mark.line + 1) << ':' << (mark.column + 1);
  return out.str();
}

[[noreturn]] void fail(const std::string& file, const YAML::Mark& mark, const std::string& msg) {
  throw ConfigError(where(file, mark) + ": " + msg);
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Where each key was given ("tftp.root" -> its value's mark), so that checks across keys
// (validate) name the line an operator has to change.
using KeyMarks = std::map<std::string, YAML::Mark>;

// Reads one YAML mapping: every key read through it is "known"; finish() rejects the rest.
class MapReader {
 public:
  MapReader(const std::string& file, const YAML::Node& node, std::string path, KeyMarks& marks)
      : file_(file), node_(node), path_(std::move(path)), marks_(marks) {
    if (node_ && !node_.IsMap() && !node_.IsNull()) {
      fail(file_, node_.Mark(), "'" + path_ + "' must be a mapping");
    }
  }

  void get(const char* key, bool& out) {
    with_scalar(key, [&](const YAML::Node& v) {
      const std::string s = v.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") {
        out = true;
      } else if (s == "false" || s == "False" || s == "FALSE") {
        out = false;
      } else {
        fail(file_, v.Mark(), "'" + name(key) + "' must be true or false, not '" + s + "'");
      }
    });
  }

  template <typename Int>
    requires std::is_integral_v<Int>
  void get(const char* key, Int& out) {
    with_scalar(key, [&](const YAML::Node& v) {
      const std::string s = v.Scalar();
      long long parsed = 0;
      std::size_t used = 0;
      bool ok = !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-');
      if (ok) {
        try {
          parsed = std::stoll(s, &used, 10);
        } catch (const std::exception&) {
          ok = false;
        }
      }
      if (!ok || used != s.size()) {
        fail(file_, v.Mark(), "'" + name(key) + "' must be an integer, not '" + s + "'");
      }
      if (parsed < static_cast<long long>(std::numeric_limits<Int>::min()) ||
          static_cast<unsigned long long>(parsed) > std::numeric_limits<Int>::max() ||
          (parsed < 0 && std::is_unsigned_v<Int>)) {
        fail(file_, v.Mark(), "'" + name(key) + "' is out of range: " + s);
      }
      out = static_cast<Int>(parsed);
    });
  }

  void get(const char* key, std::string& out) {
    with_scalar(key, [&](const YAML::Node& v) { out = v.IsNull() ? std::string() : v.Scalar(); });
  }

  void get(const char* key, std::vector<std::string>& out) {
    known_.insert(key);
    const YAML::Node v = lookup(key);
    if (!v || v.IsNull()) return;
    if (!v.IsSequence()) fail(file_, v.Mark(), "'" + name(key) + "' must be a list of strings");
    marks_[name(key)] = v.Mark();
    out.clear();
    for (const auto& item : v) {
      if (!item.IsScalar()) fail(file_, item.Mark(), "'" + name(key) + "' items must be strings");
      out.push_back(item.Scalar());
    }
  }

  // Only accepts a spelling in `table`.
  template <class Enum, std::size_t N>
  void get_enum(const char* key, Enum& out, const Spelling<Enum> (&table)[N]) {
    with_scalar(key, [&](const YAML::Node& v) {
      const std::string s = v.Scalar();
      if (const auto parsed = parse_spelling(table, s)) {
        out = *parsed;
        return;
      }
      fail(file_, v.Mark(), "'" + name(key) + "' must be one of " + spellings(table) + ", not '" + s + "'");
    });
  }

  // Only accepts one of `allowed`.
  void get_enum(const char* key, std::string& out, std::initializer_list<const char*> allowed) {
    with_scalar(key, [&](const YAML::Node& v) {
      const std::string s = v.Scalar();
      for (const char* a : allowed) {
        if (s == a) {
          out = s;
          return;
        }
      }
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      fail(file_, v.Mark(), "'" + name(key) + "' must be one of " + list + ", not '" + s + "'");
    });
  }

  // A "host:port" string, validated; with `host_optional`, ":port" too.
  void get_endpoint(const char* key, std::string& out, bool host_optional = false) {
    with_scalar(key, [&](const YAML::Node& v) {
      const std::string& s = v.Scalar();
      if (!(host_optional ? parse_listen(s) : parse_host_port(s))) {
        fail(file_, v.Mark(), "'" + name(key) + "' must be HOST:PORT" + (host_optional ? " or :PORT" : "") + ", not '" + s + "'");
      }
      out = s;
    });
  }

  MapReader section(const char* key) {
    known_.insert(key);
    return MapReader(file_, lookup(key), name(key), marks_);
  }

  void finish() const {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& kv : node_) {
      const std::string key = kv.first.Scalar();
      if (known_.count(key)) continue;
      std::string hint;
      std::size_t best = 3;
      for (const auto& k : known_) {
        const std::size_t d = edit_distance(key, k);
        if (d < best) {
          best = d;
          hint = " (did you mean '" + k + "'?)";
        }
      }
      fail(file_, kv.first.Mark(), "unknown key '" + name(key.c_str()) + "'" + hint);
    }
  }

 private:
  std::string name(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  YAML::Node lookup(const char* key) const {
    if (!node_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    for (const auto& kv : node_) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }

  template <typename F>
  void with_scalar(const char* key, F&& f) {
    known_.insert(key);
    const YAML::Node v = lookup(key);
    if (!v.IsDefined()) return;
    if (!v.IsScalar() && !v.IsNull()) {
      fail(file_, v.Mark(), "'" + name(key) + "' must be a single value");
    }
    if (v.IsNull()) {
      fail(file_, v.Mark(), "'" + name(key) + "' has no value");
    }
    marks_[name(key)] = v.Mark();
    f(v);
  }

  const std::string& file_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> known_;
  KeyMarks& marks_;
};

namespace fs = std::filesystem;

// The directory as the kernel will resolve it (symlinks followed as far as they exist).
fs::path resolved_dir(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::path(dir), ec);
  if (ec) p = fs::path(dir).lexically_normal();
  std::string text = p.string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return fs::path(text);
}

// Whether `inner` is `outer` or lies beneath it.
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

// A bundle of every public CA is about 200 KiB.
constexpr std::size_t kMaxCaBundleBytes = 16u << 20;

void validate(const Config& c, const std::string& file, const KeyMarks& marks) {
  // The message names the line of `key` when the file gave it, else the file alone (a default).
  auto bad_at = [&](const std::string& key, const std::string& msg) {
    if (auto m = marks.find(key); m != marks.end()) throw ConfigError(where(file, m->second) + ": " + msg);
    throw ConfigError(file + ": " + msg);
  };
  auto bad = [&](const std::string& msg) { throw ConfigError(file + ": " + msg); };
  if (c.interface.empty()) bad("'interface' must name the provisioning interface");
  if (!c.advertise_address.empty() && !parse_ipv4(c.advertise_address)) {
    bad("'advertise_address' must be an IPv4 address, not '" + c.advertise_address + "'");
  }
  if (c.dhcp.enabled && c.dhcp.port == c.dhcp.pxe_port) bad("'dhcp.port' and 'dhcp.pxe_port' must differ");
  if (c.tftp.max_block_size != 0 && (c.tftp.max_block_size < 8 || c.tftp.max_block_size > 65464)) {
    bad("'tftp.max_block_size' must be 0 (from the MTU) or 8..65464");
  }
  if (c.dhcp.max_option_instances < 16) bad("'dhcp.max_option_instances' must be at least 16");
  if (c.tftp.max_transfers == 0) bad("'tftp.max_transfers' must be at least 1");
  if (c.tftp.max_transfers_per_client == 0) bad("'tftp.max_transfers_per_client' must be at least 1");
  if (c.tftp.first_ack_timeout_seconds == 0) bad("'tftp.first_ack_timeout_seconds' must be at least 1");
  if (c.tftp.max_transfer_seconds == 0) bad("'tftp.max_transfer_seconds' must be at least 1");
  if (c.http.max_connections == 0) bad("'http.max_connections' must be at least 1");
  if (c.http.max_connections_per_client == 0) bad("'http.max_connections_per_client' must be at least 1");
  if (c.http.first_byte_timeout_seconds == 0) bad("'http.first_byte_timeout_seconds' must be at least 1");
  if (c.cluster.mode == ClusterMode::kubeconfig && c.cluster.kubeconfig.empty()) {
    bad("'cluster.kubeconfig' must be set when 'cluster.mode' is kubeconfig");
  }
  if (c.cluster.embedded.data_dir.empty()) bad("'cluster.embedded.data_dir' must not be empty");
  if (c.cluster.embedded.event_ttl_seconds == 0) bad("'cluster.embedded.event_ttl_seconds' must be at least 1");
  if (c.cluster.embedded.max_events < 100) bad("'cluster.embedded.max_events' must be at least 100");
  {
    const auto& e = c.cluster.embedded;
    auto at_least = [&](const char* key, std::uint64_t value, std::uint64_t min) {
      if (value < min)
        bad_at(std::string("cluster.embedded.") + key,
               std::string("'cluster.embedded.") + key + "' must be at least " + std::to_string(min));
    };
    at_least("max_connections", e.max_connections, 8);  // ironboot's own informers use a few
    at_least("handshake_timeout_seconds", e.handshake_timeout_seconds, 1);
    at_least("idle_timeout_seconds", e.idle_timeout_seconds, 1);
    at_least("write_timeout_seconds", e.write_timeout_seconds, 1);
    at_least("max_header_bytes", e.max_header_bytes, 4096);
    at_least("max_body_bytes", e.max_body_bytes, 64 * 1024);  // a Server with its facts
    at_least("max_watch_backlog", e.max_watch_backlog, 100);
  }
  if (c.bmc.power_refresh_seconds == 0) bad("'bmc.power_refresh_seconds' must be at least 1");
  if (c.bmc.max_concurrent == 0) bad("'bmc.max_concurrent' must be at least 1");
  if (c.http.header_timeout_seconds == 0) bad_at("http.header_timeout_seconds", "'http.header_timeout_seconds' must be at least 1");
  if (c.discovery.boot_tokens_per_minute == 0)
    bad_at("discovery.boot_tokens_per_minute", "'discovery.boot_tokens_per_minute' must be at least 1");
  if (c.discovery.boot_token_ttl_seconds < 60)
    bad_at("discovery.boot_token_ttl_seconds", "'discovery.boot_token_ttl_seconds' must be at least 60");
  if (c.discovery.session_ttl_seconds < 30)
    bad_at("discovery.session_ttl_seconds", "'discovery.session_ttl_seconds' must be at least 30");
  if (c.discovery.tpm_challenge_ttl_seconds < 5 || c.discovery.tpm_challenge_ttl_seconds > 600)
    bad_at("discovery.tpm_challenge_ttl_seconds", "'discovery.tpm_challenge_ttl_seconds' must be 5 to 600");
  if (c.discovery.tpm_challenges_per_address == 0)
    bad_at("discovery.tpm_challenges_per_address", "'discovery.tpm_challenges_per_address' must be at least 1");
  if (c.environments.max_file_bytes == 0) bad_at("environments.max_file_bytes", "'environments.max_file_bytes' must be at least 1");
  if (c.environments.quota_bytes < c.environments.max_file_bytes)
    bad_at("environments.quota_bytes", "'environments.quota_bytes' must be at least 'environments.max_file_bytes'");
  if (c.environments.connect_timeout_seconds == 0)
    bad_at("environments.connect_timeout_seconds", "'environments.connect_timeout_seconds' must be at least 1");
  if (c.environments.read_timeout_seconds == 0)
    bad_at("environments.read_timeout_seconds", "'environments.read_timeout_seconds' must be at least 1");

  // Checked here, not at the first https:// fetch, so a typo fails `check-config` and the start.
  if (!c.environments.ca_bundle.empty() && !read_file(c.environments.ca_bundle, kMaxCaBundleBytes))
    bad_at("environments.ca_bundle", "'environments.ca_bundle' '" + c.environments.ca_bundle +
                                         "' is not a readable file (of at most " + std::to_string(kMaxCaBundleBytes) +
                                         " bytes)");

  // Nothing served may expose the data dir (keys, the admin token, the store log).
  if (c.tftp.root.empty() || resolved_dir(c.tftp.root) == fs::path("/"))
    bad_at("tftp.root", "'tftp.root' must name a directory of boot files, not '" + c.tftp.root +
                            "' (it would serve the whole filesystem)");
  const fs::path data_dir = resolved_dir(c.cluster.embedded.data_dir);
  auto refuse_served = [&](const std::string& key, const std::string& dir) {
    if (dir.empty() || dir[0] != '/') bad_at(key, "'" + key + "' entries must be absolute paths, not '" + dir + "'");
    const fs::path served = resolved_dir(dir);
    if (is_within(served, data_dir) || is_within(data_dir, served))
      bad_at(key, "'" + key + "' entry '" + dir + "' overlaps 'cluster.embedded.data_dir' (" + data_dir.string() +
                      "): the appliance's keys and token would be served");
  };
  refuse_served("tftp.root", c.tftp.root);
  for (const auto& dir : c.http.asset_dirs) refuse_served("http.asset_dirs", dir);
  for (const auto& dir : c.environments.local_dirs) refuse_served("environments.local_dirs", dir);
}

}  // namespace

std::optional<ClusterMode> parse_cluster_mode(std::string_view text) { return parse_spelling(kClusterModes, text); }
std::optional<WipeMode> parse_wipe_mode(std::string_view text) { return parse_spelling(kWipeModes, text); }
std::optional<DiskBootMethod> parse_disk_boot_method(std::string_view text) {
  return parse_spelling(kDiskBootMethods, text);
}
const char* to_string(ClusterMode mode) { return spelling_of(kClusterModes, mode); }
const char* to_string(WipeMode mode) { return spelling_of(kWipeModes, mode); }
const char* to_string(DiskBootMethod method) { return spelling_of(kDiskBootMethods, method); }

Config parse_config(const std::string& yaml_text, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail(source_name, e.mark, e.msg);
  }
  Config c;
  c.source_path = source_name;
  if (root.IsNull() || !root.IsDefined()) return c;  // empty file: all defaults
  if (!root.IsMap()) fail(source_name, root.Mark(), "the configuration must be a mapping");

  KeyMarks marks;
  MapReader top(source_name, root, "", marks);
  top.get("interface", c.interface);
  top.get("advertise_address", c.advertise_address);
  {
    auto s = top.section("dhcp");
    s.get("enabled", c.dhcp.enabled);
    s.get("port", c.dhcp.port);
    s.get("pxe_port", c.dhcp.pxe_port);
    s.get("max_option_instances", c.dhcp.max_option_instances);
    s.finish();
  }
  {
    auto s = top.section("tftp");
    s.get("enabled", c.tftp.enabled);
    s.get("port", c.tftp.port);
    s.get("root", c.tftp.root);
    s.get("max_block_size", c.tftp.max_block_size);
    s.get("max_transfers", c.tftp.max_transfers);
    s.get("max_transfers_per_client", c.tftp.max_transfers_per_client);
    s.get("first_ack_timeout_seconds", c.tftp.first_ack_timeout_seconds);
    s.get("max_transfer_seconds", c.tftp.max_transfer_seconds);
    s.get("single_port", c.tftp.single_port);
    s.get("cache_max_file_size", c.tftp.cache_max_file_size);
    s.get("follow_symlinks_into", c.tftp.follow_symlinks_into);
    s.finish();
  }
  {
    auto s = top.section("http");
    s.get_endpoint("listen", c.http.listen, /*host_optional=*/true);
    s.get("max_connections", c.http.max_connections);
    s.get("max_connections_per_client", c.http.max_connections_per_client);
    s.get("first_byte_timeout_seconds", c.http.first_byte_timeout_seconds);
    s.get("header_timeout_seconds", c.http.header_timeout_seconds);
    s.get("idle_timeout_seconds", c.http.idle_timeout_seconds);
    s.get("max_header_bytes", c.http.max_header_bytes);
    s.get("max_body_bytes", c.http.max_body_bytes);
    s.get("asset_dirs", c.http.asset_dirs);
    s.finish();
  }
  {
    auto s = top.section("boot");
    {
      auto b = s.section("binaries");
      b.get("bios", c.boot.binaries.bios);
      b.get("efi_x86_64", c.boot.binaries.efi_x86_64);
      b.get("efi_arm64", c.boot.binaries.efi_arm64);
      b.finish();
    }
    s.finish();
  }
  {
    auto s = top.section("agent");
    s.get("kernel", c.agent.kernel);
    s.get("initrd", c.agent.initrd);
    s.get("kernel_args", c.agent.kernel_args);
    s.finish();
  }
  {
    auto s = top.section("cluster");
    s.get_enum("mode", c.cluster.mode, kClusterModes);
    s.get("kubeconfig", c.cluster.kubeconfig);
    {
      auto e = s.section("embedded");
      e.get_endpoint("listen", c.cluster.embedded.listen);
      e.get("data_dir", c.cluster.embedded.data_dir);
      e.get("event_ttl_seconds", c.cluster.embedded.event_ttl_seconds);
      e.get("max_events", c.cluster.embedded.max_events);
      e.get("max_connections", c.cluster.embedded.max_connections);
      e.get("handshake_timeout_seconds", c.cluster.embedded.handshake_timeout_seconds);
      e.get("idle_timeout_seconds", c.cluster.embedded.idle_timeout_seconds);
      e.get("write_timeout_seconds", c.cluster.embedded.write_timeout_seconds);
      e.get("max_header_bytes", c.cluster.embedded.max_header_bytes);
      e.get("max_body_bytes", c.cluster.embedded.max_body_bytes);
      e.get("max_watch_backlog", c.cluster.embedded.max_watch_backlog);
      e.finish();
    }
    s.finish();
  }
  {
    auto s = top.section("discovery");
    s.get("auto_accept", c.discovery.auto_accept);
    s.get_enum("wipe", c.discovery.wipe, kWipeModes);
    s.get_enum("boot_from_disk_method", c.discovery.boot_from_disk_method, kDiskBootMethods);
    s.get("boot_tokens_per_minute", c.discovery.boot_tokens_per_minute);
    s.get("boot_token_ttl_seconds", c.discovery.boot_token_ttl_seconds);
    s.get("session_ttl_seconds", c.discovery.session_ttl_seconds);
    s.get("require_tpm", c.discovery.require_tpm);
    s.get("tpm_challenge_ttl_seconds", c.discovery.tpm_challenge_ttl_seconds);
    s.get("tpm_challenges_per_address", c.discovery.tpm_challenges_per_address);
    s.finish();
  }
  {
    auto s = top.section("environments");
    s.get("local_dirs", c.environments.local_dirs);
    s.get("allow_unverified", c.environments.allow_unverified);
    s.get("ca_bundle", c.environments.ca_bundle);
    s.get("max_file_bytes", c.environments.max_file_bytes);
    s.get("quota_bytes", c.environments.quota_bytes);
    s.get("connect_timeout_seconds", c.environments.connect_timeout_seconds);
    s.get("read_timeout_seconds", c.environments.read_timeout_seconds);
    s.finish();
  }
  {
    auto s = top.section("bmc");
    s.get("enabled", c.bmc.enabled);
    s.get("power_refresh_seconds", c.bmc.power_refresh_seconds);
    s.get("max_concurrent", c.bmc.max_concurrent);
    s.get("min_interval_ms", c.bmc.min_interval_ms);
    s.get("power_off_available", c.bmc.power_off_available);
    s.get("auto_setup", c.bmc.auto_setup);
    s.finish();
  }
  {
    auto s = top.section("log");
    s.get_enum("level", c.log.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
    s.finish();
  }
  top.finish();
  validate(c, source_name, marks);
  return c;
}

Config load_config_file(const std::string& path) {
  const auto text = read_file(path);
  if (!text) throw ConfigError(path + ": cannot read the configuration file");
  return parse_config(*text, path);
}

}  // namespace ironboot
