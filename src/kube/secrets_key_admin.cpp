#include "kube/secrets_key_admin.hpp"

#include <stdexcept>

#include "kube/secret_box.hpp"
#include "kube/store_log.hpp"

namespace ironboot::kube {

std::string rotate_secrets_key(const std::string& data_dir) {
  const std::string path = secrets_key_path(data_dir);
  SecretKeyring keys = load_secret_keys(path);
  if (!keys.rotate()) throw std::runtime_error(path + ": no randomness for a new Secrets key");
  write_secret_keys(path, keys);
  return path + ": new key " + keys.current().id + " first (" + std::to_string(keys.keys().size()) +
         " keys); restart ironboot to re-encrypt the store log under it, then run `ironboot secrets-key prune`";
}

std::string prune_secrets_keys(const std::string& data_dir) {
  const std::string path = secrets_key_path(data_dir);
  SecretKeyring keys = load_secret_keys(path);
  const std::string current = keys.current().id;
  if (keys.keys().size() == 1) return path + ": only key " + current + ", nothing to prune";
  const LogKeyUsage usage = StoreLog::key_usage(data_dir + "/store.log");
  std::string still_used;
  for (const auto& id : usage.sealed_with)
    if (id != current) still_used += (still_used.empty() ? "" : ", ") + id;
  if (!still_used.empty())
    throw std::runtime_error(path + ": store.log still has Secrets under key " + still_used +
                             "; restart ironboot so it re-encrypts them under " + current + ", then prune again");
  // A daemon started before the rotation still writes with its old key: pruning that key
  // would make its next records unreadable.
  if (!usage.writer_key.empty() && usage.writer_key != current)
    throw std::runtime_error(path + ": store.log is being written with key " + usage.writer_key +
                             " (ironboot was not restarted since the rotation); restart it, then prune again");
  const std::size_t removed = keys.keys().size() - 1;
  keys.keep_only_current();
  write_secret_keys(path, keys);
  return path + ": kept key " + current + ", removed " + std::to_string(removed);
}

}  // namespace ironboot::kube
