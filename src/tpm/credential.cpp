#include "tpm/credential.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <memory>

namespace ironboot::tpm {

namespace {

constexpr std::size_t kSha256 = 32;

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Free<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using KdfPtr = std::unique_ptr<EVP_KDF, Free<EVP_KDF, EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Free<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Free<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Free<OSSL_PARAM, OSSL_PARAM_free>>;

Result<PkeyPtr> rsa_key(const PublicArea& ek) {
  BnPtr n(BN_bin2bn(ek.unique.data(), static_cast<int>(ek.unique.size()), nullptr));
  BnPtr e(BN_new());
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!n || !e || !bld || !BN_set_word(e.get(), ek.rsa_exponent == 0 ? 65537 : ek.rsa_exponent))
    return Error{"out of memory"};
  if (!OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()))
    return Error{"out of memory"};
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return Error{"the EK modulus is not an RSA public key"};
  return PkeyPtr(key);
}

Result<Bytes> oaep_encrypt(EVP_PKEY* key, std::span<const std::uint8_t> seed) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  // The label is "IDENTITY" with its terminating NUL (Part 1, B.10.3).
  static const char kLabel[] = "IDENTITY";
  void* label = OPENSSL_memdup(kLabel, sizeof kLabel);
  if (!ctx || !label || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, sizeof kLabel) <= 0) {
    OPENSSL_free(label);
    return Error{"RSA-OAEP setup failed"};
  }
  std::size_t n = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &n, seed.data(), seed.size()) <= 0) return Error{"RSA-OAEP failed"};
  Bytes out(n);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &n, seed.data(), seed.size()) <= 0) return Error{"RSA-OAEP failed"};
  out.resize(n);
  return out;
}

Result<Bytes> aes_cfb_encrypt(std::span<const std::uint8_t> key, std::span<const std::uint8_t> plain) {
  const EVP_CIPHER* cipher = key.size() == 16 ? EVP_aes_128_cfb128() : EVP_aes_256_cfb128();
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  const std::uint8_t iv[16] = {};  // zero IV: the key is used once (Part 1, 24.4)
  Bytes out(plain.size() + 16);
  int n = 0, tail = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &n, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &tail) != 1)
    return Error{"AES-CFB failed"};
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

Result<Bytes> hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  Bytes out(kSha256);
  std::size_t n = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), data.data(), data.size(),
                 out.data(), out.size(), &n) ||
      n != kSha256)
    return Error{"HMAC failed"};
  return out;
}

}  // namespace

Result<Bytes> object_name(const PublicArea& p) {
  if (p.name_alg != kAlgSha256) return Error{"only SHA-256 names are supported"};
  Bytes name{0x00, 0x0B};
  name.resize(2 + kSha256);
  unsigned int n = 0;
  if (EVP_Digest(p.marshaled.data(), p.marshaled.size(), name.data() + 2, &n, EVP_sha256(), nullptr) != 1)
    return Error{"SHA-256 failed"};
  return name;
}

Result<std::string> public_key_sha256(const PublicArea& ek) {
  if (ek.type != kAlgRsa) return Error{"only RSA EKs are supported"};
  if (ek.unique.empty() || ek.unique.size() * 8 != ek.rsa_bits) return Error{"the EK modulus does not have its stated size"};
  auto key = rsa_key(ek);
  if (auto* e = std::get_if<Error>(&key)) return *e;
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(std::get<PkeyPtr>(key).get(), &der);
  if (n <= 0) return Error{"the EK public key cannot be encoded"};
  std::uint8_t digest[kSha256];
  unsigned int digest_size = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(n), digest, &digest_size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1 || digest_size != kSha256) return Error{"SHA-256 failed"};
  return to_hex(digest);
}

Result<Bytes> kdfa_sha256(std::span<const std::uint8_t> key, const std::string& label, std::span<const std::uint8_t> context_u,
                          std::span<const std::uint8_t> context_v, std::size_t bits) {
  if (bits == 0 || bits % 8 != 0 || bits > 8 * 1024) return Error{"KDFa of " + std::to_string(bits) + " bits"};
  // OpenSSL's KBKDF in counter mode is exactly KDFa: [i]32 || label || 00 || context || [L]32.
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "KBKDF", nullptr));
  KdfCtxPtr ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return Error{"KBKDF unavailable"};
  Bytes context(context_u.begin(), context_u.end());
  context.insert(context.end(), context_v.begin(), context_v.end());
  std::string label_copy = label, mode = "counter", mac = "HMAC", digest = "SHA256";
  Bytes key_copy(key.begin(), key.end());
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, mode.data(), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, mac.data(), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key_copy.data(), key_copy.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, label_copy.data(), label_copy.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, context.data(), context.size()),
      OSSL_PARAM_construct_end()};
  Bytes out(bits / 8);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return Error{"KDFa failed"};
  return out;
}

Result<MadeCredential> make_credential(const PublicArea& ek, std::span<const std::uint8_t> ak_name,
                                       std::span<const std::uint8_t> secret, std::span<const std::uint8_t> seed) {
  if (ek.type != kAlgRsa || ek.name_alg != kAlgSha256) return Error{"the EK is not an RSA key with SHA-256 names"};
  if (ek.symmetric_alg != kAlgAes || ek.symmetric_mode != kAlgCfb ||
      (ek.symmetric_bits != 128 && ek.symmetric_bits != 256))
    return Error{"the EK's symmetric algorithm is not AES-128/256-CFB"};
  if (ek.unique.size() * 8 != ek.rsa_bits) return Error{"the EK modulus does not have its stated size"};
  if (secret.empty() || secret.size() > kSha256) return Error{"a credential has 1 to 32 bytes"};
  if (seed.size() != kSha256) return Error{"the seed has 32 bytes"};
  if (ak_name.size() != 2 + kSha256) return Error{"the AK name is not a SHA-256 name"};
  auto key = rsa_key(ek);
  if (auto* e = std::get_if<Error>(&key)) return *e;
  auto encrypted_seed = oaep_encrypt(std::get<PkeyPtr>(key).get(), seed);
  if (auto* e = std::get_if<Error>(&encrypted_seed)) return *e;
  auto sym_key = kdfa_sha256(seed, "STORAGE", ak_name, {}, ek.symmetric_bits);
  if (auto* e = std::get_if<Error>(&sym_key)) return *e;
  Writer plain;
  plain.tpm2b(secret);  // the credential is a TPM2B_DIGEST, encrypted with its size
  const Bytes plain_bytes = plain.take();
  auto enc_identity = aes_cfb_encrypt(std::get<Bytes>(sym_key), plain_bytes);
  if (auto* e = std::get_if<Error>(&enc_identity)) return *e;
  auto hmac_key = kdfa_sha256(seed, "INTEGRITY", {}, {}, 8 * kSha256);
  if (auto* e = std::get_if<Error>(&hmac_key)) return *e;
  Bytes mac_input = std::get<Bytes>(enc_identity);
  mac_input.insert(mac_input.end(), ak_name.begin(), ak_name.end());
  auto outer_hmac = hmac_sha256(std::get<Bytes>(hmac_key), mac_input);
  if (auto* e = std::get_if<Error>(&outer_hmac)) return *e;
  Writer id;
  id.tpm2b(std::get<Bytes>(outer_hmac));
  id.bytes(std::get<Bytes>(enc_identity));
  return MadeCredential{id.take(), std::move(std::get<Bytes>(encrypted_seed))};
}

Result<MadeCredential> make_credential(const PublicArea& ek, std::span<const std::uint8_t> ak_name,
                                       std::span<const std::uint8_t> secret) {
  Bytes seed(kSha256);
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) return Error{"no randomness"};
  return make_credential(ek, ak_name, secret, seed);
}

Bytes to_tpm2_tools_file(const MadeCredential& c) {
  Writer w;
  w.u32(0xBADCC0DE);
  w.u32(1);
  w.tpm2b(c.id_object);
  w.tpm2b(c.encrypted_secret);
  return w.take();
}

Result<MadeCredential> from_tpm2_tools_file(std::span<const std::uint8_t> file) {
  Reader r(file);
  if (r.u32() != 0xBADCC0DE || r.u32() != 1) return Error{"not a tpm2-tools credential file (magic, version 1)"};
  MadeCredential c;
  auto id = r.tpm2b(kMaxPublicBytes);
  c.id_object.assign(id.begin(), id.end());
  auto secret = r.tpm2b(kMaxPublicBytes);
  c.encrypted_secret.assign(secret.begin(), secret.end());
  if (!r.ok()) return Error{"credential file: " + r.error()};
  if (r.remaining() != 0) return Error{"credential file: bytes after the secret"};
  return c;
}

}  // namespace ironboot::tpm
