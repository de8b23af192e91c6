#include "tpm/fuzz_entry.hpp"

#include "tpm/commands.hpp"

#include <cstdlib>

namespace ironboot::tpm {

int fuzz_one(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  int accepted = 0;
  auto check_object = [&](const Result<LoadedObject>& r) {
    const auto* o = std::get_if<LoadedObject>(&r);
    if (!o) return;
    ++accepted;
    if (o->public_area.marshaled.size() > size || o->name.size() > 66) std::abort();
    // What was accepted parses the same again.
    auto again = parse_public_area(o->public_area.marshaled);
    if (!std::holds_alternative<PublicArea>(again) || std::get<PublicArea>(again).unique != o->public_area.unique)
      std::abort();
  };
  check_object(parse_create_primary_response(in));
  check_object(parse_read_public_response(in, kPersistentEk));
  if (auto s = parse_start_auth_session_response(in); std::holds_alternative<PolicySession>(s)) {
    ++accepted;
    if (std::get<PolicySession>(s).nonce_tpm.size() > 64) std::abort();
  }
  accepted += std::holds_alternative<bool>(parse_policy_secret_response(in)) ? 1 : 0;
  if (auto a = parse_activate_credential_response(in); std::holds_alternative<Bytes>(a)) {
    ++accepted;
    if (std::get<Bytes>(a).size() > 64) std::abort();
  }
  accepted += std::holds_alternative<bool>(parse_flush_context_response(in)) ? 1 : 0;
  accepted += std::holds_alternative<PublicArea>(parse_public_area(in)) ? 1 : 0;
  return accepted;
}

}  // namespace ironboot::tpm
