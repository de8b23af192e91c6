#include "tpm/commands.hpp"

#include <cstdio>

namespace ironboot::tpm {

namespace {

constexpr std::uint16_t kStNoSessions = 0x8001, kStSessions = 0x8002;
constexpr std::uint32_t kRsPw = 0x40000009;
constexpr std::uint32_t kCcCreatePrimary = 0x131, kCcReadPublic = 0x173, kCcStartAuthSession = 0x176,
                        kCcPolicySecret = 0x151, kCcActivateCredential = 0x147, kCcFlushContext = 0x165;
constexpr std::size_t kMaxDigest = 64, kMaxName = 2 + kMaxDigest;

// TPM2_PolicySecret(TPM_RH_ENDORSEMENT) digest, the EK's authPolicy (EK Credential Profile).
constexpr std::uint8_t kEkPolicy[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                                        0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                                        0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

// Header with a size patched in by finish().
std::size_t begin(Writer& w, std::uint16_t tag, std::uint32_t code) {
  w.u16(tag);
  w.u32(0);
  w.u32(code);
  return 2;
}

Bytes finish(Writer& w, std::size_t size_at) {
  Bytes out = w.take();
  // The size counts the whole command, header included.
  const auto n = static_cast<std::uint32_t>(out.size());
  for (int i = 0; i < 4; ++i) out[size_at + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  return out;
}

// An empty password authorization (the hierarchies and our keys have no authValue).
void password_session(Writer& w) {
  w.u32(kRsPw);
  w.u16(0);  // nonceCaller
  w.u8(0);   // sessionAttributes
  w.u16(0);  // hmac (the password)
}

std::string rc_text(std::uint32_t rc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%03x", rc);
  return buf;
}

// The header checks; the reader is left at the response's handles.
struct Response {
  Reader reader;
};

Result<Response> open_response(std::span<const std::uint8_t> bytes, bool sessions) {
  if (bytes.size() > kMaxResponseBytes) return Error{"response of " + std::to_string(bytes.size()) + " bytes"};
  Reader r(bytes);
  const std::uint16_t tag = r.u16();
  const std::uint32_t size = r.u32();
  const std::uint32_t rc = r.u32();
  if (!r.ok()) return Error{"response header: " + r.error()};
  if (size != bytes.size())
    return Error{"response size field " + std::to_string(size) + " but " + std::to_string(bytes.size()) + " bytes"};
  if (rc != 0) return Error{"the TPM answered " + rc_text(rc), rc};
  if (tag != (sessions ? kStSessions : kStNoSessions)) return Error{"response tag " + rc_text(tag)};
  return Response{r};
}

// Reads parameterSize and returns a reader over exactly the parameters; `rest` checks the
// session area after them.
Result<Reader> parameters(Reader& r, std::size_t sessions) {
  const std::uint32_t n = r.u32();
  auto params = r.bytes(n);
  if (!r.ok()) return Error{"parameter area: " + r.error()};
  for (std::size_t i = 0; i < sessions; ++i) {
    r.tpm2b(kMaxDigest);  // nonceTPM
    r.u8();               // sessionAttributes
    r.tpm2b(kMaxDigest);  // hmac
  }
  if (!r.ok()) return Error{"session area: " + r.error()};
  if (r.remaining() != 0) return Error{std::to_string(r.remaining()) + " bytes after the session area"};
  return Reader(params);
}

Result<bool> done(const Reader& r, const char* what) {
  if (!r.ok()) return Error{std::string(what) + ": " + r.error()};
  if (r.remaining() != 0) return Error{std::string(what) + ": " + std::to_string(r.remaining()) + " bytes left over"};
  return true;
}

// TPM2B_PUBLIC into a PublicArea.
Result<PublicArea> read_public(Reader& r) {
  auto inner = r.tpm2b(kMaxPublicBytes);
  if (!r.ok()) return Error{"public area: " + r.error()};
  return parse_public_area(inner);
}

void write_symmetric_aes128_cfb(Writer& w) {
  w.u16(kAlgAes);
  w.u16(128);
  w.u16(kAlgCfb);
}

}  // namespace

Bytes ek_template_rsa2048() {
  Writer w;
  w.u16(kAlgRsa);
  w.u16(kAlgSha256);
  // fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy, restricted, decrypt
  w.u32(0x000300B2);
  w.tpm2b(kEkPolicy);
  write_symmetric_aes128_cfb(w);
  w.u16(kAlgNull);  // scheme
  w.u16(2048);
  w.u32(0);  // exponent: the default 65537
  w.tpm2b(Bytes(256, 0));
  return w.take();
}

Bytes ak_template_ecc_p256() {
  Writer w;
  w.u16(kAlgEcc);
  w.u16(kAlgSha256);
  // fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted, sign
  w.u32(0x00050072);
  w.u16(0);         // no authPolicy
  w.u16(kAlgNull);  // symmetric
  w.u16(kAlgEcdsa);
  w.u16(kAlgSha256);
  w.u16(0x0003);    // TPM_ECC_NIST_P256
  w.u16(kAlgNull);  // kdf
  w.u16(0);         // unique.x
  w.u16(0);         // unique.y
  return w.take();
}

Bytes build_create_primary(std::uint32_t hierarchy, std::span<const std::uint8_t> public_template) {
  Writer w;
  const auto size_at = begin(w, kStSessions, kCcCreatePrimary);
  w.u32(hierarchy);
  w.u32(9);
  password_session(w);
  w.u16(4);  // TPM2B_SENSITIVE_CREATE: empty userAuth and data
  w.u16(0);
  w.u16(0);
  w.tpm2b(public_template);
  w.u16(0);  // outsideInfo
  w.u32(0);  // creationPCR: no selections
  return finish(w, size_at);
}

Bytes build_read_public(std::uint32_t handle) {
  Writer w;
  const auto size_at = begin(w, kStNoSessions, kCcReadPublic);
  w.u32(handle);
  return finish(w, size_at);
}

Bytes build_start_policy_session(std::span<const std::uint8_t> nonce_caller) {
  Writer w;
  const auto size_at = begin(w, kStNoSessions, kCcStartAuthSession);
  w.u32(kRhNull);  // tpmKey: unsalted
  w.u32(kRhNull);  // bind: unbound
  w.tpm2b(nonce_caller);
  w.u16(0);  // encryptedSalt
  w.u8(0x01);  // TPM_SE_POLICY
  w.u16(kAlgNull);
  w.u16(kAlgSha256);
  return finish(w, size_at);
}

Bytes build_policy_secret_endorsement(std::uint32_t session) {
  Writer w;
  const auto size_at = begin(w, kStSessions, kCcPolicySecret);
  w.u32(kRhEndorsement);
  w.u32(session);
  w.u32(9);
  password_session(w);
  w.u16(0);  // nonceTPM: no freshness needed, the session ends with ActivateCredential
  w.u16(0);  // cpHashA
  w.u16(0);  // policyRef
  w.u32(0);  // expiration
  return finish(w, size_at);
}

Bytes build_activate_credential(std::uint32_t activate_handle, std::uint32_t key_handle, std::uint32_t policy_session,
                                std::span<const std::uint8_t> id_object, std::span<const std::uint8_t> encrypted_secret) {
  Writer w;
  const auto size_at = begin(w, kStSessions, kCcActivateCredential);
  w.u32(activate_handle);
  w.u32(key_handle);
  w.u32(18);
  password_session(w);  // the AK (ADMIN role, no adminWithPolicy)
  w.u32(policy_session);  // the EK: its policy, satisfied by PolicySecret
  w.u16(0);
  w.u8(0);  // continueSession clear: the TPM flushes the session
  w.u16(0);
  w.tpm2b(id_object);
  w.tpm2b(encrypted_secret);
  return finish(w, size_at);
}

Bytes build_flush_context(std::uint32_t handle) {
  Writer w;
  const auto size_at = begin(w, kStNoSessions, kCcFlushContext);
  w.u32(handle);
  return finish(w, size_at);
}

Result<PublicArea> parse_public_area(std::span<const std::uint8_t> tpmt_public) {
  PublicArea p;
  p.marshaled.assign(tpmt_public.begin(), tpmt_public.end());
  Reader r(tpmt_public);
  p.type = r.u16();
  p.name_alg = r.u16();
  p.attributes = r.u32();
  r.tpm2b(kMaxDigest);  // authPolicy
  p.symmetric_alg = r.u16();
  if (p.symmetric_alg != kAlgNull) {
    p.symmetric_bits = r.u16();
    p.symmetric_mode = r.u16();
  }
  const std::uint16_t scheme = r.u16();
  if (scheme != kAlgNull) r.u16();  // hashAlg
  if (scheme == 0x001A) r.u16();    // ECDAA count
  if (p.type == kAlgRsa) {
    p.rsa_bits = r.u16();
    p.rsa_exponent = r.u32();
    auto n = r.tpm2b(512);
    p.unique.assign(n.begin(), n.end());
  } else if (p.type == kAlgEcc) {
    r.u16();  // curveID
    if (r.u16() != kAlgNull) r.u16();  // kdf and its hash
    auto x = r.tpm2b(128);
    p.unique.assign(x.begin(), x.end());
    auto y = r.tpm2b(128);
    p.unique.insert(p.unique.end(), y.begin(), y.end());
  } else if (r.ok()) {
    return Error{"public area of type " + rc_text(p.type) + " (only RSA and ECC keys)"};
  }
  if (auto ok = done(r, "public area"); std::holds_alternative<Error>(ok)) return std::get<Error>(ok);
  return p;
}

Result<LoadedObject> parse_create_primary_response(std::span<const std::uint8_t> response) {
  auto opened = open_response(response, true);
  if (auto* e = std::get_if<Error>(&opened)) return *e;
  Reader& r = std::get<Response>(opened).reader;
  LoadedObject o;
  o.handle = r.u32();
  auto params = parameters(r, 1);
  if (auto* e = std::get_if<Error>(&params)) return *e;
  Reader& p = std::get<Reader>(params);
  auto pub = read_public(p);
  if (auto* e = std::get_if<Error>(&pub)) return *e;
  o.public_area = std::move(std::get<PublicArea>(pub));
  p.tpm2b(kMaxResponseBytes);  // creationData
  p.tpm2b(kMaxDigest);         // creationHash
  p.u16();                     // creationTicket.tag
  p.u32();                     // creationTicket.hierarchy
  p.tpm2b(kMaxDigest);         // creationTicket.digest
  auto name = p.tpm2b(kMaxName);
  o.name.assign(name.begin(), name.end());
  if (auto ok = done(p, "CreatePrimary"); std::holds_alternative<Error>(ok)) return std::get<Error>(ok);
  return o;
}

Result<LoadedObject> parse_read_public_response(std::span<const std::uint8_t> response, std::uint32_t handle) {
  auto opened = open_response(response, false);
  if (auto* e = std::get_if<Error>(&opened)) return *e;
  Reader& r = std::get<Response>(opened).reader;
  LoadedObject o;
  o.handle = handle;
  auto pub = read_public(r);
  if (auto* e = std::get_if<Error>(&pub)) return *e;
  o.public_area = std::move(std::get<PublicArea>(pub));
  auto name = r.tpm2b(kMaxName);
  o.name.assign(name.begin(), name.end());
  r.tpm2b(kMaxName);  // qualifiedName
  if (auto ok = done(r, "ReadPublic"); std::holds_alternative<Error>(ok)) return std::get<Error>(ok);
  return o;
}

Result<PolicySession> parse_start_auth_session_response(std::span<const std::uint8_t> response) {
  auto opened = open_response(response, false);
  if (auto* e = std::get_if<Error>(&opened)) return *e;
  Reader& r = std::get<Response>(opened).reader;
  PolicySession s;
  s.handle = r.u32();
  auto nonce = r.tpm2b(kMaxDigest);
  s.nonce_tpm.assign(nonce.begin(), nonce.end());
  if (auto ok = done(r, "StartAuthSession"); std::holds_alternative<Error>(ok)) return std::get<Error>(ok);
  return s;
}

Result<bool> parse_policy_secret_response(std::span<const std::uint8_t> response) {
  auto opened = open_response(response, true);
  if (auto* e = std::get_if<Error>(&opened)) return *e;
  auto params = parameters(std::get<Response>(opened).reader, 1);
  if (auto* e = std::get_if<Error>(&params)) return *e;
  Reader& p = std::get<Reader>(params);
  p.tpm2b(kMaxDigest);  // timeout
  p.u16();              // policyTicket.tag
  p.u32();              // policyTicket.hierarchy
  p.tpm2b(kMaxDigest);  // policyTicket.digest
  return done(p, "PolicySecret");
}

Result<Bytes> parse_activate_credential_response(std::span<const std::uint8_t> response) {
  auto opened = open_response(response, true);
  if (auto* e = std::get_if<Error>(&opened)) return *e;
  auto params = parameters(std::get<Response>(opened).reader, 2);
  if (auto* e = std::get_if<Error>(&params)) return *e;
  Reader& p = std::get<Reader>(params);
  auto cert_info = p.tpm2b(kMaxDigest);
  Bytes out(cert_info.begin(), cert_info.end());
  if (auto ok = done(p, "ActivateCredential"); std::holds_alternative<Error>(ok)) return std::get<Error>(ok);
  return out;
}

Result<bool> parse_flush_context_response(std::span<const std::uint8_t> response) {
  auto opened = open_response(response, false);
  if (auto* e = std::get_if<Error>(&opened)) return *e;
  return done(std::get<Response>(opened).reader, "FlushContext");
}

}  // namespace ironboot::tpm
