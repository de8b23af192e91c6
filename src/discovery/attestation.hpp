// TPM-backed machine identity, ironboot's side (docs/tpm-identity.md). Pure, with an injected
// clock and random source:
// - CredentialChallenges: POST challenge makes a fresh 32-byte secret, MakeCredential's it to
//   the reported EK for the reported AK's name, and remembers it bound to the boot that asked
//   (uuid, MAC, boot nonce, source address), the EK digest and the AK name, until its expiry.
//   A register redeems it once (gone whatever the outcome), the secret compared in constant
//   time. Outstanding challenges are capped per source address and in all.
// - the identity policy: an accepted Server pins the EK digest its agent proved; a later
//   register for it without that EK is refused (IdentityMismatch), and so is a session of a
//   boot that did not prove it.
#pragma once

#include "discovery/environment.hpp"
#include "discovery/reports.hpp"
#include "discovery/token.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace ironboot::discovery {

// The EK digest on the Server, beside status.identity.ekSha256.
inline constexpr std::string_view kEkAnnotation = "ironboot.dev/tpm-ek-sha256";

struct ChallengeOptions {
  std::chrono::seconds ttl{60};        // discovery.tpm_challenge_ttl_seconds
  std::size_t per_address = 4;         // discovery.tpm_challenges_per_address
  std::size_t max_outstanding = 4096;  // over all addresses
};

struct IssuedChallenge {
  std::string id;  // 128 random bits, hex
  std::vector<std::uint8_t> id_object, encrypted_secret;
  std::chrono::seconds expires_in{0};
};

// What a redeemed challenge proved: the TPM holding this EK has this AK loaded.
struct ProvenIdentity {
  std::string ek_sha256;  // tpm::public_key_sha256 of the EK
  std::string ak_name;    // hex TPM2B_NAME contents
};

struct AttestationRefusal {
  int status = 403;    // 400 (not an EK / AK we can use), 403 (not proven), 429 (too many), 503
  std::string reason;  // for the log and the metric: bad_key, unknown_challenge, expired, ...
  std::string message;
};

class CredentialChallenges {
 public:
  CredentialChallenges(const Clock& clock, RandomSource random, ChallengeOptions options = {});

  // A challenge for the boot `claims` asking from `address`.
  std::variant<IssuedChallenge, AttestationRefusal> issue(const TokenClaims& claims, std::string_view address,
                                                          const ChallengeRequest& request);
  // The identity `proof` establishes for the boot `claims` registering from `address`.
  std::variant<ProvenIdentity, AttestationRefusal> redeem(const TpmProof& proof, const TokenClaims& claims,
                                                          std::string_view address);
  std::size_t outstanding() const { return pending_.size(); }

 private:
  struct Pending {
    std::string uuid, mac, nonce, address;
    ProvenIdentity identity;
    std::vector<std::uint8_t> secret;
    std::chrono::system_clock::time_point expires;
  };
  void forget_expired();
  void erase(std::unordered_map<std::string, Pending>::iterator it);

  const Clock& clock_;
  RandomSource random_;
  ChallengeOptions options_;
  std::unordered_map<std::string, Pending> pending_;    // by challenge id
  std::unordered_map<std::string, std::size_t> per_address_;
};

// What a register may do to a Server's identity.
struct IdentityDecision {
  enum class Verdict { accept, mismatch, tpm_required } verdict = Verdict::accept;
  std::string message;  // why, for the 403, the log and the Event
};

// The EK digest an accepted Server is pinned to: its recorded status.identity.ekSha256 ("" when
// none, or not accepted).
std::string pinned_ek(const boost::json::object& server);
// `server` null: no Server yet. `proven`: what this register's challenge proved, if any.
IdentityDecision check_identity(const boost::json::object* server, const std::optional<ProvenIdentity>& proven,
                                bool require_tpm);
// status merge patch after an accepted register: status.identity of the proof (pinned when
// the Server is accepted), or removed when nothing was proven (an unpinned Server only).
boost::json::object status_for_identity(const std::optional<ProvenIdentity>& proven, std::string_view boot_nonce,
                                        bool accepted, std::string_view now);
// status merge patch when spec.accepted changes: accepting pins the recorded identity,
// un-accepting unpins it (so a machine whose TPM was replaced can be accepted anew).
std::optional<boost::json::object> status_for_pin(const boost::json::object& server, bool accepted);
// Whether a session of the boot `nonce` may act for `server`: yes unless the Server is pinned
// and that boot is not the one that proved the pinned EK.
bool session_may_act(const boost::json::object& server, std::string_view nonce);

}  // namespace ironboot::discovery
