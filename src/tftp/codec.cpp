#include "tftp/codec.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/text.hpp"

namespace ironboot::tftp {
namespace {

std::uint16_t read_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
  out.push_back(0);
}

// Reads a NUL-terminated string starting at `pos`; advances `pos` past the NUL.
bool read_string(std::span<const std::uint8_t> b, std::size_t& pos, std::string& out) {
  const auto* begin = b.data() + pos;
  const auto* end = b.data() + b.size();
  const auto* nul = std::find(begin, end, std::uint8_t{0});
  if (nul == end) return false;
  const auto len = static_cast<std::size_t>(nul - begin);
  if (len > max_string) return false;
  out.assign(reinterpret_cast<const char*>(begin), len);
  pos += len + 1;
  return true;
}

ParseResult fail(ParseError e) { return ParseResult{e}; }

// Name/value pairs up to the end of the packet; returns the error, if any.
std::optional<ParseError> parse_options(std::span<const std::uint8_t> b, std::size_t pos,
                                        std::vector<Option>& options) {
  while (pos < b.size()) {
    Option opt;
    if (!read_string(b, pos, opt.first)) return ParseError::unterminated_string;
    if (pos >= b.size()) return ParseError::odd_option;
    if (!read_string(b, pos, opt.second)) return ParseError::unterminated_string;
    if (options.size() == max_options) return ParseError::too_many_options;
    options.push_back(std::move(opt));
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(ParseError e) {
  switch (e) {
    case ParseError::too_short: return "too_short";
    case ParseError::unknown_opcode: return "unknown_opcode";
    case ParseError::unterminated_string: return "unterminated_string";
    case ParseError::empty_filename: return "empty_filename";
    case ParseError::bad_mode: return "bad_mode";
    case ParseError::odd_option: return "odd_option";
    case ParseError::too_many_options: return "too_many_options";
  }
  return "unknown";
}

ParseResult parse(std::span<const std::uint8_t> b) {
  if (b.size() < 2) return fail(ParseError::too_short);
  const std::uint16_t op = read_u16(b.data());
  switch (static_cast<Opcode>(op)) {
    case Opcode::rrq:
    case Opcode::wrq: {
      Request r;
      r.write = static_cast<Opcode>(op) == Opcode::wrq;
      std::size_t pos = 2;
      if (!read_string(b, pos, r.filename)) return fail(ParseError::unterminated_string);
      if (r.filename.empty()) return fail(ParseError::empty_filename);
      if (!read_string(b, pos, r.mode)) return fail(ParseError::unterminated_string);
      for (auto& c : r.mode) c = ascii_lower(c);
      if (r.mode != "octet" && r.mode != "netascii" && r.mode != "mail") return fail(ParseError::bad_mode);
      if (auto e = parse_options(b, pos, r.options)) return fail(*e);
      return ParseResult{Packet{std::move(r)}};
    }
    case Opcode::data: {
      if (b.size() < 4) return fail(ParseError::too_short);
      return ParseResult{Packet{Data{read_u16(b.data() + 2), b.subspan(4)}}};
    }
    case Opcode::ack: {
      if (b.size() < 4) return fail(ParseError::too_short);
      // Some clients pad ACKs; RFC 1350 does not forbid trailing bytes, so they are ignored.
      return ParseResult{Packet{Ack{read_u16(b.data() + 2)}}};
    }
    case Opcode::error: {
      if (b.size() < 4) return fail(ParseError::too_short);
      Error e;
      e.code = read_u16(b.data() + 2);
      std::size_t pos = 4;
      // A missing terminator is common in the wild; accept the rest as the message.
      if (!read_string(b, pos, e.message)) {
        const std::size_t len = std::min(b.size() - 4, max_string);
        e.message.assign(reinterpret_cast<const char*>(b.data() + 4), len);
      }
      return ParseResult{Packet{std::move(e)}};
    }
    case Opcode::oack: {
      OptionAck o;
      if (auto e = parse_options(b, 2, o.options)) return fail(*e);
      return ParseResult{Packet{std::move(o)}};
    }
  }
  return fail(ParseError::unknown_opcode);
}

std::size_t encode_request(const Request& r, std::vector<std::uint8_t>& out) {
  const auto start = out.size();
  put_u16(out, static_cast<std::uint16_t>(r.write ? Opcode::wrq : Opcode::rrq));
  put_string(out, r.filename);
  put_string(out, r.mode);
  for (const auto& [name, value] : r.options) {
    put_string(out, name);
    put_string(out, value);
  }
  return out.size() - start;
}

std::size_t encode_ack(std::uint16_t block, std::vector<std::uint8_t>& out) {
  put_u16(out, static_cast<std::uint16_t>(Opcode::ack));
  put_u16(out, block);
  return 4;
}

std::size_t encode_error(std::uint16_t code, std::string_view message, std::vector<std::uint8_t>& out) {
  const auto start = out.size();
  put_u16(out, static_cast<std::uint16_t>(Opcode::error));
  put_u16(out, code);
  put_string(out, message);
  return out.size() - start;
}

std::size_t encode_oack(const std::vector<Option>& options, std::vector<std::uint8_t>& out) {
  const auto start = out.size();
  put_u16(out, static_cast<std::uint16_t>(Opcode::oack));
  for (const auto& [name, value] : options) {
    put_string(out, name);
    put_string(out, value);
  }
  return out.size() - start;
}

std::size_t encode_data(std::uint16_t block, std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& out) {
  put_u16(out, static_cast<std::uint16_t>(Opcode::data));
  put_u16(out, block);
  out.insert(out.end(), payload.begin(), payload.end());
  return 4 + payload.size();
}

std::size_t write_error(std::span<std::uint8_t> out, std::uint16_t code, std::string_view message) {
  message = message.substr(0, max_string);
  const std::size_t need = 4 + message.size() + 1;
  if (out.size() < need) return 0;
  out[0] = 0;
  out[1] = static_cast<std::uint8_t>(Opcode::error);
  out[2] = static_cast<std::uint8_t>(code >> 8);
  out[3] = static_cast<std::uint8_t>(code & 0xff);
  std::memcpy(out.data() + 4, message.data(), message.size());
  out[need - 1] = 0;
  return need;
}

std::size_t write_oack(std::span<std::uint8_t> out, const std::vector<Option>& options) {
  std::size_t need = 2;
  for (const auto& [n, v] : options) need += n.size() + v.size() + 2;
  if (out.size() < need) return 0;
  out[0] = 0;
  out[1] = static_cast<std::uint8_t>(Opcode::oack);
  std::size_t pos = 2;
  for (const auto& [n, v] : options) {
    std::memcpy(out.data() + pos, n.data(), n.size());
    pos += n.size();
    out[pos++] = 0;
    std::memcpy(out.data() + pos, v.data(), v.size());
    pos += v.size();
    out[pos++] = 0;
  }
  return pos;
}

void write_data_header(std::span<std::uint8_t> out, std::uint16_t block) {
  out[0] = 0;
  out[1] = static_cast<std::uint8_t>(Opcode::data);
  out[2] = static_cast<std::uint8_t>(block >> 8);
  out[3] = static_cast<std::uint8_t>(block & 0xff);
}

}  // namespace ironboot::tftp
