// Where the API is and how to authenticate: a kubeconfig file (the current context) or
// the in-cluster service account. Pure parsing plus file reads; no sockets.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ironboot::kube {

struct ExecPlugin {
  std::string api_version = "client.authentication.k8s.io/v1";
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
};

struct ClusterCredentials {
  std::string server;           // https://host:port
  std::string host;             // without brackets
  std::string port = "443";
  std::string ca_pem;           // empty: system trust store
  bool insecure_skip_verify = false;
  std::string tls_server_name;  // name to verify instead of host
  std::string token;
  std::string token_file;       // re-read every minute and after a 401
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string username;
  std::string password;
  std::optional<ExecPlugin> exec;
  std::string namespace_;       // context namespace (unused: ironboot names the namespace of every namespaced request)
};

// Reads a kubeconfig. `path` empty: $KUBECONFIG (colon list, first file setting a key wins),
// then ~/.kube/config. Relative file references resolve against the kubeconfig's directory.
std::optional<ClusterCredentials> load_kubeconfig(const std::string& path, std::string* error);
// Parses kubeconfig text (file references relative to `base_dir`).
std::optional<ClusterCredentials> parse_kubeconfig(const std::string& yaml_text, const std::string& base_dir, std::string* error);

// In-cluster service account: $KUBERNETES_SERVICE_HOST/PORT and the files under `sa_dir`.
std::optional<ClusterCredentials> in_cluster_credentials(std::string* error,
                                                         const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// What an exec credential plugin printed.
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expiry;
};
std::optional<ExecCredential> parse_exec_credential(const std::string& json_text, std::string* error);

// exec_plugin.hpp runs the plugin.

std::string read_text_file(const std::string& path);

}  // namespace ironboot::kube
