#include "tpm/client.hpp"

#include <sys/random.h>

namespace ironboot::tpm {

namespace {

// TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING: the command was not run; send it again.
bool worth_retrying(std::uint32_t rc) { return rc == 0x922 || rc == 0x908 || rc == 0x90A; }

// Sends a command and parses its response with `parse`.
template <class Parse>
auto exchange(Transport& t, const Bytes& command, Parse parse) -> decltype(parse(std::span<const std::uint8_t>{})) {
  for (int attempt = 1;; ++attempt) {
    auto response = t.transmit(command);
    if (auto* e = std::get_if<Error>(&response)) return *e;
    auto parsed = parse(std::span<const std::uint8_t>(std::get<Bytes>(response)));
    const auto* e = std::get_if<Error>(&parsed);
    if (!e || !worth_retrying(e->response_code) || attempt == 5) return parsed;
  }
}

bool is_transient(std::uint32_t handle) { return (handle >> 24) == 0x80; }

}  // namespace

Result<LoadedObject> Client::read_public(std::uint32_t handle) {
  return exchange(transport_, build_read_public(handle),
                  [handle](std::span<const std::uint8_t> r) { return parse_read_public_response(r, handle); });
}

Result<LoadedObject> Client::endorsement_key() {
  auto persistent = read_public(kPersistentEk);
  if (std::holds_alternative<LoadedObject>(persistent)) return persistent;
  // Any other refusal than "no such handle" is a real failure.
  if ((std::get<Error>(persistent).response_code & 0xBF) != kRcHandle) return persistent;
  return exchange(transport_, build_create_primary(kRhEndorsement, ek_template_rsa2048()),
                  [](std::span<const std::uint8_t> r) { return parse_create_primary_response(r); });
}

Result<LoadedObject> Client::create_attestation_key() {
  return exchange(transport_, build_create_primary(kRhEndorsement, ak_template_ecc_p256()),
                  [](std::span<const std::uint8_t> r) { return parse_create_primary_response(r); });
}

Result<Bytes> Client::activate_credential(const LoadedObject& ak, const LoadedObject& ek,
                                          std::span<const std::uint8_t> id_object,
                                          std::span<const std::uint8_t> encrypted_secret) {
  Bytes nonce(16);
  if (::getrandom(nonce.data(), nonce.size(), 0) != static_cast<ssize_t>(nonce.size())) return Error{"no randomness"};
  auto session = exchange(transport_, build_start_policy_session(nonce),
                          [](std::span<const std::uint8_t> r) { return parse_start_auth_session_response(r); });
  if (auto* e = std::get_if<Error>(&session)) return *e;
  const std::uint32_t handle = std::get<PolicySession>(session).handle;
  auto policy = exchange(transport_, build_policy_secret_endorsement(handle),
                         [](std::span<const std::uint8_t> r) { return parse_policy_secret_response(r); });
  if (auto* e = std::get_if<Error>(&policy)) {
    flush(handle);
    return *e;
  }
  auto activated = exchange(transport_, build_activate_credential(ak.handle, ek.handle, handle, id_object, encrypted_secret),
                            [](std::span<const std::uint8_t> r) { return parse_activate_credential_response(r); });
  // A refused command leaves the session loaded; a successful one ended it.
  if (std::holds_alternative<Error>(activated)) flush(handle);
  return activated;
}

Result<bool> Client::flush(std::uint32_t handle) {
  if (!is_transient(handle) && (handle >> 24) != 0x03) return true;
  return exchange(transport_, build_flush_context(handle),
                  [](std::span<const std::uint8_t> r) { return parse_flush_context_response(r); });
}

}  // namespace ironboot::tpm
