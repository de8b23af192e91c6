// `ironboot secrets-key rotate|prune`: offline key management of <data_dir>/secrets.key.
// Rotation puts a new key first; the daemon re-encrypts the log under it on its next start;
// prune then drops the older keys, refusing while the log still needs one of them.
#pragma once

#include <string>

namespace ironboot::kube {

// Both return the line to print. Throw std::runtime_error (nothing changed) on failure.
std::string rotate_secrets_key(const std::string& data_dir);
std::string prune_secrets_keys(const std::string& data_dir);

}  // namespace ironboot::kube
