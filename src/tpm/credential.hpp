// ironboot's side of credential activation (TPM 2.0 Part 1, 24 "Credential Protection"):
// TPM2_MakeCredential done in software with OpenSSL EVP against an EK public key, so only the
// TPM holding that EK's private part can recover the secret, and only for the named AK.
#pragma once

#include "tpm/commands.hpp"

#include <span>
#include <string>

namespace ironboot::tpm {

struct MadeCredential {
  Bytes id_object;         // TPM2B_ID_OBJECT contents: TPM2B integrity HMAC || encIdentity
  Bytes encrypted_secret;  // TPM2B_ENCRYPTED_SECRET contents: the seed, RSA-OAEP under the EK
};

// nameAlg || H(TPMT_PUBLIC); only SHA-256 name algorithms.
Result<Bytes> object_name(const PublicArea& p);

// Lower-case hex SHA-256 of the EK's public key as DER SubjectPublicKeyInfo: the machine's
// identity in a Server (what `tpm2_readpublic -f der` + sha256sum print, and the digest of
// the key in an EK certificate).
Result<std::string> public_key_sha256(const PublicArea& ek);

// KDFa (Part 1, 11.4.10.2) with SHA-256: SP 800-108 counter mode over HMAC.
Result<Bytes> kdfa_sha256(std::span<const std::uint8_t> key, const std::string& label, std::span<const std::uint8_t> context_u,
                          std::span<const std::uint8_t> context_v, std::size_t bits);

// `secret` (1..32 bytes) for the AK `ak_name` under the RSA EK `ek`. `seed` is the 32 random
// bytes the caller draws (a parameter so tests can repeat a run).
Result<MadeCredential> make_credential(const PublicArea& ek, std::span<const std::uint8_t> ak_name,
                                       std::span<const std::uint8_t> secret, std::span<const std::uint8_t> seed);

// The same with a seed drawn from OpenSSL's RAND_bytes.
Result<MadeCredential> make_credential(const PublicArea& ek, std::span<const std::uint8_t> ak_name,
                                       std::span<const std::uint8_t> secret);

// The file tpm2_makecredential writes and tpm2_activatecredential reads: magic 0xBADCC0DE,
// version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
Bytes to_tpm2_tools_file(const MadeCredential& c);
Result<MadeCredential> from_tpm2_tools_file(std::span<const std::uint8_t> file);

}  // namespace ironboot::tpm
