// The agent's side of credential activation, one TPM command at a time over a Transport:
// the EK (persistent 0x81010001 when provisioned, else created from template L-1), an AK,
// and ActivateCredential under a PolicySecret(TPM_RH_ENDORSEMENT) session.
#pragma once

#include "tpm/commands.hpp"
#include "tpm/transport.hpp"

namespace ironboot::tpm {

class Client {
 public:
  explicit Client(Transport& transport) : transport_(transport) {}

  Result<LoadedObject> read_public(std::uint32_t handle);
  // The persistent EK when there is one, else a transient EK from template L-1.
  Result<LoadedObject> endorsement_key();
  Result<LoadedObject> create_attestation_key();
  // Recovers the credential made for `ak` under `ek`; the policy session ends with it.
  Result<Bytes> activate_credential(const LoadedObject& ak, const LoadedObject& ek, std::span<const std::uint8_t> id_object,
                                    std::span<const std::uint8_t> encrypted_secret);
  // Transient objects only; a persistent handle is left alone.
  Result<bool> flush(std::uint32_t handle);

 private:
  Transport& transport_;
};

}  // namespace ironboot::tpm
