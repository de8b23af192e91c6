#include "discovery/attestation.hpp"

#include "kube/objects.hpp"
#include "tpm/credential.hpp"

#include <openssl/crypto.h>

namespace ironboot::discovery {

namespace json = boost::json;

namespace {

constexpr std::size_t kSecretBytes = 32;

// TPMA_OBJECT bits (TPM 2.0 Part 2, 8.3).
constexpr std::uint32_t kFixedTpm = 1u << 1, kFixedParent = 1u << 4, kRestricted = 1u << 16, kDecrypt = 1u << 17,
                        kSign = 1u << 18;

AttestationRefusal refusal(int status, std::string reason, std::string message) {
  return AttestationRefusal{status, std::move(reason), std::move(message)};
}

// The key as a TPMT_PUBLIC with the attributes its role needs; the name of an AK is what the
// TPM checks at ActivateCredential, so these attributes are what the proof then establishes.
std::variant<tpm::PublicArea, AttestationRefusal> key(std::span<const std::uint8_t> bytes, const char* what,
                                                      std::uint32_t attributes) {
  auto parsed = tpm::parse_public_area(bytes);
  if (const auto* e = std::get_if<tpm::Error>(&parsed))
    return refusal(400, "bad_key", std::string(what) + ": " + e->message);
  auto& p = std::get<tpm::PublicArea>(parsed);
  if (p.marshaled.size() != bytes.size()) return refusal(400, "bad_key", std::string(what) + ": bytes after the TPMT_PUBLIC");
  if ((p.attributes & attributes) != attributes)
    return refusal(400, "bad_key", std::string(what) + ": lacks fixedTPM, fixedParent, restricted or its use");
  return std::move(p);
}

const json::object* identity_of(const json::object& server) {
  const auto* status = objects::status_of(server);
  return status ? objects::object_at(*status, "identity") : nullptr;
}

}  // namespace

CredentialChallenges::CredentialChallenges(const Clock& clock, RandomSource random, ChallengeOptions options)
    : clock_(clock), random_(std::move(random)), options_(options) {}

void CredentialChallenges::erase(std::unordered_map<std::string, Pending>::iterator it) {
  auto count = per_address_.find(it->second.address);
  if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
  pending_.erase(it);
}

void CredentialChallenges::forget_expired() {
  const auto now = clock_.now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (it->second.expires <= now) erase(it);
    it = next;
  }
}

std::variant<IssuedChallenge, AttestationRefusal> CredentialChallenges::issue(const TokenClaims& claims,
                                                                              std::string_view address,
                                                                              const ChallengeRequest& request) {
  forget_expired();
  const std::string addr(address);
  if (auto it = per_address_.find(addr); it != per_address_.end() && it->second >= options_.per_address)
    return refusal(429, "too_many_challenges",
                   std::to_string(it->second) + " challenges of " + addr + " outstanding; answer or let them expire");
  if (pending_.size() >= options_.max_outstanding)
    return refusal(503, "too_many_challenges", "too many challenges outstanding");
  auto ek = key(request.ek_public, "ekPublic", kFixedTpm | kFixedParent | kRestricted | kDecrypt);
  if (auto* r = std::get_if<AttestationRefusal>(&ek)) return *r;
  auto ak = key(request.ak_public, "akPublic", kFixedTpm | kFixedParent | kRestricted | kSign);
  if (auto* r = std::get_if<AttestationRefusal>(&ak)) return *r;
  const auto& ek_area = std::get<tpm::PublicArea>(ek);
  auto ak_name = tpm::object_name(std::get<tpm::PublicArea>(ak));
  if (auto* e = std::get_if<tpm::Error>(&ak_name)) return refusal(400, "bad_key", std::string("akPublic: ") + e->message);
  auto digest = tpm::public_key_sha256(ek_area);
  if (auto* e = std::get_if<tpm::Error>(&digest)) return refusal(400, "bad_key", std::string("ekPublic: ") + e->message);

  std::vector<std::uint8_t> secret(kSecretBytes), seed(kSecretBytes);
  const std::string id = random_hex128(random_);
  if (id.empty() || !random_(secret.data(), secret.size()) || !random_(seed.data(), seed.size()))
    return refusal(503, "no_randomness", "no random bytes for a challenge");
  auto made = tpm::make_credential(ek_area, std::get<tpm::Bytes>(ak_name), secret, seed);
  if (auto* e = std::get_if<tpm::Error>(&made)) return refusal(400, "bad_key", std::string("ekPublic: ") + e->message);

  Pending p{claims.uuid, claims.mac, claims.nonce, addr,
            ProvenIdentity{std::get<std::string>(digest), tpm::to_hex(std::get<tpm::Bytes>(ak_name))},
            std::move(secret), clock_.now() + options_.ttl};
  pending_.emplace(id, std::move(p));
  ++per_address_[addr];
  auto& credential = std::get<tpm::MadeCredential>(made);
  return IssuedChallenge{id, std::move(credential.id_object), std::move(credential.encrypted_secret), options_.ttl};
}

std::variant<ProvenIdentity, AttestationRefusal> CredentialChallenges::redeem(const TpmProof& proof,
                                                                              const TokenClaims& claims,
                                                                              std::string_view address) {
  forget_expired();
  auto it = pending_.find(proof.challenge);
  if (it == pending_.end())
    return refusal(403, "unknown_challenge", "TPM challenge unknown, used or expired; ask for a new one");
  // Single use: whatever follows, this challenge is spent.
  Pending p = it->second;
  erase(it);
  if (p.uuid != claims.uuid || p.mac != claims.mac || p.nonce != claims.nonce || p.address != address)
    return refusal(403, "wrong_boot", "TPM challenge issued to another boot or address");
  if (proof.secret.size() != p.secret.size() ||
      CRYPTO_memcmp(proof.secret.data(), p.secret.data(), p.secret.size()) != 0)
    return refusal(403, "wrong_secret", "TPM challenge answered with the wrong secret");
  return std::move(p.identity);
}

std::string pinned_ek(const json::object& server) {
  // Accepted is what pins, not the `pinned` flag: that follows by a status write, and a
  // register in between must not replace the identity the operator accepted.
  if (!objects::spec_bool(server, "accepted")) return {};
  const auto* identity = identity_of(server);
  return identity ? std::string(objects::string_at(*identity, "ekSha256")) : std::string();
}

IdentityDecision check_identity(const json::object* server, const std::optional<ProvenIdentity>& proven,
                                bool require_tpm) {
  using V = IdentityDecision::Verdict;
  const std::string pinned = server ? pinned_ek(*server) : std::string();
  if (!pinned.empty()) {
    if (!proven) return {V::mismatch, "the Server is pinned to TPM EK " + pinned + "; this register proved no TPM"};
    if (proven->ek_sha256 != pinned)
      return {V::mismatch, "the Server is pinned to TPM EK " + pinned + "; this register proved EK " + proven->ek_sha256};
    return {V::accept, {}};
  }
  if (!proven && require_tpm) return {V::tpm_required, "discovery.require_tpm: this register proved no TPM"};
  return {V::accept, {}};
}

json::object status_for_identity(const std::optional<ProvenIdentity>& proven, std::string_view boot_nonce,
                                 bool accepted, std::string_view now) {
  if (!proven) return json::object{{"status", json::object{{"identity", nullptr}}}};
  return json::object{{"status", json::object{{"identity", json::object{{"ekSha256", proven->ek_sha256},
                                                                          {"akName", proven->ak_name},
                                                                          {"sessionSha256", sha256_hex(boot_nonce)},
                                                                          {"verifiedAt", now},
                                                                          {"pinned", accepted}}}}}};
}

std::optional<json::object> status_for_pin(const json::object& server, bool accepted) {
  const auto* identity = identity_of(server);
  if (!identity || objects::string_at(*identity, "ekSha256").empty()) return std::nullopt;
  if (objects::bool_at(*identity, "pinned") == accepted) return std::nullopt;
  return json::object{{"status", json::object{{"identity", json::object{{"pinned", accepted}}}}}};
}

bool session_may_act(const json::object& server, std::string_view nonce) {
  if (pinned_ek(server).empty()) return true;
  const auto* identity = identity_of(server);
  return identity && objects::string_at(*identity, "sessionSha256") == sha256_hex(nonce);
}

}  // namespace ironboot::discovery
