#include "kube/kubeconfig.hpp"

#include "common/files.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/base64.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "kube/json_ops.hpp"

extern char** environ;

namespace ironboot::kube {

namespace json = boost::json;

std::string read_text_file(const std::string& path) { return read_file(path).value_or(""); }

namespace {

const json::object* named(const json::object& root, const char* list, const char* item_key, const std::string& name) {
  const auto* l = root.if_contains(list);
  if (!l || !l->is_array()) return nullptr;
  for (const auto& e : l->as_array()) {
    if (!e.is_object()) continue;
    const auto* n = e.as_object().if_contains("name");
    if (n && n->is_string() && n->as_string() == name) {
      const auto* inner = e.as_object().if_contains(item_key);
      return inner && inner->is_object() ? &inner->as_object() : nullptr;
    }
  }
  return nullptr;
}

std::string str(const json::object* o, const char* key) {
  if (!o) return {};
  const auto* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A *-data field: base64 that may be wrapped over lines (white space anywhere is skipped);
// "" when it does not decode.
std::string decode_data_field(std::string_view text) {
  std::string packed;
  for (const char c : text)
    if (kAsciiWhitespace.find(c) == std::string_view::npos) packed += c;
  if (packed.empty()) return {};
  return base64_decode(packed).value_or(std::string());
}

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/' || base_dir.empty()) return p;
  return base_dir + "/" + p;
}

bool split_server(ClusterCredentials& c, std::string* error) {
  auto u = boost::urls::parse_uri(c.server);
  if (!u || u->scheme() != "https" || u->host().empty()) {
    if (error) *error = "cluster server must be an https:// URL: " + c.server;
    return false;
  }
  c.host = std::string(u->host_address());
  if (c.host.size() > 2 && c.host.front() == '[') c.host = c.host.substr(1, c.host.size() - 2);
  c.port = u->has_port() ? std::string(u->port()) : "443";
  return true;
}

// Merges the kubeconfig files of a $KUBECONFIG list: the first file to set a key wins.
json::object merge_kubeconfigs(const std::vector<std::pair<json::object, std::string>>& docs) {
  json::object merged;
  for (const auto& [doc, dir] : docs) {
    for (const auto& [k, v] : doc) {
      if (!merged.contains(k)) {
        merged[k] = v;
      } else if (v.is_array() && merged[k].is_array()) {
        auto& arr = merged[k].as_array();
        for (const auto& item : v.as_array()) {
          const auto* n = item.is_object() ? item.as_object().if_contains("name") : nullptr;
          bool present = false;
          for (const auto& e : arr) {
            const auto* en = e.is_object() ? e.as_object().if_contains("name") : nullptr;
            present = present || (n && en && *n == *en);
          }
          if (!present) arr.push_back(item);
        }
      }
    }
  }
  return merged;
}

}  // namespace

std::optional<ClusterCredentials> parse_kubeconfig(const std::string& yaml_text, const std::string& base_dir, std::string* error) {
  auto doc = yaml_to_json(yaml_text, error);
  if (!doc || !doc->is_object()) {
    if (error && error->empty()) *error = "kubeconfig is not a YAML mapping";
    return std::nullopt;
  }
  const auto& root = doc->as_object();
  const std::string current = str(&root, "current-context");
  const json::object* ctx = named(root, "contexts", "context", current);
  if (!ctx) {
    if (error) *error = "kubeconfig: current-context '" + current + "' not found";
    return std::nullopt;
  }
  const json::object* cluster = named(root, "clusters", "cluster", str(ctx, "cluster"));
  if (!cluster) {
    if (error) *error = "kubeconfig: cluster '" + str(ctx, "cluster") + "' not found";
    return std::nullopt;
  }
  const json::object* user = named(root, "users", "user", str(ctx, "user"));
  ClusterCredentials c;
  c.namespace_ = str(ctx, "namespace");
  c.server = str(cluster, "server");
  if (!split_server(c, error)) return std::nullopt;
  if (const auto* v = cluster->if_contains("insecure-skip-tls-verify"); v && v->is_bool()) c.insecure_skip_verify = v->as_bool();
  c.tls_server_name = str(cluster, "tls-server-name");
  if (!str(cluster, "certificate-authority-data").empty()) {
    c.ca_pem = decode_data_field(str(cluster, "certificate-authority-data"));
  } else if (!str(cluster, "certificate-authority").empty()) {
    const std::string p = resolve(base_dir, str(cluster, "certificate-authority"));
    c.ca_pem = read_text_file(p);
    if (c.ca_pem.empty()) {
      if (error) *error = "kubeconfig: cannot read certificate-authority " + p;
      return std::nullopt;
    }
  }
  if (c.insecure_skip_verify && !c.ca_pem.empty()) {
    if (error) *error = "kubeconfig: insecure-skip-tls-verify cannot be combined with a certificate authority";
    return std::nullopt;
  }
  if (user) {
    c.token = str(user, "token");
    c.token_file = resolve(base_dir, str(user, "tokenFile"));
    c.username = str(user, "username");
    c.password = str(user, "password");
    c.client_cert_pem = !str(user, "client-certificate-data").empty()
                            ? decode_data_field(str(user, "client-certificate-data"))
                            : (str(user, "client-certificate").empty() ? "" : read_text_file(resolve(base_dir, str(user, "client-certificate"))));
    c.client_key_pem = !str(user, "client-key-data").empty()
                           ? decode_data_field(str(user, "client-key-data"))
                           : (str(user, "client-key").empty() ? "" : read_text_file(resolve(base_dir, str(user, "client-key"))));
    if (const auto* e = user->if_contains("exec"); e && e->is_object()) {
      ExecPlugin p;
      const auto& eo = e->as_object();
      p.command = resolve(str(&eo, "command").find('/') != std::string::npos ? base_dir : "", str(&eo, "command"));
      if (!str(&eo, "apiVersion").empty()) p.api_version = str(&eo, "apiVersion");
      if (const auto* a = eo.if_contains("args"); a && a->is_array())
        for (const auto& s : a->as_array())
          if (s.is_string()) p.args.emplace_back(s.as_string());
      if (const auto* en = eo.if_contains("env"); en && en->is_array())
        for (const auto& s : en->as_array())
          if (s.is_object()) p.env.emplace_back(str(&s.as_object(), "name"), str(&s.as_object(), "value"));
      c.exec = std::move(p);
    }
  }
  return c;
}

std::optional<ClusterCredentials> load_kubeconfig(const std::string& path, std::string* error) {
  std::vector<std::string> paths;
  if (!path.empty()) {
    paths.push_back(path);
  } else if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string list = env;
    std::size_t pos = 0;
    while (pos <= list.size()) {
      auto colon = list.find(':', pos);
      std::string p = list.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
      if (!p.empty()) paths.push_back(p);
      if (colon == std::string::npos) break;
      pos = colon + 1;
    }
  } else if (const char* home = std::getenv("HOME")) {
    paths.push_back(std::string(home) + "/.kube/config");
  }
  std::vector<std::pair<json::object, std::string>> docs;
  std::string first_dir;
  for (const auto& p : paths) {
    std::string text = read_text_file(p);
    if (text.empty()) continue;
    auto doc = yaml_to_json(text, error);
    if (!doc || !doc->is_object()) {
      if (error) *error = "kubeconfig " + p + ": " + (error ? *error : std::string());
      return std::nullopt;
    }
    const auto slash = p.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : p.substr(0, slash);
    if (first_dir.empty()) first_dir = dir;
    docs.emplace_back(std::move(doc->as_object()), dir);
  }
  if (docs.empty()) {
    if (error) *error = "no readable kubeconfig (" + (paths.empty() ? std::string("none given") : paths.front()) + ")";
    return std::nullopt;
  }
  return parse_kubeconfig(json::serialize(merge_kubeconfigs(docs)), first_dir, error);
}

std::optional<ClusterCredentials> in_cluster_credentials(std::string* error, const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port || !*host || !*port) {
    if (error) *error = "KUBERNETES_SERVICE_HOST/PORT are not set: not running in a cluster";
    return std::nullopt;
  }
  ClusterCredentials c;
  c.host = host;
  c.port = port;
  c.server = "https://" + (c.host.find(':') != std::string::npos ? "[" + c.host + "]" : c.host) + ":" + c.port;
  c.token_file = sa_dir + "/token";
  c.token = read_text_file(c.token_file);
  c.token = std::string(trim(c.token));  // as client-go's strings.TrimSpace
  c.ca_pem = read_text_file(sa_dir + "/ca.crt");
  if (c.token.empty() || c.ca_pem.empty()) {
    if (error) *error = "cannot read the service account token or ca.crt under " + sa_dir;
    return std::nullopt;
  }
  return c;
}

std::optional<ExecCredential> parse_exec_credential(const std::string& text, std::string* error) {
  auto v = parse_json(text, error);
  if (!v || !v->is_object() || !v->as_object().contains("status") || !v->at("status").is_object()) {
    if (error) *error = "exec plugin output is not an ExecCredential";
    return std::nullopt;
  }
  const auto& s = v->at("status").as_object();
  ExecCredential c;
  c.token = str(&s, "token");
  c.client_cert_pem = str(&s, "clientCertificateData");
  c.client_key_pem = str(&s, "clientKeyData");
  if (!str(&s, "expirationTimestamp").empty()) c.expiry = parse_rfc3339(str(&s, "expirationTimestamp"));
  if (c.token.empty() && (c.client_cert_pem.empty() || c.client_key_pem.empty())) {
    if (error) *error = "exec plugin returned neither a token nor a client certificate";
    return std::nullopt;
  }
  return c;
}

}  // namespace ironboot::kube
