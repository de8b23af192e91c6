#include "bmc/ipmi_crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

namespace ironboot::bmc::ipmi {
namespace {

const EVP_MD* digest(AuthAlg alg) {
  switch (alg) {
    case AuthAlg::HmacSha1: return EVP_sha1();
    case AuthAlg::HmacSha256: return EVP_sha256();
    default: return nullptr;
  }
}

void put32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void append(Bytes& out, std::span<const std::uint8_t> bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

void append_user(Bytes& out, const RakpInputs& in) {
  out.push_back(in.role);
  out.push_back(static_cast<std::uint8_t>(in.username.size()));
  out.insert(out.end(), in.username.begin(), in.username.end());
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// One AES-128-CBC pass without OpenSSL's padding (IPMI pads itself); false on any failure.
bool aes_pass(bool encrypt, std::span<const std::uint8_t> key, std::span<const std::uint8_t> iv,
              std::span<const std::uint8_t> in, std::uint8_t* out) {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx || key.size() < 16 || iv.size() != 16 || in.size() % 16 != 0) return false;
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key.data(), iv.data(), encrypt ? 1 : 0) != 1) return false;
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  int n = 0;
  int tail = 0;
  if (EVP_CipherUpdate(ctx.get(), out, &n, in.data(), static_cast<int>(in.size())) != 1) return false;
  if (EVP_CipherFinal_ex(ctx.get(), out + n, &tail) != 1) return false;
  return static_cast<std::size_t>(n + tail) == in.size();
}

}  // namespace

std::optional<CipherSuite> cipher_suite(int id) {
  if (id == 3) return CipherSuite{3, AuthAlg::HmacSha1, IntegrityAlg::HmacSha1_96, ConfidentialityAlg::AesCbc128};
  if (id == 17) return CipherSuite{17, AuthAlg::HmacSha256, IntegrityAlg::HmacSha256_128, ConfidentialityAlg::AesCbc128};
  return std::nullopt;
}

Bytes hmac(AuthAlg alg, std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  const EVP_MD* md = digest(alg);
  if (md == nullptr) return {};
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len) == nullptr) return {};
  out.resize(len);
  return out;
}

std::optional<Bytes> user_key(const std::string& password) {
  if (password.size() > 20) return std::nullopt;
  Bytes key(password.begin(), password.end());
  key.resize(20, 0);
  return key;
}

Bytes rakp2_auth_code(AuthAlg alg, std::span<const std::uint8_t> kuid, const RakpInputs& in) {
  Bytes data;
  put32(data, in.console_session_id);
  put32(data, in.bmc_session_id);
  append(data, in.console_random);
  append(data, in.bmc_random);
  append(data, in.bmc_guid);
  append_user(data, in);
  return hmac(alg, kuid, data);
}

Bytes rakp3_auth_code(AuthAlg alg, std::span<const std::uint8_t> kuid, const RakpInputs& in) {
  Bytes data;
  append(data, in.bmc_random);
  put32(data, in.console_session_id);
  append_user(data, in);
  return hmac(alg, kuid, data);
}

Bytes session_integrity_key(AuthAlg alg, std::span<const std::uint8_t> kg, const RakpInputs& in) {
  Bytes data;
  append(data, in.console_random);
  append(data, in.bmc_random);
  append_user(data, in);
  return hmac(alg, kg, data);
}

Bytes rakp4_check(AuthAlg alg, std::span<const std::uint8_t> sik, const RakpInputs& in) {
  Bytes data;
  append(data, in.console_random);
  put32(data, in.bmc_session_id);
  append(data, in.bmc_guid);
  Bytes code = hmac(alg, sik, data);
  code.resize(std::min<std::size_t>(code.size(), alg == AuthAlg::HmacSha1 ? 12 : 16));
  return code;
}

Bytes derived_key(AuthAlg alg, std::span<const std::uint8_t> sik, std::uint8_t n) {
  const EVP_MD* md = digest(alg);
  if (md == nullptr) return {};
  const Bytes constant(static_cast<std::size_t>(EVP_MD_get_size(md)), n);
  return hmac(alg, sik, constant);
}

std::size_t integrity_code_length(IntegrityAlg alg) {
  switch (alg) {
    case IntegrityAlg::HmacSha1_96: return 12;
    case IntegrityAlg::HmacSha256_128: return 16;
    default: return 0;
  }
}

Bytes integrity_code(IntegrityAlg alg, std::span<const std::uint8_t> k1, std::span<const std::uint8_t> data) {
  const AuthAlg family = alg == IntegrityAlg::HmacSha1_96      ? AuthAlg::HmacSha1
                         : alg == IntegrityAlg::HmacSha256_128 ? AuthAlg::HmacSha256
                                                               : AuthAlg::None;
  Bytes code = hmac(family, k1, data);
  code.resize(std::min(code.size(), integrity_code_length(alg)));
  return code;
}

bool same_code(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Bytes aes_cbc_encrypt(std::span<const std::uint8_t> k2, std::span<const std::uint8_t, 16> iv,
                      std::span<const std::uint8_t> plain) {
  Bytes block(plain.begin(), plain.end());
  // Pad bytes 1, 2, ..., n and the pad length n so that data + pad + length is whole blocks.
  const std::size_t pad = (16 - (plain.size() + 1) % 16) % 16;
  for (std::size_t i = 1; i <= pad; ++i) block.push_back(static_cast<std::uint8_t>(i));
  block.push_back(static_cast<std::uint8_t>(pad));
  Bytes out(iv.begin(), iv.end());
  out.resize(16 + block.size());
  if (!aes_pass(true, k2, iv, block, out.data() + 16)) return {};
  return out;
}

std::optional<Bytes> aes_cbc_decrypt(std::span<const std::uint8_t> k2, std::span<const std::uint8_t> payload) {
  if (payload.size() < 32 || payload.size() % 16 != 0) return std::nullopt;
  Bytes plain(payload.size() - 16);
  if (!aes_pass(false, k2, payload.first(16), payload.subspan(16), plain.data())) return std::nullopt;
  const std::size_t pad = plain.back();
  if (pad > 15 || pad + 1 > plain.size()) return std::nullopt;
  const std::size_t data_len = plain.size() - 1 - pad;
  for (std::size_t i = 0; i < pad; ++i) {
    if (plain[data_len + i] != i + 1) return std::nullopt;
  }
  plain.resize(data_len);
  return plain;
}

}  // namespace ironboot::bmc::ipmi
