// The agent's side of TPM identity (docs/tpm-identity.md): the EK and a fresh AK read once
// per boot, then one ActivateCredential per challenge ironboot sends. Attestor is the
// interface the API client uses (tests fake it); TpmAttestor runs it on a real TPM.
#pragma once

#include "tpm/client.hpp"
#include "tpm/transport.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ironboot::agent {

class Attestor {
 public:
  virtual ~Attestor() = default;
  // Hex TPMT_PUBLIC of the EK and of the AK, for POST challenge.
  virtual std::string ek_public_hex() const = 0;
  virtual std::string ak_public_hex() const = 0;
  // The secret of a challenge (hex), or nullopt with `error`.
  virtual std::optional<std::string> activate(std::string_view id_object_hex, std::string_view encrypted_secret_hex,
                                              std::string& error) = 0;
};

class TpmAttestor final : public Attestor {
 public:
  // Reads the EK (persistent or created from template L-1) and creates the AK; null with `error`.
  static std::unique_ptr<TpmAttestor> open(std::unique_ptr<tpm::Transport> transport, std::string& error);
  ~TpmAttestor() override;  // flushes the transient objects

  std::string ek_public_hex() const override;
  std::string ak_public_hex() const override;
  std::optional<std::string> activate(std::string_view id_object_hex, std::string_view encrypted_secret_hex,
                                      std::string& error) override;
  const tpm::LoadedObject& ek() const { return ek_; }

 private:
  explicit TpmAttestor(std::unique_ptr<tpm::Transport> transport);
  std::unique_ptr<tpm::Transport> transport_;
  tpm::Client client_;
  tpm::LoadedObject ek_, ak_;
};

// "tcp:IP:PORT" (a simulator's data port) or a device path such as /dev/tpmrm0.
std::unique_ptr<tpm::Transport> open_tpm_transport(const std::string& spec, std::string& error);

}  // namespace ironboot::agent
