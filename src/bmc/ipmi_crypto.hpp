// RMCP+ cryptography (IPMI 2.0 §13.28-13.32): the RAKP key-exchange auth codes, the session
// integrity key SIK and its derived K1/K2, the integrity AuthCodes (HMAC-SHA1-96,
// HMAC-SHA256-128) and AES-CBC-128 with IPMI's confidentiality pad. OpenSSL underneath; pure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ironboot::bmc::ipmi {

enum class AuthAlg : std::uint8_t { None = 0x00, HmacSha1 = 0x01, HmacMd5 = 0x02, HmacSha256 = 0x03 };
enum class IntegrityAlg : std::uint8_t { None = 0x00, HmacSha1_96 = 0x01, HmacMd5_128 = 0x02, Md5_128 = 0x03, HmacSha256_128 = 0x04 };
enum class ConfidentialityAlg : std::uint8_t { None = 0x00, AesCbc128 = 0x01 };

// The suites ironboot speaks: 3 (SHA1 family) and 17 (SHA256 family), both with AES-CBC-128.
struct CipherSuite {
  int id = 0;
  AuthAlg auth = AuthAlg::None;
  IntegrityAlg integrity = IntegrityAlg::None;
  ConfidentialityAlg confidentiality = ConfidentialityAlg::None;
};
std::optional<CipherSuite> cipher_suite(int id);

// Everything the RAKP exchange mixes into its auth codes.
struct RakpInputs {
  std::uint32_t console_session_id = 0;  // SIDm
  std::uint32_t bmc_session_id = 0;      // SIDc
  std::array<std::uint8_t, 16> console_random{};  // Rm
  std::array<std::uint8_t, 16> bmc_random{};      // Rc
  std::array<std::uint8_t, 16> bmc_guid{};        // GUIDc
  std::uint8_t role = 0;                          // ROLEm as sent in RAKP 1 (lookup bit included)
  std::string username;                           // UNAMEm
};

using Bytes = std::vector<std::uint8_t>;

// HMAC with the digest of the RAKP algorithm (SHA1 or SHA256); empty for None/MD5.
Bytes hmac(AuthAlg alg, std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);
// Kuid: the password, zero-padded to 20 bytes (the IPMI 2.0 password field; longer = error).
std::optional<Bytes> user_key(const std::string& password);
// RAKP 2's auth code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENm, UNAMEm).
Bytes rakp2_auth_code(AuthAlg alg, std::span<const std::uint8_t> kuid, const RakpInputs& in);
// RAKP 3's auth code: HMAC_Kuid(Rc, SIDm, ROLEm, ULENm, UNAMEm).
Bytes rakp3_auth_code(AuthAlg alg, std::span<const std::uint8_t> kuid, const RakpInputs& in);
// SIK = HMAC_Kg(Rm, Rc, ROLEm, ULENm, UNAMEm); Kg is Kuid when the BMC has no BMC key (ours).
Bytes session_integrity_key(AuthAlg alg, std::span<const std::uint8_t> kg, const RakpInputs& in);
// RAKP 4's integrity check value: HMAC_SIK(Rm, SIDc, GUIDc), truncated to 12 (SHA1) / 16 (SHA256).
Bytes rakp4_check(AuthAlg alg, std::span<const std::uint8_t> sik, const RakpInputs& in);
// Kn = HMAC_SIK(constant n repeated over the digest length): K1 integrity, K2 confidentiality.
Bytes derived_key(AuthAlg alg, std::span<const std::uint8_t> sik, std::uint8_t n);

// The session packet's AuthCode: HMAC-SHA1 truncated to 12 bytes or HMAC-SHA256 to 16.
Bytes integrity_code(IntegrityAlg alg, std::span<const std::uint8_t> k1, std::span<const std::uint8_t> data);
std::size_t integrity_code_length(IntegrityAlg alg);  // 0 for None and unsupported algorithms
// Constant-time comparison for auth codes.
bool same_code(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// AES-CBC-128 payload: IV ++ E(data ++ 1,2,..,n ++ n), padded to a whole block. Key: K2[0..16).
Bytes aes_cbc_encrypt(std::span<const std::uint8_t> k2, std::span<const std::uint8_t, 16> iv,
                      std::span<const std::uint8_t> plain);
// The inverse; nullopt when the length, the pad bytes or the pad length are wrong.
std::optional<Bytes> aes_cbc_decrypt(std::span<const std::uint8_t> k2, std::span<const std::uint8_t> payload);

}  // namespace ironboot::bmc::ipmi
