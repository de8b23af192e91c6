#include "discovery/token.hpp"

#include "common/base64.hpp"
#include "common/text.hpp"

#include "fakes.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <sys/stat.h>

namespace ironboot::discovery {
namespace {

TokenKey counting_key() {
  TokenKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(i);
  return k;
}

const TokenClaims kClaims{"4c4c4544-0042-3510-8051-b7c04f4e4d32", "52:54:00:12:34:56", 1795500000};

TEST(Base64Url, Rfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xfb\xff\x00\x01"}) {
    EXPECT_EQ(base64url_decode(base64url_encode(s)), s);
  }
  EXPECT_FALSE(base64url_decode("Zm9v="));  // padding is not part of the format
  EXPECT_FALSE(base64url_decode("Zm+v"));   // standard alphabet
  EXPECT_FALSE(base64url_decode("Z"));
  EXPECT_FALSE(base64url_decode("Zh"));     // non-zero leftover bits: not canonical
}

TEST(Token, MatchesIndependentHmacSha256) {
  // Computed with Python's hmac/base64 modules from the same key (bytes 0..31) and claims.
  EXPECT_EQ(mint_token(counting_key(), kClaims),
            "v1.NGM0YzQ1NDQtMDA0Mi0zNTEwLTgwNTEtYjdjMDRmNGU0ZDMyfDUyOjU0OjAwOjEyOjM0OjU2fDE3OTU1MDAwMDA."
            "bCl9MzrUtaFj-QvK02AQ9jTx0-hpO7t_oXD4PbUwHLQ");
}

TEST(Token, VerifyRoundTripAndFailures) {
  const auto key = counting_key();
  const std::string token = mint_token(key, kClaims);
  TokenError error{};
  const auto claims = verify_token(key, token, 1795499999, error);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->uuid, kClaims.uuid);
  EXPECT_EQ(claims->mac, kClaims.mac);
  EXPECT_EQ(claims->expiry, kClaims.expiry);

  EXPECT_FALSE(verify_token(key, token, 1795500000, error));
  EXPECT_EQ(error, TokenError::expired);

  TokenKey other = key;
  other[0] ^= 1;
  EXPECT_FALSE(verify_token(other, token, 0, error));
  EXPECT_EQ(error, TokenError::bad_signature);

  // A payload changed by one character no longer matches its signature.
  std::string tampered = token;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_token(key, tampered, 0, error));
  EXPECT_EQ(error, TokenError::bad_signature);

  EXPECT_FALSE(verify_token(key, "", 0, error));
  EXPECT_EQ(error, TokenError::missing);
  for (const std::string& bad : {"v2." + token.substr(3), token.substr(0, token.rfind('.')), std::string("v1..."),
                                token + "A", std::string(600, 'a'), std::string("v1.abc.def")}) {
    EXPECT_FALSE(verify_token(key, bad, 0, error)) << bad;
    EXPECT_EQ(error, TokenError::malformed) << bad;
  }
  // Correctly signed, but not our payload shape: still refused as malformed.
  for (const char* text : {"no separators", "uuid|mac-only", "u|m|12x", "u|m|"}) {
    const std::string payload = base64url_encode(text);
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), 32, reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac,
         &len);
    const std::string signed_token =
        "v1." + payload + "." + base64url_encode(std::string(reinterpret_cast<const char*>(mac), len));
    EXPECT_FALSE(verify_token(key, signed_token, 0, error)) << text;
    EXPECT_EQ(error, TokenError::malformed) << text;
  }
}

TEST(Token, UnverifiedClaimsNameWhatARefusedTokenClaims) {
  auto key = counting_key();
  const std::string token = mint_token(key, kClaims);
  key[0] ^= 1;
  TokenError error{};
  EXPECT_FALSE(verify_token(key, token, 1795499999, error));
  EXPECT_EQ(error, TokenError::bad_signature);
  const auto claimed = unverified_claims(token);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->uuid, kClaims.uuid);
  EXPECT_EQ(claimed->mac, kClaims.mac);
  EXPECT_FALSE(unverified_claims("v2." + token.substr(3)));
  EXPECT_FALSE(unverified_claims("v1.!!!.x"));
}

TEST(Token, AuthorityUsesClockAndLifetime) {
  testing::FakeClock clock(1795491532);
  const TokenAuthority authority(counting_key(), clock);
  const auto token = authority.issue("00000000-0000-0000-0000-000000000000", "52:54:00:aa:bb:cc");
  TokenError error{};
  auto claims = authority.verify(token, error);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->expiry, 1795491532 + 24 * 3600);
  EXPECT_EQ(claims->uuid, "00000000-0000-0000-0000-000000000000");
  clock.advance(std::chrono::hours(24) - std::chrono::seconds(1));
  EXPECT_TRUE(authority.verify(token, error));
  clock.advance(std::chrono::seconds(1));
  EXPECT_FALSE(authority.verify(token, error));
  EXPECT_EQ(error, TokenError::expired);
  // Only characters the iPXE renderer accepts on a kernel command line.
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"),
            std::string::npos);
}

TEST(Token, BearerHeader) {
  EXPECT_EQ(bearer_token("Bearer v1.a.b"), "v1.a.b");
  EXPECT_EQ(bearer_token("bearer   v1.a.b  "), "v1.a.b");
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token(""));
}

RandomSource fixed_random(unsigned char byte, int* calls = nullptr) {
  return [byte, calls](unsigned char* out, std::size_t n) {
    if (calls) ++*calls;
    std::fill(out, out + n, byte);
    return true;
  };
}

TEST(TokenKeyFile, CreatedOnceWithMode0600ThenReused) {
  testing::FakeFileSystem fs;
  const auto first = load_or_create_key(fs, "/var/lib/ironboot/agent-token.key", fixed_random(0x42));
  ASSERT_TRUE(first.key) << first.error;
  EXPECT_TRUE(first.created);
  EXPECT_EQ(fs.files.at("/var/lib/ironboot/agent-token.key").data, std::string(32, '\x42'));
  EXPECT_EQ(fs.files.at("/var/lib/ironboot/agent-token.key").mode, 0600u);

  int calls = 0;
  const auto second = load_or_create_key(fs, "/var/lib/ironboot/agent-token.key", fixed_random(0x99, &calls));
  ASSERT_TRUE(second.key);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(*second.key, *first.key);
  EXPECT_EQ(calls, 0);
}

TEST(TokenKeyFile, Errors) {
  testing::FakeFileSystem fs;
  fs.files["/k"] = {std::string(32, 'x'), 0644};
  auto r = load_or_create_key(fs, "/k", fixed_random(1));
  EXPECT_FALSE(r.key);
  EXPECT_NE(r.error.find("mode 0644"), std::string::npos) << r.error;

  fs.files["/k"] = {std::string(31, 'x'), 0600};
  r = load_or_create_key(fs, "/k", fixed_random(1));
  EXPECT_FALSE(r.key);
  EXPECT_NE(r.error.find("exactly 32 bytes, found 31"), std::string::npos) << r.error;

  testing::FakeFileSystem broken;
  broken.read_error = "/k: Permission denied";
  r = load_or_create_key(broken, "/k", fixed_random(1));
  EXPECT_EQ(r.error, "/k: Permission denied");

  testing::FakeFileSystem readonly;
  readonly.create_fails = true;
  r = load_or_create_key(readonly, "/k", fixed_random(1));
  EXPECT_FALSE(r.key);
  EXPECT_NE(r.error.find("Read-only"), std::string::npos);

  testing::FakeFileSystem no_entropy;
  r = load_or_create_key(no_entropy, "/k", [](unsigned char*, std::size_t) { return false; });
  EXPECT_FALSE(r.key);
  EXPECT_TRUE(no_entropy.files.empty());
}

TEST(TokenKeyFile, RaceWithAnotherCreatorReadsTheirKey) {
  testing::FakeFileSystem fs;
  fs.appears_on_create = testing::FakeFileSystem::File{std::string(32, '\x07'), 0600};
  const auto r = load_or_create_key(fs, "/k", fixed_random(0x42));
  ASSERT_TRUE(r.key) << r.error;
  EXPECT_FALSE(r.created);
  EXPECT_EQ((*r.key)[0], 0x07);
}

TEST(PosixFileSystem, CreatesPrivateFileExclusively) {
  char tmpl[] = "/tmp/ironboot-keytest-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/agent-token.key";
  PosixFileSystem fs;
  const auto created = load_or_create_key(fs, path, openssl_random());
  ASSERT_TRUE(created.key) << created.error;
  EXPECT_TRUE(created.created);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  const auto loaded = load_or_create_key(fs, path, openssl_random());
  ASSERT_TRUE(loaded.key);
  EXPECT_EQ(*loaded.key, *created.key);
  std::string err;
  EXPECT_EQ(fs.create_private(path, "x", err), FileSystem::WriteResult::exists);
  ::chmod(path.c_str(), 0640);
  EXPECT_FALSE(load_or_create_key(fs, path, openssl_random()).key);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace ironboot::discovery
