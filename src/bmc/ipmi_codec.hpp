// IPMI 2.0 over LAN, the wire format: the RMCP header, IPMI 1.5 and 2.0 (RMCP+) session
// headers with integrity and confidentiality, the RMCP+ session-setup payloads (Open Session,
// RAKP 1-4) and IPMI LAN messages with their two checksums. Pure: no sockets, no clock; every
// decoder checks every length and returns a value or an error, never throws. docs/bmc-ipmi.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bmc/ipmi_crypto.hpp"

namespace ironboot::bmc::ipmi {

// A decoded value or why it is not one (a static string: decoding allocates no messages).
template <class T>
class Parsed {
 public:
  Parsed(T value) : value_(std::move(value)) {}  // NOLINT: implicit like std::optional
  static Parsed fail(const char* why) { return Parsed(why); }
  explicit operator bool() const { return value_.has_value(); }
  const T& operator*() const { return *value_; }
  T& operator*() { return *value_; }
  const T* operator->() const { return &*value_; }
  const char* error() const { return error_; }

 private:
  explicit Parsed(const char* why) : error_(why) {}
  std::optional<T> value_;
  const char* error_ = "";
};

inline constexpr std::uint8_t kRmcpVersion = 0x06;
inline constexpr std::uint8_t kRmcpClassIpmi = 0x07;
inline constexpr std::uint8_t kAuthTypeNone = 0x00;
inline constexpr std::uint8_t kAuthTypeRmcpPlus = 0x06;
inline constexpr std::uint8_t kBmcAddress = 0x20;      // rsSA: the BMC
inline constexpr std::uint8_t kConsoleAddress = 0x81;  // rqSA: a remote console software ID
inline constexpr std::size_t kMaxDatagram = 1024;       // larger than any answer we ask for

enum class PayloadType : std::uint8_t {
  IpmiMessage = 0x00,
  OpenSessionRequest = 0x10,
  OpenSessionResponse = 0x11,
  Rakp1 = 0x12,
  Rakp2 = 0x13,
  Rakp3 = 0x14,
  Rakp4 = 0x15,
};

// One session-layer packet, payload in clear. `v2` false: IPMI 1.5 header with auth type none
// (only Get Channel Authentication Capabilities travels so, before any session).
struct Packet {
  bool v2 = true;
  PayloadType type = PayloadType::IpmiMessage;
  bool authenticated = false;
  bool encrypted = false;
  std::uint32_t session_id = 0;
  std::uint32_t sequence = 0;
  std::vector<std::uint8_t> payload;
};

// The keys of an active session; nullptr/absent for the session-less packets of the setup.
struct SessionKeys {
  IntegrityAlg integrity = IntegrityAlg::None;
  ConfidentialityAlg confidentiality = ConfidentialityAlg::None;
  std::vector<std::uint8_t> k1;  // integrity key
  std::vector<std::uint8_t> k2;  // first 16 bytes: the AES-128 key
};

// Encodes RMCP header + session header + payload (+ integrity trailer). With keys, the packet
// is authenticated when keys->integrity is not None and encrypted when confidentiality is not
// None; `iv` is the AES IV (16 random bytes from the caller, since the codec has no RNG).
std::vector<std::uint8_t> encode_packet(const Packet& packet, const SessionKeys* keys,
                                        std::span<const std::uint8_t, 16> iv);
// Decodes one datagram. An authenticated packet needs keys (its AuthCode is verified); an
// encrypted one is decrypted. Only auth type none (1.5) and RMCP+ are accepted.
Parsed<Packet> decode_packet(std::span<const std::uint8_t> datagram, const SessionKeys* keys);

// ---- IPMI LAN messages (the IPMI Message payload) ----
struct LanRequest {
  std::uint8_t netfn = 0;  // even: a request
  std::uint8_t command = 0;
  std::uint8_t rq_seq = 0;  // 6 bits
  std::vector<std::uint8_t> data;
};
struct LanResponse {
  std::uint8_t netfn = 0;  // odd: the request's + 1
  std::uint8_t command = 0;
  std::uint8_t rq_seq = 0;
  std::uint8_t completion = 0;
  std::vector<std::uint8_t> data;  // after the completion code
};
std::vector<std::uint8_t> encode_request(const LanRequest& request);
Parsed<LanRequest> decode_request(std::span<const std::uint8_t> message);
std::vector<std::uint8_t> encode_response(const LanResponse& response);
Parsed<LanResponse> decode_response(std::span<const std::uint8_t> message);
// Two's complement checksum: the covered bytes plus it sum to 0 mod 256.
std::uint8_t checksum(std::span<const std::uint8_t> bytes);

// ---- RMCP+ session setup payloads (IPMI 2.0 §13.17-13.23) ----
struct OpenSessionRequest {
  std::uint8_t tag = 0;
  std::uint8_t max_privilege = 0;  // 0: the highest the proposed algorithms allow
  std::uint32_t console_session_id = 0;
  AuthAlg auth = AuthAlg::None;
  IntegrityAlg integrity = IntegrityAlg::None;
  ConfidentialityAlg confidentiality = ConfidentialityAlg::None;
};
struct OpenSessionResponse {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;  // RMCP+ status code (rmcp_status_text)
  std::uint8_t max_privilege = 0;
  std::uint32_t console_session_id = 0;
  std::uint32_t bmc_session_id = 0;  // absent (0) when status != 0
  AuthAlg auth = AuthAlg::None;
  IntegrityAlg integrity = IntegrityAlg::None;
  ConfidentialityAlg confidentiality = ConfidentialityAlg::None;
};
struct Rakp1 {
  std::uint8_t tag = 0;
  std::uint32_t bmc_session_id = 0;
  std::array<std::uint8_t, 16> console_random{};
  std::uint8_t role = 0;  // bits 3:0 privilege, bit 4: name-only lookup
  std::string username;   // at most 16 bytes
};
struct Rakp2 {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;
  std::uint32_t console_session_id = 0;
  std::array<std::uint8_t, 16> bmc_random{};
  std::array<std::uint8_t, 16> bmc_guid{};
  std::vector<std::uint8_t> auth_code;  // the rest of the payload (20 for SHA1, 32 for SHA256)
};
struct Rakp3 {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;
  std::uint32_t bmc_session_id = 0;
  std::vector<std::uint8_t> auth_code;
};
struct Rakp4 {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;
  std::uint32_t console_session_id = 0;
  std::vector<std::uint8_t> integrity_check;  // 12 (SHA1) or 16 (SHA256) bytes
};

std::vector<std::uint8_t> encode(const OpenSessionRequest& m);
std::vector<std::uint8_t> encode(const OpenSessionResponse& m);
std::vector<std::uint8_t> encode(const Rakp1& m);
std::vector<std::uint8_t> encode(const Rakp2& m);
std::vector<std::uint8_t> encode(const Rakp3& m);
std::vector<std::uint8_t> encode(const Rakp4& m);
Parsed<OpenSessionRequest> decode_open_session_request(std::span<const std::uint8_t> p);
Parsed<OpenSessionResponse> decode_open_session_response(std::span<const std::uint8_t> p);
Parsed<Rakp1> decode_rakp1(std::span<const std::uint8_t> p);
Parsed<Rakp2> decode_rakp2(std::span<const std::uint8_t> p);
Parsed<Rakp3> decode_rakp3(std::span<const std::uint8_t> p);
Parsed<Rakp4> decode_rakp4(std::span<const std::uint8_t> p);

// Human names for log lines and BmcStatus messages.
const char* rmcp_status_text(std::uint8_t status);
const char* completion_code_text(std::uint8_t code);

}  // namespace ironboot::bmc::ipmi
