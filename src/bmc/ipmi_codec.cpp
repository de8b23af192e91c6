#include "bmc/ipmi_codec.hpp"

#include <algorithm>
#include <cstring>

namespace ironboot::bmc::ipmi {
namespace {

constexpr std::size_t kRmcpHeader = 4;
constexpr std::size_t kV2Header = 12;  // auth type, payload type, session id, sequence, length
constexpr std::size_t kV15Header = 10;  // auth type, sequence, session id, length (no AuthCode)
constexpr std::uint8_t kNextHeader = 0x07;

using View = std::span<const std::uint8_t>;

void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint16_t get16(View p, std::size_t at) { return static_cast<std::uint16_t>(p[at] | (p[at + 1] << 8)); }
std::uint32_t get32(View p, std::size_t at) {
  return static_cast<std::uint32_t>(p[at]) | (static_cast<std::uint32_t>(p[at + 1]) << 8) |
         (static_cast<std::uint32_t>(p[at + 2]) << 16) | (static_cast<std::uint32_t>(p[at + 3]) << 24);
}
template <std::size_t N>
void get_array(View p, std::size_t at, std::array<std::uint8_t, N>& out) {
  std::copy_n(p.begin() + static_cast<std::ptrdiff_t>(at), N, out.begin());
}

// An algorithm record of Open Session: type, 2 reserved, length 8, algorithm, 3 reserved.
void put_algorithm(Bytes& out, std::uint8_t type, std::uint8_t algorithm) {
  const std::uint8_t record[8] = {type, 0, 0, 8, algorithm, 0, 0, 0};
  out.insert(out.end(), record, record + 8);
}
bool get_algorithm(View p, std::size_t at, std::uint8_t type, std::uint8_t& algorithm) {
  if (p[at] != type || p[at + 3] != 8) return false;
  algorithm = p[at + 4] & 0x3f;
  return true;
}

bool known_payload(std::uint8_t type) {
  return type == 0x00 || (type >= 0x10 && type <= 0x15);
}

}  // namespace

std::uint8_t checksum(View bytes) {
  std::uint8_t sum = 0;
  for (const std::uint8_t b : bytes) sum = static_cast<std::uint8_t>(sum + b);
  return static_cast<std::uint8_t>(-sum);
}

Bytes encode_packet(const Packet& packet, const SessionKeys* keys, std::span<const std::uint8_t, 16> iv) {
  Bytes out = {kRmcpVersion, 0x00, 0xff, kRmcpClassIpmi};
  if (!packet.v2) {
    out.push_back(kAuthTypeNone);
    put32(out, packet.sequence);
    put32(out, packet.session_id);
    out.push_back(static_cast<std::uint8_t>(packet.payload.size()));
    out.insert(out.end(), packet.payload.begin(), packet.payload.end());
    return out;
  }
  const bool encrypt = keys != nullptr && keys->confidentiality == ConfidentialityAlg::AesCbc128;
  const bool authenticate = keys != nullptr && integrity_code_length(keys->integrity) > 0;
  const Bytes body = encrypt ? aes_cbc_encrypt(keys->k2, iv, packet.payload) : packet.payload;
  out.push_back(kAuthTypeRmcpPlus);
  out.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(packet.type) | (encrypt ? 0x80 : 0) |
                                          (authenticate ? 0x40 : 0)));
  put32(out, packet.session_id);
  put32(out, packet.sequence);
  put16(out, static_cast<std::uint16_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  if (authenticate) {
    // Integrity pad (0xff) so that AuthType..Next Header is a whole number of 32-bit words.
    const std::size_t covered = kV2Header + body.size() + 2;
    const std::size_t pad = (4 - covered % 4) % 4;
    out.insert(out.end(), pad, 0xff);
    out.push_back(static_cast<std::uint8_t>(pad));
    out.push_back(kNextHeader);
    const Bytes code = integrity_code(keys->integrity, keys->k1, View(out).subspan(kRmcpHeader));
    out.insert(out.end(), code.begin(), code.end());
  }
  return out;
}

Parsed<Packet> decode_packet(View d, const SessionKeys* keys) {
  if (d.size() < kRmcpHeader + 1) return Parsed<Packet>::fail("shorter than an RMCP header");
  if (d[0] != kRmcpVersion) return Parsed<Packet>::fail("not RMCP version 1.0");
  if ((d[3] & 0x1f) != kRmcpClassIpmi) return Parsed<Packet>::fail("not an IPMI-class RMCP message");
  Packet p;
  const std::uint8_t auth_type = d[4] & 0x0f;
  if (auth_type == kAuthTypeNone) {
    if (d.size() < kRmcpHeader + kV15Header) return Parsed<Packet>::fail("truncated IPMI 1.5 session header");
    p.v2 = false;
    p.sequence = get32(d, 5);
    p.session_id = get32(d, 9);
    const std::size_t len = d[13];
    if (d.size() < kRmcpHeader + kV15Header + len) return Parsed<Packet>::fail("IPMI 1.5 payload longer than the datagram");
    p.payload.assign(d.begin() + kRmcpHeader + kV15Header, d.begin() + kRmcpHeader + kV15Header + static_cast<std::ptrdiff_t>(len));
    return p;
  }
  if (auth_type != kAuthTypeRmcpPlus) return Parsed<Packet>::fail("IPMI 1.5 authenticated session (unsupported)");
  if (d.size() < kRmcpHeader + kV2Header) return Parsed<Packet>::fail("truncated RMCP+ session header");
  const std::uint8_t type = d[5] & 0x3f;
  if (!known_payload(type)) return Parsed<Packet>::fail("unsupported RMCP+ payload type");
  p.type = static_cast<PayloadType>(type);
  p.encrypted = (d[5] & 0x80) != 0;
  p.authenticated = (d[5] & 0x40) != 0;
  p.session_id = get32(d, 6);
  p.sequence = get32(d, 10);
  const std::size_t len = get16(d, 14);
  const std::size_t body_end = kRmcpHeader + kV2Header + len;
  if (d.size() < body_end) return Parsed<Packet>::fail("RMCP+ payload longer than the datagram");
  const View body = d.subspan(kRmcpHeader + kV2Header, len);
  if (p.authenticated) {
    if (keys == nullptr || integrity_code_length(keys->integrity) == 0) {
      return Parsed<Packet>::fail("authenticated packet outside a session");
    }
    const std::size_t code_len = integrity_code_length(keys->integrity);
    if (d.size() < body_end + 2 + code_len) return Parsed<Packet>::fail("truncated integrity trailer");
    const std::size_t trailer = d.size() - body_end - code_len;  // pad + pad length + next header
    if (d[d.size() - code_len - 2] != trailer - 2) return Parsed<Packet>::fail("integrity pad length mismatch");
    if (d[d.size() - code_len - 1] != kNextHeader) return Parsed<Packet>::fail("bad next header");
    const Bytes expect = integrity_code(keys->integrity, keys->k1, d.subspan(kRmcpHeader, d.size() - kRmcpHeader - code_len));
    if (!same_code(expect, d.last(code_len))) return Parsed<Packet>::fail("integrity AuthCode mismatch");
  }
  if (p.encrypted) {
    if (keys == nullptr || keys->confidentiality != ConfidentialityAlg::AesCbc128) {
      return Parsed<Packet>::fail("encrypted packet outside a session");
    }
    auto plain = aes_cbc_decrypt(keys->k2, body);
    if (!plain) return Parsed<Packet>::fail("AES-CBC payload does not decrypt");
    p.payload = std::move(*plain);
  } else {
    p.payload.assign(body.begin(), body.end());
  }
  return p;
}

Bytes encode_request(const LanRequest& r) {
  Bytes out = {kBmcAddress, static_cast<std::uint8_t>(r.netfn << 2)};
  out.push_back(checksum(out));
  out.push_back(kConsoleAddress);
  out.push_back(static_cast<std::uint8_t>((r.rq_seq & 0x3f) << 2));
  out.push_back(r.command);
  out.insert(out.end(), r.data.begin(), r.data.end());
  out.push_back(checksum(View(out).subspan(3)));
  return out;
}

Parsed<LanRequest> decode_request(View m) {
  if (m.size() < 7) return Parsed<LanRequest>::fail("IPMI request shorter than 7 bytes");
  if (checksum(m.first(2)) != m[2]) return Parsed<LanRequest>::fail("bad header checksum");
  if (checksum(m.subspan(3, m.size() - 4)) != m.back()) return Parsed<LanRequest>::fail("bad data checksum");
  LanRequest r;
  r.netfn = m[1] >> 2;
  if (r.netfn & 1) return Parsed<LanRequest>::fail("odd netfn: a response, not a request");
  r.rq_seq = m[4] >> 2;
  r.command = m[5];
  r.data.assign(m.begin() + 6, m.end() - 1);
  return r;
}

Bytes encode_response(const LanResponse& r) {
  Bytes out = {kConsoleAddress, static_cast<std::uint8_t>(r.netfn << 2)};
  out.push_back(checksum(out));
  out.push_back(kBmcAddress);
  out.push_back(static_cast<std::uint8_t>((r.rq_seq & 0x3f) << 2));
  out.push_back(r.command);
  out.push_back(r.completion);
  out.insert(out.end(), r.data.begin(), r.data.end());
  out.push_back(checksum(View(out).subspan(3)));
  return out;
}

Parsed<LanResponse> decode_response(View m) {
  if (m.size() < 8) return Parsed<LanResponse>::fail("IPMI response shorter than 8 bytes");
  if (checksum(m.first(2)) != m[2]) return Parsed<LanResponse>::fail("bad header checksum");
  if (checksum(m.subspan(3, m.size() - 4)) != m.back()) return Parsed<LanResponse>::fail("bad data checksum");
  LanResponse r;
  r.netfn = m[1] >> 2;
  if (!(r.netfn & 1)) return Parsed<LanResponse>::fail("even netfn: a request, not a response");
  r.rq_seq = m[4] >> 2;
  r.command = m[5];
  r.completion = m[6];
  r.data.assign(m.begin() + 7, m.end() - 1);
  return r;
}

Bytes encode(const OpenSessionRequest& m) {
  Bytes out = {m.tag, m.max_privilege, 0, 0};
  put32(out, m.console_session_id);
  put_algorithm(out, 0x00, static_cast<std::uint8_t>(m.auth));
  put_algorithm(out, 0x01, static_cast<std::uint8_t>(m.integrity));
  put_algorithm(out, 0x02, static_cast<std::uint8_t>(m.confidentiality));
  return out;
}

Parsed<OpenSessionRequest> decode_open_session_request(View p) {
  if (p.size() != 32) return Parsed<OpenSessionRequest>::fail("Open Session Request is not 32 bytes");
  OpenSessionRequest m;
  m.tag = p[0];
  m.max_privilege = p[1] & 0x0f;
  m.console_session_id = get32(p, 4);
  std::uint8_t a = 0, i = 0, c = 0;
  if (!get_algorithm(p, 8, 0x00, a) || !get_algorithm(p, 16, 0x01, i) || !get_algorithm(p, 24, 0x02, c)) {
    return Parsed<OpenSessionRequest>::fail("malformed algorithm payload");
  }
  m.auth = static_cast<AuthAlg>(a);
  m.integrity = static_cast<IntegrityAlg>(i);
  m.confidentiality = static_cast<ConfidentialityAlg>(c);
  return m;
}

Bytes encode(const OpenSessionResponse& m) {
  Bytes out = {m.tag, m.status, m.max_privilege, 0};
  put32(out, m.console_session_id);
  if (m.status != 0) return out;
  put32(out, m.bmc_session_id);
  put_algorithm(out, 0x00, static_cast<std::uint8_t>(m.auth));
  put_algorithm(out, 0x01, static_cast<std::uint8_t>(m.integrity));
  put_algorithm(out, 0x02, static_cast<std::uint8_t>(m.confidentiality));
  return out;
}

Parsed<OpenSessionResponse> decode_open_session_response(View p) {
  // An error answer may stop after the console session ID (8 bytes); a success is 36.
  if (p.size() < 2) return Parsed<OpenSessionResponse>::fail("Open Session Response shorter than 2 bytes");
  OpenSessionResponse m;
  m.tag = p[0];
  m.status = p[1];
  if (p.size() >= 8) m.console_session_id = get32(p, 4);
  if (m.status != 0) return m;
  if (p.size() != 36) return Parsed<OpenSessionResponse>::fail("Open Session Response is not 36 bytes");
  m.max_privilege = p[2] & 0x0f;
  m.bmc_session_id = get32(p, 8);
  std::uint8_t a = 0, i = 0, c = 0;
  if (!get_algorithm(p, 12, 0x00, a) || !get_algorithm(p, 20, 0x01, i) || !get_algorithm(p, 28, 0x02, c)) {
    return Parsed<OpenSessionResponse>::fail("malformed algorithm payload");
  }
  m.auth = static_cast<AuthAlg>(a);
  m.integrity = static_cast<IntegrityAlg>(i);
  m.confidentiality = static_cast<ConfidentialityAlg>(c);
  return m;
}

Bytes encode(const Rakp1& m) {
  Bytes out = {m.tag, 0, 0, 0};
  put32(out, m.bmc_session_id);
  out.insert(out.end(), m.console_random.begin(), m.console_random.end());
  out.push_back(m.role);
  out.push_back(0);
  out.push_back(0);
  out.push_back(static_cast<std::uint8_t>(m.username.size()));
  out.insert(out.end(), m.username.begin(), m.username.end());
  return out;
}

Parsed<Rakp1> decode_rakp1(View p) {
  if (p.size() < 28) return Parsed<Rakp1>::fail("RAKP 1 shorter than 28 bytes");
  const std::size_t name_len = p[27];
  if (name_len > 16 || p.size() != 28 + name_len) return Parsed<Rakp1>::fail("RAKP 1 user name length mismatch");
  Rakp1 m;
  m.tag = p[0];
  m.bmc_session_id = get32(p, 4);
  get_array(p, 8, m.console_random);
  m.role = p[24];
  m.username.assign(p.begin() + 28, p.end());
  return m;
}

Bytes encode(const Rakp2& m) {
  Bytes out = {m.tag, m.status, 0, 0};
  put32(out, m.console_session_id);
  if (m.status != 0) return out;
  out.insert(out.end(), m.bmc_random.begin(), m.bmc_random.end());
  out.insert(out.end(), m.bmc_guid.begin(), m.bmc_guid.end());
  out.insert(out.end(), m.auth_code.begin(), m.auth_code.end());
  return out;
}

Parsed<Rakp2> decode_rakp2(View p) {
  if (p.size() < 2) return Parsed<Rakp2>::fail("RAKP 2 shorter than 2 bytes");
  Rakp2 m;
  m.tag = p[0];
  m.status = p[1];
  if (p.size() >= 8) m.console_session_id = get32(p, 4);
  if (m.status != 0) return m;
  if (p.size() < 40) return Parsed<Rakp2>::fail("RAKP 2 shorter than 40 bytes");
  if (p.size() > 40 + 64) return Parsed<Rakp2>::fail("RAKP 2 auth code longer than any HMAC");
  get_array(p, 8, m.bmc_random);
  get_array(p, 24, m.bmc_guid);
  m.auth_code.assign(p.begin() + 40, p.end());
  return m;
}

Bytes encode(const Rakp3& m) {
  Bytes out = {m.tag, m.status, 0, 0};
  put32(out, m.bmc_session_id);
  out.insert(out.end(), m.auth_code.begin(), m.auth_code.end());
  return out;
}

Parsed<Rakp3> decode_rakp3(View p) {
  if (p.size() < 8) return Parsed<Rakp3>::fail("RAKP 3 shorter than 8 bytes");
  if (p.size() > 8 + 64) return Parsed<Rakp3>::fail("RAKP 3 auth code longer than any HMAC");
  Rakp3 m;
  m.tag = p[0];
  m.status = p[1];
  m.bmc_session_id = get32(p, 4);
  m.auth_code.assign(p.begin() + 8, p.end());
  return m;
}

Bytes encode(const Rakp4& m) {
  Bytes out = {m.tag, m.status, 0, 0};
  put32(out, m.console_session_id);
  out.insert(out.end(), m.integrity_check.begin(), m.integrity_check.end());
  return out;
}

Parsed<Rakp4> decode_rakp4(View p) {
  if (p.size() < 2) return Parsed<Rakp4>::fail("RAKP 4 shorter than 2 bytes");
  Rakp4 m;
  m.tag = p[0];
  m.status = p[1];
  if (p.size() >= 8) m.console_session_id = get32(p, 4);
  if (m.status != 0) return m;
  if (p.size() < 8 || p.size() > 8 + 64) return Parsed<Rakp4>::fail("RAKP 4 length out of range");
  m.integrity_check.assign(p.begin() + 8, p.end());
  return m;
}

const char* rmcp_status_text(std::uint8_t status) {
  static constexpr const char* kText[] = {
      "no errors",
      "insufficient resources to create a session",
      "invalid session ID",
      "invalid payload type",
      "invalid authentication algorithm",
      "invalid integrity algorithm",
      "no matching authentication payload",
      "no matching integrity payload",
      "inactive session ID",
      "invalid role",
      "unauthorized role or privilege level requested",
      "insufficient resources to create a session at the requested role",
      "invalid name length",
      "unauthorized name",
      "unauthorized GUID",
      "invalid integrity check value",
      "invalid confidentiality algorithm",
      "no cipher suite match with proposed security algorithms",
      "illegal or unrecognized parameter",
  };
  return status < std::size(kText) ? kText[status] : "unknown RMCP+ status";
}

const char* completion_code_text(std::uint8_t code) {
  switch (code) {
    case 0x00: return "success";
    case 0x80: return "command-specific 0x80 (parameter not supported)";
    case 0x81: return "command-specific 0x81 (e.g. set already in progress)";
    case 0x82: return "command-specific 0x82 (e.g. parameter is read-only)";
    case 0xc0: return "node busy";
    case 0xc1: return "invalid command";
    case 0xc2: return "command invalid for this LUN";
    case 0xc3: return "timeout while processing";
    case 0xc4: return "out of space";
    case 0xc5: return "reservation cancelled";
    case 0xc6: return "request data truncated";
    case 0xc7: return "request data length invalid";
    case 0xc8: return "request data field length limit exceeded";
    case 0xc9: return "parameter out of range";
    case 0xca: return "cannot return the requested number of bytes";
    case 0xcb: return "requested sensor, data or record not present";
    case 0xcc: return "invalid data field in request";
    case 0xcd: return "command illegal for this sensor or record type";
    case 0xce: return "command response could not be provided";
    case 0xcf: return "duplicated request";
    case 0xd0: return "SDR repository in update mode";
    case 0xd1: return "device in firmware update mode";
    case 0xd2: return "BMC initialization in progress";
    case 0xd3: return "destination unavailable";
    case 0xd4: return "insufficient privilege level";
    case 0xd5: return "not supported in present state";
    case 0xd6: return "sub-function disabled or unavailable";
    case 0xff: return "unspecified error";
    default: return "unknown completion code";
  }
}

}  // namespace ironboot::bmc::ipmi
