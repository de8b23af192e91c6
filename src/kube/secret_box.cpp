#include "kube/secret_box.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "common/base64.hpp"
#include "common/text.hpp"

namespace ironboot::kube {

namespace {

constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;
constexpr std::size_t kMaxKeyIdBytes = 64;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

bool valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdBytes) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<SecretKey> random_key() {
  SecretKey key;
  unsigned char id[8];
  if (RAND_bytes(key.bytes.data(), static_cast<int>(key.bytes.size())) != 1 || RAND_bytes(id, sizeof id) != 1)
    return std::nullopt;
  static const char* hex = "0123456789abcdef";
  key.id = "k";
  for (unsigned char b : id) {
    key.id += hex[b >> 4];
    key.id += hex[b & 15];
  }
  return key;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

void fsync_parent(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// Writes `text` to a new temporary file beside `path` (mkostemp: mode 0600, a name of its
// own, so two writers never share one) and fsyncs it. Returns its name.
std::string write_temporary(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot create a temporary file: ") + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;
  std::size_t done = 0;
  while (ok && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    fail(tmp, std::string("cannot write: ") + std::strerror(saved));
  }
  return tmp;
}

// nullopt when the file does not exist; throws when it exists but is unusable.
std::optional<SecretKeyring> read_key_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail(path, std::string("cannot open the Secrets key file: ") + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "the Secrets key file is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char octal[16];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fail(path, std::string("the Secrets key file is accessible by group or others (mode ") + octal +
                   "); chmod 600 it");
  }
  std::string text;
  char buf[4096];
  while (text.size() <= kMaxKeyFileBytes) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      fail(path, std::string("cannot read the Secrets key file: ") + std::strerror(saved));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (text.size() > kMaxKeyFileBytes) fail(path, "the Secrets key file is larger than 64 KiB");
  std::string error;
  auto keys = SecretKeyring::parse(text, error);
  OPENSSL_cleanse(text.data(), text.size());
  if (!keys) fail(path, "malformed Secrets key file: " + error);
  return keys;
}

}  // namespace

SecretKey::~SecretKey() { OPENSSL_cleanse(bytes.data(), bytes.size()); }

std::optional<SecretKeyring> SecretKeyring::parse(std::string_view text, std::string& error) {
  std::vector<SecretKey> keys;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    const auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      error = where + "expected \"<key-id> <base64 key>\"";
      return std::nullopt;
    }
    const std::string_view id = line.substr(0, space);
    const std::string_view encoded = trim(line.substr(space));
    if (!valid_key_id(id)) {
      error = where + "key id must be 1-64 characters of [A-Za-z0-9._-]";
      return std::nullopt;
    }
    auto raw = base64_decode(encoded);
    if (!raw || raw->size() != kSecretKeyBytes) {
      const std::size_t got = raw ? raw->size() : 0;
      if (raw) OPENSSL_cleanse(raw->data(), raw->size());
      error = where + "key " + std::string(id) + " is not the base64 of exactly 32 bytes" +
              (raw ? " (found " + std::to_string(got) + ")" : "");
      return std::nullopt;
    }
    for (const auto& k : keys) {
      if (k.id == id) {
        OPENSSL_cleanse(raw->data(), raw->size());
        error = where + "key id " + std::string(id) + " appears twice";
        return std::nullopt;
      }
    }
    SecretKey key;
    key.id = std::string(id);
    std::memcpy(key.bytes.data(), raw->data(), kSecretKeyBytes);
    OPENSSL_cleanse(raw->data(), raw->size());
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    error = "no key";
    return std::nullopt;
  }
  return SecretKeyring(std::move(keys));
}

std::optional<SecretKeyring> SecretKeyring::generate() {
  auto key = random_key();
  if (!key) return std::nullopt;
  return SecretKeyring({std::move(*key)});
}

const SecretKey* SecretKeyring::find(std::string_view id) const {
  for (const auto& k : keys_)
    if (k.id == id) return &k;
  return nullptr;
}

bool SecretKeyring::rotate() {
  auto key = random_key();
  if (!key) return false;
  keys_.insert(keys_.begin(), std::move(*key));
  return true;
}

std::string SecretKeyring::render() const {
  std::string out = "# ironboot Secrets-at-rest keys, \"<key-id> <base64 AES-256 key>\"; the first one encrypts\n";
  for (const auto& k : keys_) {
    out += k.id;
    out += ' ';
    out += base64_encode(std::string_view(reinterpret_cast<const char*>(k.bytes.data()), k.bytes.size()));
    out += '\n';
  }
  return out;
}

std::string secret_record_aad(std::string_view resource, std::string_view name, std::uint64_t rv) {
  // Length-prefixed fields: no separator choice can make two different triples collide.
  std::string aad = "ironboot-store-secret-v1";
  put_u32(aad, static_cast<std::uint32_t>(resource.size()));
  aad += resource;
  put_u32(aad, static_cast<std::uint32_t>(name.size()));
  aad += name;
  for (int i = 0; i < 8; ++i) aad.push_back(static_cast<char>((rv >> (8 * i)) & 0xff));
  return aad;
}

std::optional<SealedSecret> seal_secret(const SecretKey& key, std::string_view plaintext, std::string_view aad) {
  SealedSecret out;
  out.nonce.resize(kSecretNonceBytes);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.nonce.data()), static_cast<int>(kSecretNonceBytes)) != 1)
    return std::nullopt;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;
  const auto* iv = reinterpret_cast<const unsigned char*>(out.nonce.data());
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1)
    return std::nullopt;
  out.ciphertext.resize(plaintext.size() + kSecretTagBytes);
  auto* ct = reinterpret_cast<unsigned char*>(out.ciphertext.data());
  if (EVP_EncryptUpdate(ctx.get(), ct, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1)
    return std::nullopt;
  int total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), ct + total, &len) != 1) return std::nullopt;
  total += len;
  if (static_cast<std::size_t>(total) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kSecretTagBytes), ct + total) != 1)
    return std::nullopt;
  return out;
}

std::optional<std::string> open_secret(const SecretKey& key, std::string_view nonce, std::string_view ciphertext,
                                       std::string_view aad) {
  if (nonce.size() != kSecretNonceBytes || ciphertext.size() < kSecretTagBytes) return std::nullopt;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;
  const std::size_t body = ciphertext.size() - kSecretTagBytes;
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1)
    return std::nullopt;
  std::string plain(body, '\0');
  auto* pt = reinterpret_cast<unsigned char*>(plain.data());
  if (EVP_DecryptUpdate(ctx.get(), pt, &len, reinterpret_cast<const unsigned char*>(ciphertext.data()),
                        static_cast<int>(body)) != 1)
    return std::nullopt;
  int total = len;
  // The tag is const for OpenSSL's purposes; the ctrl API takes void*.
  std::string tag(ciphertext.substr(body));
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kSecretTagBytes), tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), pt + total, &len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return std::nullopt;
  }
  total += len;
  plain.resize(static_cast<std::size_t>(total));
  return plain;
}

std::string secrets_key_path(const std::string& data_dir) { return data_dir + "/secrets.key"; }

SecretKeyring load_secret_keys(const std::string& path) {
  auto keys = read_key_file(path);
  if (!keys) fail(path, "no Secrets key file (ironboot creates it on its first start)");
  return std::move(*keys);
}

SecretKeyring load_or_create_secret_keys(const std::string& path, bool* created) {
  if (created) *created = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto keys = read_key_file(path)) return std::move(*keys);
    auto fresh = SecretKeyring::generate();
    if (!fresh) fail(path, "no randomness for the Secrets key");
    const std::string tmp = write_temporary(path, fresh->render());
    // link() does not replace: if another process created the file meanwhile, read theirs.
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int saved = errno;
    ::unlink(tmp.c_str());
    if (rc == 0) {
      fsync_parent(path);
      if (created) *created = true;
      return std::move(*fresh);
    }
    if (saved != EEXIST) fail(path, std::string("cannot create the Secrets key file: ") + std::strerror(saved));
  }
  fail(path, "the Secrets key file appeared and vanished while loading");
}

void write_secret_keys(const std::string& path, const SecretKeyring& keys) {
  std::string text = keys.render();
  const std::string tmp = write_temporary(path, text);
  OPENSSL_cleanse(text.data(), text.size());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    fail(path, std::string("cannot replace the Secrets key file: ") + std::strerror(saved));
  }
  fsync_parent(path);
}

}  // namespace ironboot::kube
