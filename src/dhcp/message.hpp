// DHCPv4 message codec (RFC 2131/2132, RFC 3396 long options, RFC 3004 user class,
// RFC 4578 PXE options). Pure: bytes <-> struct, no sockets, no clock, no logging.
// parse never throws and checks every length before use.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/net.hpp"

namespace ironboot::dhcp {

using Bytes = std::span<const std::uint8_t>;

namespace opt {
inline constexpr std::uint8_t pad = 0;
inline constexpr std::uint8_t subnet_mask = 1;
inline constexpr std::uint8_t vendor_specific = 43;  // PXE sub-options for PXEClient
inline constexpr std::uint8_t overload = 52;
inline constexpr std::uint8_t message_type = 53;
inline constexpr std::uint8_t server_identifier = 54;
inline constexpr std::uint8_t parameter_request_list = 55;
inline constexpr std::uint8_t max_message_size = 57;
inline constexpr std::uint8_t vendor_class = 60;
inline constexpr std::uint8_t client_identifier = 61;
inline constexpr std::uint8_t tftp_server_name = 66;
inline constexpr std::uint8_t bootfile_name = 67;
inline constexpr std::uint8_t user_class = 77;
inline constexpr std::uint8_t client_arch = 93;
inline constexpr std::uint8_t client_ndi = 94;
inline constexpr std::uint8_t client_uuid = 97;
inline constexpr std::uint8_t ipxe_encap = 175;
inline constexpr std::uint8_t end = 255;
}  // namespace opt

enum class MessageType : std::uint8_t {
  discover = 1, offer = 2, request = 3, decline = 4, ack = 5, nak = 6, release = 7, inform = 8,
};
const char* to_string(MessageType t);

inline constexpr std::uint8_t kBootRequest = 1;
inline constexpr std::uint8_t kBootReply = 2;
inline constexpr std::uint32_t kMagicCookie = 0x63825363;
inline constexpr std::size_t kFixedHeaderSize = 236;             // op .. file
inline constexpr std::size_t kOptionsOffset = kFixedHeaderSize + 4;  // after the magic cookie
inline constexpr std::size_t kMinBootpSize = 300;                // RFC 951 minimum, padded on output
inline constexpr std::uint16_t kBroadcastFlag = 0x8000;

// Options as code -> bytes. Instances of one code are concatenated in the order they
// appear (RFC 3396). One storage buffer for all values, so a reused Options object does not
// allocate per packet. Codes 0 (pad), 52 (overload) and 255 (end) are framing, handled by
// the codec, and cannot be set.
class Options {
 public:
  Options() : data_(512) {}

  bool has(std::uint8_t code) const { return index_[code].present; }
  std::optional<Bytes> get(std::uint8_t code) const;
  std::optional<std::string_view> get_string(std::uint8_t code) const;

  // Replaces the value. Returns false for the framing codes.
  bool set(std::uint8_t code, Bytes value);
  bool set(std::uint8_t code, std::string_view value);
  // Appends to the value (a further instance of the option, RFC 3396).
  bool append(std::uint8_t code, Bytes value);
  bool append(std::uint8_t code, std::string_view value);
  void erase(std::uint8_t code);
  void clear();

  std::size_t size() const { return count_; }
  // Codes in the order they were first set/appended.
  std::span<const std::uint8_t> codes() const { return {order_.data(), count_}; }

  friend bool operator==(const Options& a, const Options& b);

 private:
  struct Entry {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    bool present = false;
  };
  bool framing(std::uint8_t code) const { return code == opt::pad || code == opt::overload || code == opt::end; }

  std::array<Entry, 256> index_{};
  std::array<std::uint8_t, 256> order_{};
  std::size_t count_ = 0;
  // Value bytes live in data_[0, used_). data_ only grows (zero-filled, so resize is rare
  // and the per-packet appends are plain copies).
  std::vector<std::uint8_t> data_;
  std::size_t used_ = 0;
  // Makes room for `n` more bytes after used_; the rare growth stays out of line so the
  // per-option path is a compare and a copy.
  void reserve_more(std::size_t n) {
    if (used_ + n > data_.size()) grow(used_ + n);
  }
  void grow(std::size_t size);
};

struct Message {
  std::uint8_t op = kBootRequest;
  std::uint8_t htype = 1;  // Ethernet
  std::uint8_t hlen = 6;
  std::uint8_t hops = 0;
  std::uint32_t xid = 0;
  std::uint16_t secs = 0;
  std::uint16_t flags = 0;
  Ipv4 ciaddr, yiaddr, siaddr, giaddr;
  std::array<std::uint8_t, 16> chaddr{};
  std::array<std::uint8_t, 64> sname{};   // NUL-terminated text unless overloaded
  std::array<std::uint8_t, 128> file{};   // NUL-terminated text unless overloaded
  Options options;
  // Set by parse: the option-52 value found (0 none, 1 file, 2 sname, 3 both). Those fields
  // carried options, so parse leaves them zeroed. serialise never overloads.
  std::uint8_t overloaded = 0;

  // Client hardware address as text (aa:bb:..), hlen bytes, for logs.
  std::string mac() const;
  std::string_view sname_text() const;
  std::string_view file_text() const;
  // False (and nothing changed) when the text does not fit with its terminating NUL.
  bool set_sname(std::string_view text);
  bool set_file(std::string_view text);
};

enum class ParseError : std::uint8_t {
  ok = 0,
  too_short,          // shorter than the fixed header + cookie
  bad_magic_cookie,
  bad_hlen,           // hlen > 16
  truncated_option,   // an option's length runs past its area
  bad_overload,       // option 52 not 1 byte of 1..3
  too_many_options,   // more option instances than the caller allows (ParseLimits)
};

// Bounds on what one packet may make the parser do. Interleaved instances of two options
// make every append move the value built so far: a cap on instances keeps a 1,500-byte
// packet from costing quadratic copying. Real clients send a few dozen; RFC 3396 long
// options need one instance per 255 bytes.
struct ParseLimits {
  std::size_t max_option_instances = 256;  // over options, file and sname together
};
const char* to_string(ParseError e);

// Parses into `out` (reused: cleared first, keeps its buffers). On error `out` is unspecified.
ParseError parse(Bytes packet, Message& out, const ParseLimits& limits = {});
std::optional<Message> parse(Bytes packet, ParseError* error = nullptr);

// Writes a BOOTP/DHCP packet: fixed fields, cookie, options (split into 255-byte instances
// when longer, RFC 3396), end, zero padding to at least 300 bytes. Returns the number of
// bytes written, 0 when `out` is too small.
std::size_t serialize(const Message& msg, std::span<std::uint8_t> out);
std::vector<std::uint8_t> serialize(const Message& msg);
// Size serialize() will produce.
std::size_t serialized_size(const Message& msg);

// ---- typed accessors ---------------------------------------------------------------

std::optional<MessageType> message_type(const Message& m);                 // 53
void set_message_type(Message& m, MessageType t);
std::optional<Ipv4> server_identifier(const Message& m);                   // 54
void set_server_identifier(Message& m, Ipv4 address);
std::optional<std::string_view> vendor_class(const Message& m);            // 60
std::optional<std::string_view> tftp_server_name(const Message& m);        // 66
std::optional<std::string_view> bootfile_name(const Message& m);           // 67

// 93: client system architectures (RFC 4578: a list of 16-bit types). Empty when absent
// or malformed (odd or zero length).
struct ArchList {
  std::array<std::uint16_t, 16> types{};
  std::size_t count = 0;
  std::uint16_t first() const { return types[0]; }
};
std::optional<ArchList> client_architectures(const Message& m);
void set_client_architectures(Message& m, std::span<const std::uint16_t> types);

// 94: client network device interface (type 1 = UNDI, major, minor).
struct ClientNdi {
  std::uint8_t type = 1, major = 0, minor = 0;
  friend bool operator==(const ClientNdi&, const ClientNdi&) = default;
};
std::optional<ClientNdi> client_ndi(const Message& m);
void set_client_ndi(Message& m, ClientNdi ndi);

// 97: client machine identifier. Well-formed = 17 bytes, type byte 0 then a 16-byte GUID.
std::optional<Bytes> client_uuid(const Message& m);
bool client_uuid_well_formed(Bytes value);

// 77: user class. RFC 3004 encodes instances as <len><data>...; many clients (iPXE among
// them) send one bare string instead. Accepts both: when the value is not a valid RFC 3004
// list it is one class.
struct UserClasses {
  std::array<std::string_view, 16> items{};
  std::size_t count = 0;
  bool contains(std::string_view name) const;
};
UserClasses user_classes(const Message& m);
// Encodes RFC 3004 instances (each 1..255 bytes). False when one does not fit.
bool set_user_classes(Message& m, std::span<const std::string_view> classes);

// Encapsulated sub-options (43 PXE vendor options, 175 iPXE): a <code><len><value> list.
// pad (0) is skipped and 255 ends the list. Calls fn(code, value) for each; returns false
// (after the well-formed prefix) when a length runs past the end.
template <class Fn>
bool for_each_suboption(Bytes value, Fn&& fn) {
  std::size_t i = 0;
  while (i < value.size()) {
    const std::uint8_t code = value[i];
    if (code == 0) { ++i; continue; }
    if (code == 255) return true;
    if (i + 1 >= value.size()) return false;
    const std::size_t len = value[i + 1];
    if (i + 2 + len > value.size()) return false;
    fn(code, value.subspan(i + 2, len));
    i += 2 + len;
  }
  return true;
}
std::optional<Bytes> find_suboption(Bytes value, std::uint8_t code);

// 43 (PXE, for PXEClient): sub-option 6 discovery control; 71 boot item (type, layer).
namespace pxe {
inline constexpr std::uint8_t discovery_control = 6;
inline constexpr std::uint8_t boot_item = 71;
// Bit 3 of discovery control: "boot the file in `file`, skip discovery and menus".
inline constexpr std::uint8_t kUseBootFile = 8;
}  // namespace pxe
std::optional<std::uint8_t> pxe_discovery_control(const Message& m);
struct PxeBootItem {
  std::uint16_t type = 0, layer = 0;
};
std::optional<PxeBootItem> pxe_boot_item(const Message& m);
// Writes option 43 from sub-options; each value up to 255 bytes.
struct SubOption {
  std::uint8_t code;
  Bytes value;
};
bool set_suboptions(Message& m, std::uint8_t option, std::span<const SubOption> subs);

// 175: iPXE feature flags. Feature codes from iPXE's include/ipxe/features.h.
namespace ipxe_feature {
inline constexpr std::uint8_t http = 0x13;
inline constexpr std::uint8_t https = 0x14;
inline constexpr std::uint8_t tftp = 0x15;
inline constexpr std::uint8_t efi = 0x24;
}  // namespace ipxe_feature
bool ipxe_has_feature(const Message& m, std::uint8_t feature);

}  // namespace ironboot::dhcp
