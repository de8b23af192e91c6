#include "agent/attest.hpp"

#include <charconv>

namespace ironboot::agent {

namespace {
constexpr auto kCommandTimeout = std::chrono::seconds(30);  // CreatePrimary of an RSA key can be slow
constexpr std::size_t kMaxBlobBytes = 1024;
}  // namespace

TpmAttestor::TpmAttestor(std::unique_ptr<tpm::Transport> transport)
    : transport_(std::move(transport)), client_(*transport_) {}

std::unique_ptr<TpmAttestor> TpmAttestor::open(std::unique_ptr<tpm::Transport> transport, std::string& error) {
  std::unique_ptr<TpmAttestor> a(new TpmAttestor(std::move(transport)));
  auto ek = a->client_.endorsement_key();
  if (auto* e = std::get_if<tpm::Error>(&ek)) {
    error = "EK: " + e->message;
    return nullptr;
  }
  a->ek_ = std::move(std::get<tpm::LoadedObject>(ek));
  auto ak = a->client_.create_attestation_key();
  if (auto* e = std::get_if<tpm::Error>(&ak)) {
    error = "AK: " + e->message;
    return nullptr;  // the destructor flushes the EK
  }
  a->ak_ = std::move(std::get<tpm::LoadedObject>(ak));
  return a;
}

TpmAttestor::~TpmAttestor() {
  // Persistent handles are left alone by flush; a failure only leaves a transient object behind.
  if (ak_.handle) client_.flush(ak_.handle);
  if (ek_.handle) client_.flush(ek_.handle);
}

std::string TpmAttestor::ek_public_hex() const { return tpm::to_hex(ek_.public_area.marshaled); }
std::string TpmAttestor::ak_public_hex() const { return tpm::to_hex(ak_.public_area.marshaled); }

std::optional<std::string> TpmAttestor::activate(std::string_view id_object_hex, std::string_view encrypted_secret_hex,
                                                 std::string& error) {
  auto id_object = tpm::from_hex(id_object_hex, kMaxBlobBytes);
  auto encrypted_secret = tpm::from_hex(encrypted_secret_hex, kMaxBlobBytes);
  if (!id_object || !encrypted_secret) {
    error = "the challenge's idObject / encryptedSecret are not hex blobs";
    return std::nullopt;
  }
  auto secret = client_.activate_credential(ak_, ek_, *id_object, *encrypted_secret);
  if (auto* e = std::get_if<tpm::Error>(&secret)) {
    error = "ActivateCredential: " + e->message;
    return std::nullopt;
  }
  return tpm::to_hex(std::get<tpm::Bytes>(secret));
}

std::unique_ptr<tpm::Transport> open_tpm_transport(const std::string& spec, std::string& error) {
  tpm::Result<std::unique_ptr<tpm::Transport>> opened = tpm::Error{"no TPM named"};
  if (spec.rfind("tcp:", 0) == 0) {
    const std::string rest = spec.substr(4);
    const auto colon = rest.rfind(':');
    unsigned port = 0;
    const char* end = rest.data() + rest.size();
    if (colon == std::string::npos ||
        std::from_chars(rest.data() + colon + 1, end, port).ptr != end || port == 0 || port > 65535) {
      error = "'" + spec + "' is not tcp:IP:PORT";
      return nullptr;
    }
    opened = tpm::connect_tcp(rest.substr(0, colon), static_cast<std::uint16_t>(port), kCommandTimeout);
  } else {
    opened = tpm::open_device(spec, kCommandTimeout);
  }
  if (auto* e = std::get_if<tpm::Error>(&opened)) {
    error = spec + ": " + e->message;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<tpm::Transport>>(opened));
}

}  // namespace ironboot::agent
