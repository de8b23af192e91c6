#include "ipxe/boot_query.hpp"

#include "common/text.hpp"

#include <array>
#include <boost/url/parse_query.hpp>

namespace ironboot {
namespace {

constexpr std::array<std::string_view, 7> kArches = {"i386", "x86_64", "arm32", "arm64",
                                                     "riscv32", "riscv64", "loong64"};
constexpr std::array<std::string_view, 2> kPlatforms = {"pcbios", "efi"};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <std::size_t N>
bool in_set(const std::array<std::string_view, N>& set, std::string_view v) {
  for (auto s : set)
    if (s == v) return true;
  return false;
}

// SMBIOS strings: no control characters (they could end a script line or a log line).
bool printable(std::string_view v) {
  for (unsigned char c : v)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

std::optional<std::string> canonical_uuid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::string out(36, '\0');
  for (std::size_t i = 0; i < 36; ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return std::nullopt;
      out[i] = '-';
    } else {
      if (hex_value(c) < 0) return std::nullopt;
      out[i] = ascii_lower(c);
    }
  }
  return out;
}

std::optional<std::string> canonical_mac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != '-' && sep != ':') return std::nullopt;
  std::string out(17, ':');
  for (std::size_t i = 0; i < 17; ++i) {
    if (i % 3 == 2) {
      if (text[i] != sep) return std::nullopt;
    } else {
      if (hex_value(text[i]) < 0) return std::nullopt;
      out[i] = ascii_lower(text[i]);
    }
  }
  return out;
}

BootQueryResult parse_boot_query(std::string_view raw) {
  BootQueryResult r;
  if (raw.size() > kMaxBootQueryBytes) {
    r.error = "query too long";
    return r;
  }
  // Boost.URL 1.81's compiled parse_query reads its input up to a NUL (found by fuzzing),
  // so give it a terminated copy.
  const std::string text(raw);
  auto params = boost::urls::parse_query(boost::urls::string_view(text.c_str(), text.size()));
  if (!params) {
    r.error = "malformed query";
    return r;
  }
  std::optional<std::string> uuid, mac, arch, platform, serial, manufacturer, product;
  for (const auto& p : *params) {
    // Only the keys we know are decoded; values of others are never looked at.
    std::string key = p.key.decode();
    std::optional<std::string>* slot = nullptr;
    if (key == "uuid") slot = &uuid;
    else if (key == "mac") slot = &mac;
    else if (key == "arch") slot = &arch;
    else if (key == "platform") slot = &platform;
    else if (key == "serial") slot = &serial;
    else if (key == "manufacturer") slot = &manufacturer;
    else if (key == "product") slot = &product;
    if (slot == nullptr) continue;
    if (slot->has_value()) {
      r.error = "duplicate key " + key;
      return r;
    }
    *slot = p.has_value ? p.value.decode() : std::string();
  }

  BootQuery q;
  if (!uuid || uuid->empty()) {
    r.error = "missing uuid";
    return r;
  }
  auto u = canonical_uuid(*uuid);
  if (!u) {
    r.error = "invalid uuid";
    return r;
  }
  q.uuid = std::move(*u);
  if (!mac || mac->empty()) {
    r.error = "missing mac";
    return r;
  }
  auto m = canonical_mac(*mac);
  if (!m) {
    r.error = "invalid mac";
    return r;
  }
  q.mac = std::move(*m);
  if (!arch || !in_set(kArches, *arch)) {
    r.error = arch ? "invalid arch" : "missing arch";
    return r;
  }
  q.arch = *arch;
  if (platform && !platform->empty()) {
    if (!in_set(kPlatforms, *platform)) {
      r.error = "invalid platform";
      return r;
    }
    q.platform = *platform;
  }
  const std::pair<std::optional<std::string>*, std::string*> free_text[] = {
      {&serial, &q.serial}, {&manufacturer, &q.manufacturer}, {&product, &q.product}};
  for (auto [in, out] : free_text) {
    if (!*in) continue;
    if ((*in)->size() > kMaxSmbiosValueBytes || !printable(**in)) {
      r.error = "invalid smbios value";
      return r;
    }
    *out = std::move(**in);
  }
  r.query = std::move(q);
  return r;
}

}  // namespace ironboot
