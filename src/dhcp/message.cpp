#include "dhcp/message.hpp"

#include <algorithm>
#include <cstring>

namespace ironboot::dhcp {

const char* to_string(MessageType t) {
  switch (t) {
    case MessageType::discover: return "DISCOVER";
    case MessageType::offer: return "OFFER";
    case MessageType::request: return "REQUEST";
    case MessageType::decline: return "DECLINE";
    case MessageType::ack: return "ACK";
    case MessageType::nak: return "NAK";
    case MessageType::release: return "RELEASE";
    case MessageType::inform: return "INFORM";
  }
  return "UNKNOWN";
}

const char* to_string(ParseError e) {
  switch (e) {
    case ParseError::ok: return "ok";
    case ParseError::too_short: return "too_short";
    case ParseError::bad_magic_cookie: return "bad_magic_cookie";
    case ParseError::bad_hlen: return "bad_hlen";
    case ParseError::truncated_option: return "truncated_option";
    case ParseError::bad_overload: return "bad_overload";
    case ParseError::too_many_options: return "too_many_options";
  }
  return "unknown";
}

// ---- Options --------------------------------------------------------------------------

std::optional<Bytes> Options::get(std::uint8_t code) const {
  const Entry& e = index_[code];
  if (!e.present) return std::nullopt;
  return Bytes(data_.data() + e.offset, e.length);
}

std::optional<std::string_view> Options::get_string(std::uint8_t code) const {
  const auto v = get(code);
  if (!v) return std::nullopt;
  std::string_view s(reinterpret_cast<const char*>(v->data()), v->size());
  // Some clients NUL-terminate strings; the terminator is not part of the value.
  while (!s.empty() && s.back() == '\0') s.remove_suffix(1);
  return s;
}

bool Options::set(std::uint8_t code, Bytes value) {
  if (framing(code)) return false;
  Entry& e = index_[code];
  if (e.present) {
    // Start a fresh value at the end; the old bytes are dead until clear().
    e.offset = static_cast<std::uint32_t>(used_);
    e.length = 0;
  }
  return append(code, value);
}

bool Options::set(std::uint8_t code, std::string_view value) {
  return set(code, Bytes(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
}

bool Options::append(std::uint8_t code, Bytes value) {
  if (framing(code)) return false;
  // The value may point into our own buffer, which append can reallocate.
  const auto* base = data_.data();
  if (!value.empty() && value.data() >= base && value.data() < base + data_.size()) {
    std::vector<std::uint8_t> copy(value.begin(), value.end());
    return append(code, copy);
  }
  Entry& e = index_[code];
  if (!e.present) {
    e = Entry{static_cast<std::uint32_t>(used_), 0, true};
    order_[count_++] = code;
  } else if (e.offset + e.length != used_) {
    // Move the existing value to the end so the concatenation stays contiguous.
    reserve_more(e.length);
    std::memmove(data_.data() + used_, data_.data() + e.offset, e.length);
    e.offset = static_cast<std::uint32_t>(used_);
    used_ += e.length;
  }
  reserve_more(value.size());
  if (!value.empty()) std::memcpy(data_.data() + used_, value.data(), value.size());
  used_ += value.size();
  e.length += static_cast<std::uint32_t>(value.size());
  return true;
}

[[gnu::noinline]] void Options::grow(std::size_t size) { data_.resize(std::max(2 * data_.size(), size)); }

bool Options::append(std::uint8_t code, std::string_view value) {
  return append(code, Bytes(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
}

void Options::erase(std::uint8_t code) {
  if (!index_[code].present) return;
  index_[code] = Entry{};
  auto* end = order_.data() + count_;
  auto* it = std::find(order_.data(), end, code);
  std::move(it + 1, end, it);
  --count_;
}

void Options::clear() {
  for (std::size_t i = 0; i < count_; ++i) index_[order_[i]] = Entry{};
  count_ = 0;
  used_ = 0;
}

bool operator==(const Options& a, const Options& b) {
  if (a.count_ != b.count_) return false;
  for (std::size_t i = 0; i < a.count_; ++i) {
    const auto va = a.get(a.order_[i]);
    const auto vb = b.get(a.order_[i]);
    if (!vb || !std::equal(va->begin(), va->end(), vb->begin(), vb->end())) return false;
  }
  return true;
}

// ---- Message ----------------------------------------------------------------------------

namespace {

std::string_view field_text(const std::uint8_t* p, std::size_t n) {
  const auto* nul = static_cast<const std::uint8_t*>(std::memchr(p, 0, n));
  return {reinterpret_cast<const char*>(p), nul ? static_cast<std::size_t>(nul - p) : n};
}

template <std::size_t N>
bool set_field(std::array<std::uint8_t, N>& field, std::string_view text) {
  if (text.size() >= N) return false;
  field.fill(0);
  std::memcpy(field.data(), text.data(), text.size());
  return true;
}

}  // namespace

std::string Message::mac() const { return format_mac(chaddr.data(), std::min<std::size_t>(hlen, chaddr.size())); }
std::string_view Message::sname_text() const { return field_text(sname.data(), sname.size()); }
std::string_view Message::file_text() const { return field_text(file.data(), file.size()); }
bool Message::set_sname(std::string_view text) { return set_field(sname, text); }
bool Message::set_file(std::string_view text) { return set_field(file, text); }

// ---- parse --------------------------------------------------------------------------------

namespace {

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// Reads one option area into `options`. Only the main area may carry option 52.
// `instances_left` counts down over every area of the packet.
ParseError read_area(Bytes area, Options& options, std::uint8_t* overload, std::size_t& instances_left) {
  std::size_t i = 0;
  while (i < area.size()) {
    const std::uint8_t code = area[i];
    if (code == opt::pad) { ++i; continue; }
    if (code == opt::end) return ParseError::ok;
    if (i + 1 >= area.size()) return ParseError::truncated_option;
    const std::size_t len = area[i + 1];
    if (i + 2 + len > area.size()) return ParseError::truncated_option;
    const Bytes value = area.subspan(i + 2, len);
    if (instances_left == 0) return ParseError::too_many_options;
    --instances_left;
    if (code == opt::overload) {
      if (overload) {
        if (len != 1 || value[0] < 1 || value[0] > 3) return ParseError::bad_overload;
        *overload = value[0];
      }
      // Inside file/sname option 52 is meaningless (RFC 2132 §9.3); ignore it.
    } else {
      options.append(code, value);
    }
    i += 2 + len;
  }
  // A missing end option is tolerated: the area simply ends.
  return ParseError::ok;
}

}  // namespace

ParseError parse(Bytes p, Message& m, const ParseLimits& limits) {
  m.options.clear();
  m.overloaded = 0;
  if (p.size() < kOptionsOffset) return ParseError::too_short;
  m.op = p[0];
  m.htype = p[1];
  m.hlen = p[2];
  m.hops = p[3];
  if (m.hlen > m.chaddr.size()) return ParseError::bad_hlen;
  m.xid = be32(&p[4]);
  m.secs = be16(&p[8]);
  m.flags = be16(&p[10]);
  m.ciaddr = Ipv4{be32(&p[12])};
  m.yiaddr = Ipv4{be32(&p[16])};
  m.siaddr = Ipv4{be32(&p[20])};
  m.giaddr = Ipv4{be32(&p[24])};
  std::memcpy(m.chaddr.data(), &p[28], 16);
  std::memcpy(m.sname.data(), &p[44], 64);
  std::memcpy(m.file.data(), &p[108], 128);
  if (be32(&p[236]) != kMagicCookie) return ParseError::bad_magic_cookie;

  std::uint8_t overload = 0;
  std::size_t instances_left = limits.max_option_instances;
  if (auto e = read_area(p.subspan(kOptionsOffset), m.options, &overload, instances_left); e != ParseError::ok) {
    return e;
  }
  // RFC 3396 §7: concatenate in the order options, file, sname.
  if (overload & 1) {
    if (auto e = read_area(p.subspan(108, 128), m.options, nullptr, instances_left); e != ParseError::ok) return e;
    m.file.fill(0);
  }
  if (overload & 2) {
    if (auto e = read_area(p.subspan(44, 64), m.options, nullptr, instances_left); e != ParseError::ok) return e;
    m.sname.fill(0);
  }
  m.overloaded = overload;
  return ParseError::ok;
}

std::optional<Message> parse(Bytes packet, ParseError* error) {
  Message m;
  const ParseError e = parse(packet, m);
  if (error) *error = e;
  if (e != ParseError::ok) return std::nullopt;
  return m;
}

// ---- serialize -------------------------------------------------------------------------

namespace {

std::size_t encoded_option_size(std::size_t len) {
  if (len == 0) return 2;
  return (len + 254) / 255 * 2 + len;
}

}  // namespace

std::size_t serialized_size(const Message& m) {
  std::size_t n = kOptionsOffset + 1;  // + end
  for (const std::uint8_t code : m.options.codes()) n += encoded_option_size(m.options.get(code)->size());
  return std::max(n, kMinBootpSize);
}

std::size_t serialize(const Message& m, std::span<std::uint8_t> out) {
  const std::size_t total = serialized_size(m);
  if (out.size() < total) return 0;
  std::uint8_t* p = out.data();
  std::memset(p, 0, total);
  p[0] = m.op;
  p[1] = m.htype;
  p[2] = m.hlen;
  p[3] = m.hops;
  put32(&p[4], m.xid);
  put16(&p[8], m.secs);
  put16(&p[10], m.flags);
  put32(&p[12], m.ciaddr.value);
  put32(&p[16], m.yiaddr.value);
  put32(&p[20], m.siaddr.value);
  put32(&p[24], m.giaddr.value);
  std::memcpy(&p[28], m.chaddr.data(), 16);
  std::memcpy(&p[44], m.sname.data(), 64);
  std::memcpy(&p[108], m.file.data(), 128);
  put32(&p[236], kMagicCookie);
  std::size_t i = kOptionsOffset;
  for (const std::uint8_t code : m.options.codes()) {
    Bytes v = *m.options.get(code);
    do {  // a value over 255 bytes goes out as consecutive instances (RFC 3396)
      const std::size_t chunk = std::min<std::size_t>(v.size(), 255);
      p[i++] = code;
      p[i++] = static_cast<std::uint8_t>(chunk);
      if (chunk) std::memcpy(&p[i], v.data(), chunk);
      i += chunk;
      v = v.subspan(chunk);
    } while (!v.empty());
  }
  p[i] = opt::end;
  return total;
}

std::vector<std::uint8_t> serialize(const Message& m) {
  std::vector<std::uint8_t> out(serialized_size(m));
  serialize(m, out);
  return out;
}

// ---- typed accessors -------------------------------------------------------------------

std::optional<MessageType> message_type(const Message& m) {
  const auto v = m.options.get(opt::message_type);
  if (!v || v->size() != 1 || (*v)[0] < 1 || (*v)[0] > 8) return std::nullopt;
  return static_cast<MessageType>((*v)[0]);
}

void set_message_type(Message& m, MessageType t) {
  const std::uint8_t b = static_cast<std::uint8_t>(t);
  m.options.set(opt::message_type, Bytes(&b, 1));
}

std::optional<Ipv4> server_identifier(const Message& m) {
  const auto v = m.options.get(opt::server_identifier);
  if (!v || v->size() != 4) return std::nullopt;
  return Ipv4{be32(v->data())};
}

void set_server_identifier(Message& m, Ipv4 address) {
  std::uint8_t b[4];
  put32(b, address.value);
  m.options.set(opt::server_identifier, Bytes(b, 4));
}

std::optional<std::string_view> vendor_class(const Message& m) { return m.options.get_string(opt::vendor_class); }
std::optional<std::string_view> tftp_server_name(const Message& m) { return m.options.get_string(opt::tftp_server_name); }
std::optional<std::string_view> bootfile_name(const Message& m) { return m.options.get_string(opt::bootfile_name); }

std::optional<ArchList> client_architectures(const Message& m) {
  const auto v = m.options.get(opt::client_arch);
  if (!v || v->empty() || v->size() % 2 != 0) return std::nullopt;
  ArchList list;
  for (std::size_t i = 0; i + 1 < v->size() && list.count < list.types.size(); i += 2) {
    list.types[list.count++] = be16(v->data() + i);
  }
  return list;
}

void set_client_architectures(Message& m, std::span<const std::uint16_t> types) {
  std::array<std::uint8_t, 2 * 16> b{};
  const std::size_t n = std::min<std::size_t>(types.size(), 16);
  for (std::size_t i = 0; i < n; ++i) put16(&b[2 * i], types[i]);
  m.options.set(opt::client_arch, Bytes(b.data(), 2 * n));
}

std::optional<ClientNdi> client_ndi(const Message& m) {
  const auto v = m.options.get(opt::client_ndi);
  if (!v || v->size() != 3) return std::nullopt;
  return ClientNdi{(*v)[0], (*v)[1], (*v)[2]};
}

void set_client_ndi(Message& m, ClientNdi ndi) {
  const std::uint8_t b[3] = {ndi.type, ndi.major, ndi.minor};
  m.options.set(opt::client_ndi, Bytes(b, 3));
}

std::optional<Bytes> client_uuid(const Message& m) { return m.options.get(opt::client_uuid); }

bool client_uuid_well_formed(Bytes v) { return v.size() == 17 && v[0] == 0; }

bool UserClasses::contains(std::string_view name) const {
  for (std::size_t i = 0; i < count; ++i) {
    if (items[i] == name) return true;
  }
  return false;
}

UserClasses user_classes(const Message& m) {
  UserClasses out;
  const auto v = m.options.get(opt::user_class);
  if (!v || v->empty()) return out;
  const auto as_text = [&](std::size_t off, std::size_t len) {
    return std::string_view(reinterpret_cast<const char*>(v->data() + off), len);
  };
  // Try RFC 3004 first: every instance length >= 1 and the lengths fill the value exactly.
  std::size_t i = 0;
  bool rfc3004 = true;
  while (i < v->size()) {
    const std::size_t len = (*v)[i];
    if (len == 0 || i + 1 + len > v->size() || out.count == out.items.size()) {
      rfc3004 = false;
      break;
    }
    out.items[out.count++] = as_text(i + 1, len);
    i += 1 + len;
  }
  if (!rfc3004) {
    out = UserClasses{};
    std::string_view whole = as_text(0, v->size());
    while (!whole.empty() && whole.back() == '\0') whole.remove_suffix(1);
    out.items[0] = whole;
    out.count = 1;
  }
  return out;
}

bool set_user_classes(Message& m, std::span<const std::string_view> classes) {
  std::vector<std::uint8_t> b;
  for (const auto c : classes) {
    if (c.empty() || c.size() > 255) return false;
    b.push_back(static_cast<std::uint8_t>(c.size()));
    b.insert(b.end(), c.begin(), c.end());
  }
  m.options.set(opt::user_class, b);
  return true;
}

std::optional<Bytes> find_suboption(Bytes value, std::uint8_t code) {
  std::optional<Bytes> found;
  for_each_suboption(value, [&](std::uint8_t c, Bytes v) {
    if (c == code && !found) found = v;
  });
  return found;
}

std::optional<std::uint8_t> pxe_discovery_control(const Message& m) {
  const auto v = m.options.get(opt::vendor_specific);
  if (!v) return std::nullopt;
  const auto sub = find_suboption(*v, pxe::discovery_control);
  if (!sub || sub->size() != 1) return std::nullopt;
  return (*sub)[0];
}

std::optional<PxeBootItem> pxe_boot_item(const Message& m) {
  const auto v = m.options.get(opt::vendor_specific);
  if (!v) return std::nullopt;
  const auto sub = find_suboption(*v, pxe::boot_item);
  if (!sub || sub->size() != 4) return std::nullopt;
  return PxeBootItem{be16(sub->data()), be16(sub->data() + 2)};
}

bool set_suboptions(Message& m, std::uint8_t option, std::span<const SubOption> subs) {
  std::array<std::uint8_t, 1024> b;  // only the first n bytes are used: no need to zero it
  std::size_t n = 0;
  for (const auto& s : subs) {
    if (s.value.size() > 255 || n + 2 + s.value.size() + 1 > b.size()) return false;
    b[n++] = s.code;
    b[n++] = static_cast<std::uint8_t>(s.value.size());
    if (!s.value.empty()) std::memcpy(&b[n], s.value.data(), s.value.size());
    n += s.value.size();
  }
  b[n++] = 255;  // PXE spec: the vendor option list ends with 255
  m.options.set(option, Bytes(b.data(), n));
  return true;
}

bool ipxe_has_feature(const Message& m, std::uint8_t feature) {
  const auto v = m.options.get(opt::ipxe_encap);
  if (!v) return false;
  const auto sub = find_suboption(*v, feature);
  return sub && !sub->empty() && (*sub)[0] != 0;
}

}  // namespace ironboot::dhcp
