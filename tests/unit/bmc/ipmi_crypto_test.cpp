// RMCP+ key exchange and session crypto for cipher suites 3 and 17 against values computed
// independently of this code. Suite 17 has no peer here (ipmi_sim stops at suite 6), so these
// vectors are its test. Common inputs: SIDm 0x11223344, SIDc 0x55667788, Rm 00..0f, Rc 10..1f,
// GUIDc 20..2f, ROLEm 0x14, user "admin", password "pw" (Kuid zero-padded to 20 bytes).
// The HMAC values come from this python3 script (hmac/hashlib):
//   import hmac, hashlib, struct
//   sidm = struct.pack('<I', 0x11223344); sidc = struct.pack('<I', 0x55667788)
//   rm = bytes(range(0, 16)); rc = bytes(range(0x10, 0x20)); guid = bytes(range(0x20, 0x30))
//   role = b'\x14'; user = b'admin'; kuid = b'pw'.ljust(20, b'\0')
//   for h in (hashlib.sha1, hashlib.sha256):
//       n = h().digest_size; t = 12 if n == 20 else 16
//       rakp2 = hmac.new(kuid, sidm + sidc + rm + rc + guid + role + bytes([len(user)]) + user, h).hexdigest()
//       rakp3 = hmac.new(kuid, rc + sidm + role + bytes([len(user)]) + user, h).hexdigest()
//       sik = hmac.new(kuid, rm + rc + role + bytes([len(user)]) + user, h).digest()
//       rakp4 = hmac.new(sik, rm + sidc + guid, h).digest()[:t].hex()
//       k1 = hmac.new(sik, b'\x01' * n, h).digest(); k2 = hmac.new(sik, b'\x02' * n, h).digest()
//       integrity = hmac.new(k1, bytes(range(0x40, 0x5e)), h).digest()[:t].hex()
// The AES-CBC-128 values come from the openssl CLI, K = K2[0..16), IV 30..3f, plaintext
// 40..49 followed by IPMI's pad 01 02 03 04 05 and pad length 05:
//   printf 40414243444546474849010203040505 | xxd -r -p |
//     openssl enc -aes-128-cbc -nopad -K <K2[0..16)> -iv 303132333435363738393a3b3c3d3e3f | xxd -p
#include "bmc/ipmi_crypto.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <string>

namespace ironboot::bmc::ipmi {
namespace {

std::string hex(std::span<const std::uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

Bytes unhex(const std::string& text) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  return out;
}

RakpInputs inputs() {
  RakpInputs in;
  in.console_session_id = 0x11223344;
  in.bmc_session_id = 0x55667788;
  std::iota(in.console_random.begin(), in.console_random.end(), std::uint8_t{0x00});
  std::iota(in.bmc_random.begin(), in.bmc_random.end(), std::uint8_t{0x10});
  std::iota(in.bmc_guid.begin(), in.bmc_guid.end(), std::uint8_t{0x20});
  in.role = 0x14;
  in.username = "admin";
  return in;
}

struct Vectors {
  int suite;
  const char* rakp2;
  const char* rakp3;
  const char* sik;
  const char* rakp4;
  const char* k1;
  const char* k2;
  const char* integrity;
  const char* aes;
};

const Vectors kSuites[] = {
    {3, "0e4f3649d1712c40659aa3d7140cb69222545873", "8344b2817da858ffe42e0a0374106367aa07ee53",
     "42e7567a77c229ed7d70e6b92d496d34686e7717", "87cf3453326ecdbf76d8e2c8", "6f85eea34e68178e6db14d23437820448121860e",
     "8a0c3d531845ee06bb3391db808ea338be9d5b30", "386007a8a617bcc82b598e4b", "3ecf882ade296935c87f1737a9bae716"},
    {17, "75a7883409312a66a27ef2d546320d720d757a7ec239be7bbd42de557dc23a9a",
     "ecd9b48437deca3e08c66d66dbf54460c44de5c97489648974eec7227bd1dfd6",
     "b3bca9814d5c3b16cbf31eebdd264206ea9373c0c8de14167e81639b6544d4ca", "3659f1b25739d24a6b4c35f47ccad6cf",
     "68370b9313366241519b1ce3782dd04cbbafcfa9f9947c0f5855b28e644366d8",
     "fc587b717fa41d7c86c752fd6805d1ab486f576af288bcc1ca13040ea4c199a0", "0d0cb1fb735e78e50f113be8bf9bb26b",
     "9734e880783bc8eeb1f2d26578bd0853"},
};

class SuiteVectors : public ::testing::TestWithParam<Vectors> {};

TEST_P(SuiteVectors, KeyExchangeMatchesIndependentHmac) {
  const Vectors& v = GetParam();
  const CipherSuite suite = *cipher_suite(v.suite);
  const Bytes kuid = *user_key("pw");
  const RakpInputs in = inputs();
  EXPECT_EQ(hex(rakp2_auth_code(suite.auth, kuid, in)), v.rakp2);
  EXPECT_EQ(hex(rakp3_auth_code(suite.auth, kuid, in)), v.rakp3);
  const Bytes sik = session_integrity_key(suite.auth, kuid, in);
  EXPECT_EQ(hex(sik), v.sik);
  EXPECT_EQ(hex(rakp4_check(suite.auth, sik, in)), v.rakp4);
  EXPECT_EQ(hex(derived_key(suite.auth, sik, 1)), v.k1);
  EXPECT_EQ(hex(derived_key(suite.auth, sik, 2)), v.k2);
}

TEST_P(SuiteVectors, IntegrityCodeIsTruncatedHmacUnderK1) {
  const Vectors& v = GetParam();
  const CipherSuite suite = *cipher_suite(v.suite);
  Bytes data(30);
  std::iota(data.begin(), data.end(), std::uint8_t{0x40});
  const Bytes code = integrity_code(suite.integrity, unhex(v.k1), data);
  EXPECT_EQ(hex(code), v.integrity);
  EXPECT_EQ(code.size(), v.suite == 3 ? 12u : 16u);
}

TEST_P(SuiteVectors, AesCbcWithIpmiPadMatchesOpensslCli) {
  const Vectors& v = GetParam();
  const Bytes k2 = unhex(v.k2);
  std::array<std::uint8_t, 16> iv;
  std::iota(iv.begin(), iv.end(), std::uint8_t{0x30});
  Bytes plain(10);
  std::iota(plain.begin(), plain.end(), std::uint8_t{0x40});
  const Bytes payload = aes_cbc_encrypt(k2, iv, plain);
  ASSERT_EQ(payload.size(), 32u);
  EXPECT_EQ(hex(std::span(payload).first(16)), hex(iv));
  EXPECT_EQ(hex(std::span(payload).subspan(16)), v.aes);
  auto back = aes_cbc_decrypt(k2, payload);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, plain);
}

INSTANTIATE_TEST_SUITE_P(Suites3And17, SuiteVectors, ::testing::ValuesIn(kSuites),
                         [](const auto& info) { return "Suite" + std::to_string(info.param.suite); });

TEST(IpmiCrypto, SuitesOtherThan3And17AreNotOffered) {
  EXPECT_FALSE(cipher_suite(0));
  EXPECT_FALSE(cipher_suite(1));
  EXPECT_FALSE(cipher_suite(6));
  EXPECT_EQ(cipher_suite(3)->integrity, IntegrityAlg::HmacSha1_96);
  EXPECT_EQ(cipher_suite(17)->auth, AuthAlg::HmacSha256);
}

TEST(IpmiCrypto, PasswordLongerThan20BytesIsRefused) {
  EXPECT_TRUE(user_key(std::string(20, 'x')));
  EXPECT_FALSE(user_key(std::string(21, 'x')));
  EXPECT_EQ(user_key("")->size(), 20u);
}

TEST(IpmiCrypto, AesPadCoversEveryLength) {
  const Bytes k2(20, 0x5a);
  const std::array<std::uint8_t, 16> iv{};
  for (std::size_t n = 0; n <= 48; ++n) {
    const Bytes plain(n, 0xa5);
    const Bytes payload = aes_cbc_encrypt(k2, iv, plain);
    ASSERT_EQ(payload.size() % 16, 0u) << n;
    auto back = aes_cbc_decrypt(k2, payload);
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, plain) << n;
  }
}

TEST(IpmiCrypto, AesDecryptRefusesBadLengthsAndPads) {
  const Bytes k2(20, 0x5a);
  std::array<std::uint8_t, 16> iv{};
  const Bytes payload = aes_cbc_encrypt(k2, iv, Bytes(10, 1));
  EXPECT_FALSE(aes_cbc_decrypt(k2, std::span(payload).first(16)));  // IV only
  EXPECT_FALSE(aes_cbc_decrypt(k2, std::span(payload).first(31)));  // not whole blocks
  Bytes wrong_key(20, 0x33);
  // Under another key the pad bytes come out as noise; whatever decrypts must not be the data.
  auto other = aes_cbc_decrypt(wrong_key, payload);
  EXPECT_TRUE(!other || *other != Bytes(10, 1));
}

TEST(IpmiCrypto, SameCodeComparesLengthAndBytes) {
  const Bytes a = {1, 2, 3};
  EXPECT_TRUE(same_code(a, Bytes{1, 2, 3}));
  EXPECT_FALSE(same_code(a, Bytes{1, 2, 4}));
  EXPECT_FALSE(same_code(a, Bytes{1, 2}));
  EXPECT_FALSE(same_code(Bytes{}, Bytes{}));
}

}  // namespace
}  // namespace ironboot::bmc::ipmi
