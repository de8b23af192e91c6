// Encryption at rest of Secrets in the store log: the keyring kept in <data_dir>/secrets.key
// and AES-256-GCM (OpenSSL EVP) sealing of one record. docs/cluster.md "Secrets at rest"
// describes the formats and key rotation.
//
// Key file: one key per line, "<key-id> <base64 of 32 bytes>"; blank lines and lines
// starting with '#' are ignored. The first key seals new records; every key opens records
// that name its id. The file must be a regular file of mode 0600 or stricter.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::kube {

inline constexpr std::size_t kSecretKeyBytes = 32;   // AES-256
inline constexpr std::size_t kSecretNonceBytes = 12;  // 96-bit GCM nonce, random per record
inline constexpr std::size_t kSecretTagBytes = 16;

struct SecretKey {
  std::string id;  // [A-Za-z0-9._-]{1,64}
  std::array<unsigned char, kSecretKeyBytes> bytes{};

  SecretKey() = default;
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  SecretKey(SecretKey&&) = default;
  SecretKey& operator=(SecretKey&&) = default;
  ~SecretKey();  // wipes `bytes`
};

class SecretKeyring {
 public:
  // The key file's text, or nullopt with `error` saying what is wrong (never the key bytes).
  static std::optional<SecretKeyring> parse(std::string_view text, std::string& error);
  // A keyring of one new random key (nullopt when OpenSSL has no randomness).
  static std::optional<SecretKeyring> generate();

  SecretKeyring() = default;
  explicit SecretKeyring(std::vector<SecretKey> keys) : keys_(std::move(keys)) {}

  bool empty() const { return keys_.empty(); }
  const SecretKey& current() const { return keys_.front(); }
  const SecretKey* find(std::string_view id) const;
  const std::vector<SecretKey>& keys() const { return keys_; }

  // Puts a new random key first (the others stay, to open older records). False when
  // OpenSSL has no randomness.
  bool rotate();
  // Keeps only the current key.
  void keep_only_current() { keys_.resize(1); }
  // The key file's text (a comment line, then the keys newest first).
  std::string render() const;

 private:
  std::vector<SecretKey> keys_;
};

// The additional authenticated data of a sealed record: binds the ciphertext to its
// resource, object name and resourceVersion, so it cannot be replayed under another.
std::string secret_record_aad(std::string_view resource, std::string_view name, std::uint64_t rv);

struct SealedSecret {
  std::string nonce;       // kSecretNonceBytes
  std::string ciphertext;  // the encrypted bytes followed by the kSecretTagBytes tag
};

// AES-256-GCM with a fresh random nonce; nullopt only when OpenSSL fails.
std::optional<SealedSecret> seal_secret(const SecretKey& key, std::string_view plaintext, std::string_view aad);
// The plaintext, or nullopt when the nonce or lengths are wrong or authentication fails.
std::optional<std::string> open_secret(const SecretKey& key, std::string_view nonce, std::string_view ciphertext,
                                       std::string_view aad);

// <data_dir>/secrets.key
std::string secrets_key_path(const std::string& data_dir);

// Reads the key file, creating it (one new key, mode 0600, written to a temporary file,
// fsynced and linked into place so a concurrent creator cannot be overwritten) when it
// does not exist. Throws std::runtime_error naming the file when it cannot be read or
// created, is not a regular file, is accessible by group or others, or is malformed.
SecretKeyring load_or_create_secret_keys(const std::string& path, bool* created = nullptr);
// Reads an existing key file with the same checks; throws std::runtime_error.
SecretKeyring load_secret_keys(const std::string& path);
// Replaces the key file atomically (temporary file, fsync, rename, fsync of the directory).
void write_secret_keys(const std::string& path, const SecretKeyring& keys);

}  // namespace ironboot::kube
