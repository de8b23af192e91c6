// TFTP wire format (RFC 1350, options per RFC 2347): bytes <-> packet structs.
// Pure: no sockets, no clock, no logging. parse() never throws and checks every length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ironboot::tftp {

enum class Opcode : std::uint16_t { rrq = 1, wrq = 2, data = 3, ack = 4, error = 5, oack = 6 };

enum class ErrorCode : std::uint16_t {
  not_defined = 0,
  file_not_found = 1,
  access_violation = 2,
  disk_full = 3,  // also "server busy": no better code exists
  illegal_operation = 4,
  unknown_tid = 5,
  file_exists = 6,
  no_such_user = 7,
  option_refused = 8,  // RFC 2347
};

// An option as sent; names keep their case here, matching is case-insensitive.
using Option = std::pair<std::string, std::string>;

struct Request {  // RRQ or WRQ
  bool write = false;
  std::string filename;
  std::string mode;  // lower-cased: "octet", "netascii", "mail"
  std::vector<Option> options;
};

struct Data {
  std::uint16_t block = 0;
  std::span<const std::uint8_t> payload;  // view into the parsed buffer
};

struct Ack {
  std::uint16_t block = 0;
};

struct Error {
  std::uint16_t code = 0;
  std::string message;
};

struct OptionAck {
  std::vector<Option> options;
};

using Packet = std::variant<Request, Data, Ack, Error, OptionAck>;

enum class ParseError {
  too_short,
  unknown_opcode,
  unterminated_string,
  empty_filename,
  bad_mode,
  odd_option,  // a name without a value
  too_many_options,
};
const char* to_string(ParseError e);

// Either a packet or the reason it was rejected.
struct ParseResult {
  std::variant<Packet, ParseError> value;
  bool ok() const { return value.index() == 0; }
  const Packet& packet() const { return std::get<Packet>(value); }
  ParseError error() const { return std::get<ParseError>(value); }
};

inline constexpr std::size_t max_options = 32;
inline constexpr std::size_t max_string = 512;  // filename, mode, option name/value, message

ParseResult parse(std::span<const std::uint8_t> bytes);

// Encoders append to `out` and return the number of bytes written.
std::size_t encode_request(const Request& r, std::vector<std::uint8_t>& out);
std::size_t encode_ack(std::uint16_t block, std::vector<std::uint8_t>& out);
std::size_t encode_error(std::uint16_t code, std::string_view message, std::vector<std::uint8_t>& out);
std::size_t encode_oack(const std::vector<Option>& options, std::vector<std::uint8_t>& out);
std::size_t encode_data(std::uint16_t block, std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& out);

// Writes an ERROR / OACK / DATA header into a fixed buffer; returns bytes written or 0 when
// it does not fit. Used on the hot path where packets are built in place.
std::size_t write_error(std::span<std::uint8_t> out, std::uint16_t code, std::string_view message);
std::size_t write_oack(std::span<std::uint8_t> out, const std::vector<Option>& options);
inline constexpr std::size_t data_header_size = 4;
void write_data_header(std::span<std::uint8_t> out, std::uint16_t block);

}  // namespace ironboot::tftp
