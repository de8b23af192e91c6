// TPM 2.0 commands for machine identity (TPM 2.0 Part 3): the EK from the TCG EK template
// L-1 (RSA 2048), an attestation key (a restricted ECC P-256 signing primary), a policy
// session with PolicySecret(TPM_RH_ENDORSEMENT), ActivateCredential and FlushContext.
// Pure: build_* return command bytes, parse_* check every length of a response and return
// its values or an error (with the TPM's response code when it refused).
#pragma once

#include "tpm/marshal.hpp"

#include <cstdint>
#include <span>

namespace ironboot::tpm {

constexpr std::uint32_t kRhEndorsement = 0x4000000B;
constexpr std::uint32_t kRhNull = 0x40000007;
constexpr std::uint32_t kPersistentEk = 0x81010001;  // TCG EK Credential Profile
constexpr std::uint16_t kAlgRsa = 0x0001, kAlgSha256 = 0x000B, kAlgAes = 0x0006, kAlgNull = 0x0010,
                        kAlgCfb = 0x0043, kAlgEcc = 0x0023, kAlgEcdsa = 0x0018;
constexpr std::uint32_t kRcHandle = 0x08B;  // TPM_RC_HANDLE (format 1, no parameter number)
constexpr std::size_t kMaxResponseBytes = 4096;
constexpr std::size_t kMaxPublicBytes = 1024;

// A TPMT_PUBLIC: its bytes as the TPM marshals them (the name is computed over them) and
// the fields identity needs.
struct PublicArea {
  Bytes marshaled;
  std::uint16_t type = 0;
  std::uint16_t name_alg = 0;
  std::uint32_t attributes = 0;
  std::uint16_t symmetric_alg = kAlgNull, symmetric_bits = 0, symmetric_mode = 0;
  std::uint16_t rsa_bits = 0;
  std::uint32_t rsa_exponent = 0;  // 0 means 65537
  Bytes unique;                    // RSA modulus, or ECC x || y
};

struct LoadedObject {
  std::uint32_t handle = 0;
  PublicArea public_area;
  Bytes name;  // TPM2B_NAME contents: nameAlg || digest
};

struct PolicySession {
  std::uint32_t handle = 0;
  Bytes nonce_tpm;
};

// The TCG EK template L-1 and the attestation key template, as TPMT_PUBLIC bytes.
Bytes ek_template_rsa2048();
Bytes ak_template_ecc_p256();

Bytes build_create_primary(std::uint32_t hierarchy, std::span<const std::uint8_t> public_template);
Bytes build_read_public(std::uint32_t handle);
Bytes build_start_policy_session(std::span<const std::uint8_t> nonce_caller);
Bytes build_policy_secret_endorsement(std::uint32_t session);
Bytes build_activate_credential(std::uint32_t activate_handle, std::uint32_t key_handle, std::uint32_t policy_session,
                                std::span<const std::uint8_t> id_object, std::span<const std::uint8_t> encrypted_secret);
Bytes build_flush_context(std::uint32_t handle);

Result<PublicArea> parse_public_area(std::span<const std::uint8_t> tpmt_public);
Result<LoadedObject> parse_create_primary_response(std::span<const std::uint8_t> response);
Result<LoadedObject> parse_read_public_response(std::span<const std::uint8_t> response, std::uint32_t handle);
Result<PolicySession> parse_start_auth_session_response(std::span<const std::uint8_t> response);
Result<bool> parse_policy_secret_response(std::span<const std::uint8_t> response);
Result<Bytes> parse_activate_credential_response(std::span<const std::uint8_t> response);
Result<bool> parse_flush_context_response(std::span<const std::uint8_t> response);

}  // namespace ironboot::tpm
