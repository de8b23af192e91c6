// Credentials of the embedded API, created with OpenSSL on first start and kept under
// data_dir (mode 0600): a CA, a server certificate signed by it (SAN 127.0.0.1, localhost
// and the listen host) and two random bearer tokens: `token` (admin) and `token-readonly`
// (get/list/watch except secrets; see kube/authz.hpp).
#pragma once

#include <string>

namespace ironboot::kube {

struct TlsMaterial {
  std::string ca_cert_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string token;           // admin
  std::string read_only_token;
};

// Loads the files, creating what is missing (and a new server certificate when the
// listen host is not among its SANs). Throws std::runtime_error (startup only).
TlsMaterial ensure_tls_material(const std::string& data_dir, const std::string& listen_host);

// A kubeconfig (YAML) for the embedded API at `server_url` ("https://127.0.0.1:6443"): user
// and context "ironboot" with the admin token, or "ironboot-read-only" with the read-only one.
std::string render_kubeconfig(const TlsMaterial& material, const std::string& server_url, bool read_only = false);

// The https:// URL clients use for a listen address ("0.0.0.0:6443" -> 127.0.0.1).
std::string embedded_server_url(const std::string& listen);

}  // namespace ironboot::kube
