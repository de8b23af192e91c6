#include "tpm/commands.hpp"
#include "tpm/credential.hpp"

#include <gtest/gtest.h>

namespace ironboot::tpm {
namespace {

Bytes header(std::uint16_t tag, std::uint32_t size, std::uint32_t rc) {
  Writer w;
  w.u16(tag);
  w.u32(size);
  w.u32(rc);
  return w.take();
}

TEST(TpmCodec, CommandsCarryTheirSizeAndCode) {
  const Bytes flush = build_flush_context(0x80000001);
  EXPECT_EQ(flush, (Bytes{0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x65, 0x80, 0, 0, 1}));
  const Bytes create = build_create_primary(kRhEndorsement, ek_template_rsa2048());
  ASSERT_GT(create.size(), 10u);
  EXPECT_EQ((std::size_t{create[2]} << 24 | std::size_t{create[3]} << 16 | std::size_t{create[4]} << 8 | create[5]),
            create.size());
  // The EK template parses back to what the EK Credential Profile names.
  auto ek = parse_public_area(ek_template_rsa2048());
  ASSERT_TRUE(std::holds_alternative<PublicArea>(ek));
  EXPECT_EQ(std::get<PublicArea>(ek).rsa_bits, 2048);
  EXPECT_EQ(std::get<PublicArea>(ek).symmetric_bits, 128);
  EXPECT_EQ(std::get<PublicArea>(ek).unique.size(), 256u);
}

TEST(TpmCodec, ResponsesAreCheckedBeforeAnyField) {
  // The TPM's refusal carries its code.
  auto refused = parse_read_public_response(header(0x8001, 10, 0x18B), kPersistentEk);
  ASSERT_TRUE(std::holds_alternative<Error>(refused));
  EXPECT_EQ(std::get<Error>(refused).response_code, 0x18Bu);
  // A size field that disagrees with the bytes, a short header, a wrong tag.
  EXPECT_TRUE(std::holds_alternative<Error>(parse_flush_context_response(header(0x8001, 11, 0))));
  EXPECT_TRUE(std::holds_alternative<Error>(parse_flush_context_response(Bytes{0x80, 0x01, 0})));
  EXPECT_TRUE(std::holds_alternative<Error>(parse_flush_context_response(header(0x8002, 10, 0))));
  EXPECT_TRUE(std::holds_alternative<bool>(parse_flush_context_response(header(0x8001, 10, 0))));
  // A sized buffer longer than what follows.
  Bytes truncated = header(0x8001, 18, 0);
  for (std::uint8_t b : {0x03, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x02}) truncated.push_back(b);
  EXPECT_TRUE(std::holds_alternative<Error>(parse_start_auth_session_response(truncated)));
  // Parameters that overrun parameterSize, and bytes after the session area.
  Bytes activate = header(0x8002, 0, 0);
  for (std::uint8_t b : {0, 0, 0, 3, 0, 2, 0xaa, 0xbb}) activate.push_back(b);
  activate[5] = static_cast<std::uint8_t>(activate.size());
  EXPECT_TRUE(std::holds_alternative<Error>(parse_activate_credential_response(activate)));
  Bytes good = header(0x8002, 0, 0);
  for (std::uint8_t b : {0, 0, 0, 4, 0, 2, 0xaa, 0xbb, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0}) good.push_back(b);
  good[5] = static_cast<std::uint8_t>(good.size());
  auto secret = parse_activate_credential_response(good);
  ASSERT_TRUE(std::holds_alternative<Bytes>(secret));
  EXPECT_EQ(std::get<Bytes>(secret), (Bytes{0xaa, 0xbb}));
  good.push_back(0);
  good[5] = static_cast<std::uint8_t>(good.size());
  EXPECT_TRUE(std::holds_alternative<Error>(parse_activate_credential_response(good)));
}

TEST(TpmCredential, RefusesWhatItCannotProtect) {
  auto ek = std::get<PublicArea>(parse_public_area(ek_template_rsa2048()));
  const Bytes name(34, 1), seed(32, 2);
  // The template's unique is zeros: not an RSA key, refused rather than encrypted to.
  EXPECT_TRUE(std::holds_alternative<Error>(make_credential(ek, name, Bytes(16, 3), seed)));
  EXPECT_TRUE(std::holds_alternative<Error>(make_credential(ek, name, Bytes(33, 3), seed)));
  EXPECT_TRUE(std::holds_alternative<Error>(make_credential(ek, Bytes(20, 1), Bytes(16, 3), seed)));
  auto ak = std::get<PublicArea>(parse_public_area(ak_template_ecc_p256()));
  EXPECT_TRUE(std::holds_alternative<Error>(make_credential(ak, name, Bytes(16, 3), seed)));
}

}  // namespace
}  // namespace ironboot::tpm

namespace ironboot::tpm {
namespace {

TEST(TpmHex, RoundTripsAndRefusesWhatIsNotHex) {
  const Bytes b = {0x00, 0x0b, 0xff, 0x7a};
  EXPECT_EQ(to_hex(b), "000bff7a");
  EXPECT_EQ(from_hex("000BFF7a", 4), b);
  EXPECT_EQ(from_hex("", 4), Bytes{});
  EXPECT_FALSE(from_hex("000", 4));        // odd
  EXPECT_FALSE(from_hex("0g", 4));         // not a digit
  EXPECT_FALSE(from_hex("0011223344", 4)); // over the limit
}

}  // namespace
}  // namespace ironboot::tpm
