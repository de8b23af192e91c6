// Byte-level builder for DHCP fixtures, independent of the codec under test: every byte is
// placed explicitly, so the tests compare the codec against the wire format, not itself.
#pragma once

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::dhcp::testing {

using ByteVec = std::vector<std::uint8_t>;

struct RawPacket {
  ByteVec b = ByteVec(240, 0);

  RawPacket(std::uint8_t op = 1, std::uint32_t xid = 0x11223344) {
    b[0] = op;
    b[1] = 1;
    b[2] = 6;
    put32(4, xid);
    const std::uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
    for (int i = 0; i < 6; ++i) b[28 + i] = mac[i];
    put32(236, 0x63825363);
  }
  void put32(std::size_t at, std::uint32_t v) {
    b[at] = v >> 24;
    b[at + 1] = (v >> 16) & 0xff;
    b[at + 2] = (v >> 8) & 0xff;
    b[at + 3] = v & 0xff;
  }
  RawPacket& opt(std::uint8_t code, const ByteVec& value) {
    b.push_back(code);
    b.push_back(static_cast<std::uint8_t>(value.size()));
    b.insert(b.end(), value.begin(), value.end());
    return *this;
  }
  RawPacket& opt(std::uint8_t code, std::string_view text) { return opt(code, ByteVec(text.begin(), text.end())); }
  RawPacket& raw(const ByteVec& bytes) {
    b.insert(b.end(), bytes.begin(), bytes.end());
    return *this;
  }
  RawPacket& end() {
    b.push_back(255);
    return *this;
  }
  // A firmware PXE DISCOVER: 53=1, 93=arch, 94=1.2.1, 60=PXEClient:Arch:xxxxx:UNDI:002001, 97.
  static RawPacket pxe_discover(std::uint16_t arch, std::string_view vendor_prefix = "PXEClient") {
    RawPacket p;
    char vc[64];
    std::snprintf(vc, sizeof vc, "%.*s:Arch:%05u:UNDI:003016", static_cast<int>(vendor_prefix.size()),
                  vendor_prefix.data(), arch);
    p.opt(53, ByteVec{1})
        .opt(93, ByteVec{static_cast<std::uint8_t>(arch >> 8), static_cast<std::uint8_t>(arch)})
        .opt(94, ByteVec{1, 3, 16})
        .opt(60, std::string_view(vc))
        .opt(97, ByteVec{0, 0x4c, 0x4c, 0x45, 0x44, 0x00, 0x30, 0x10, 0x80, 0x38, 0x30, 0xb4, 0xc0, 0x4f, 0x4d, 0x4d, 0x31})
        .end();
    return p;
  }
};

inline ByteVec read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return ByteVec(std::istreambuf_iterator<char>(in), {});
}

}  // namespace ironboot::dhcp::testing
