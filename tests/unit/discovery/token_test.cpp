#include "discovery/token.hpp"

#include "common/base64.hpp"
#include "common/text.hpp"

#include "fakes.hpp"
#include "../../fuzz/discovery/token_fuzz_one.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>
#include <sys/stat.h>

namespace ironboot::discovery {
namespace {

TokenKey counting_key() {
  TokenKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(i);
  return k;
}

TokenClaims boot_claims() {
  TokenClaims c;
  c.kind = TokenKind::boot;
  c.uuid = "4c4c4544-0042-3510-8051-b7c04f4e4d32";
  c.mac = "52:54:00:12:34:56";
  c.address = "10.0.0.50";
  c.nonce = "00112233445566778899aabbccddeeff";
  c.boot_time = 1795491532000;
  c.expiry = 1795500000;
  return c;
}

// A token signed correctly over any text: what a holder of the key could make.
std::string signed_token(const TokenKey& key, const std::string& prefix, const std::string& text) {
  const std::string signed_part = prefix + "." + base64url_encode(text);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), 32, reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(),
       mac, &len);
  return signed_part + "." + base64url_encode(std::string(reinterpret_cast<const char*>(mac), len));
}

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
  // Computed with Python's hmac/base64 modules from the same key (bytes 0..31) and claims:
  // HMAC over "b2.<payload>", so the kind is signed too.
  EXPECT_EQ(mint_token(counting_key(), boot_claims()),
            "b2.NGM0YzQ1NDQtMDA0Mi0zNTEwLTgwNTEtYjdjMDRmNGU0ZDMyfDUyOjU0OjAwOjEyOjM0OjU2fDEwLjAuMC41MHwwMDExMjIzMzQ0NTU2"
            "Njc3ODg5OWFhYmJjY2RkZWVmZnwxNzk1NDkxNTMyMDAwfHwxNzk1NTAwMDAw.sXs_hM-1ICqf7_DOn-KlspINH9PVMwm-ReNF3NDthp4");
}

TEST(Token, VerifyRoundTripAndFailures) {
  const auto key = counting_key();
  const std::string token = mint_token(key, boot_claims());
  TokenError error{};
  const auto claims = verify_token(key, token, TokenKind::boot, 1795499999, error);
  ASSERT_TRUE(claims);
  EXPECT_EQ(*claims, boot_claims());

  EXPECT_FALSE(verify_token(key, token, TokenKind::boot, 1795500000, error));
  EXPECT_EQ(error, TokenError::expired);

  TokenKey other = key;
  other[0] ^= 1;
  EXPECT_FALSE(verify_token(other, token, TokenKind::boot, 0, error));
  EXPECT_EQ(error, TokenError::bad_signature);

  // A payload changed by one character no longer matches its signature.
  std::string tampered = token;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_token(key, tampered, TokenKind::boot, 0, error));
  EXPECT_EQ(error, TokenError::bad_signature);
  // Relabelled as a session: the kind is signed.
  EXPECT_FALSE(verify_token(key, "s2." + token.substr(3), TokenKind::session, 0, error));
  EXPECT_EQ(error, TokenError::bad_signature);

  EXPECT_FALSE(verify_token(key, "", TokenKind::boot, 0, error));
  EXPECT_EQ(error, TokenError::missing);
  for (const std::string& bad : {"v1." + token.substr(3), token.substr(0, token.rfind('.')), std::string("b2..."),
                                token + "A", std::string(2000, 'a'), std::string("b2.abc.def"), std::string("b2"),
                                token.substr(0, 3) + "!" + token.substr(4)}) {
    EXPECT_FALSE(verify_token(key, bad, TokenKind::boot, 0, error)) << bad;
    EXPECT_EQ(error, TokenError::malformed) << bad;
  }
}

TEST(Token, KindsAreNotInterchangeable) {
  const auto key = counting_key();
  TokenClaims session = boot_claims();
  session.kind = TokenKind::session;
  const std::string token = mint_token(key, session);
  EXPECT_EQ(token.substr(0, 3), "s2.");
  TokenError error{};
  EXPECT_TRUE(verify_token(key, token, TokenKind::session, 0, error));
  EXPECT_FALSE(verify_token(key, token, TokenKind::boot, 0, error));
  EXPECT_EQ(error, TokenError::wrong_kind);
  TokenClaims ticket = boot_claims();
  ticket.kind = TokenKind::ticket;
  ticket.environment = "talos-1.7";
  const std::string k = mint_token(key, ticket);
  EXPECT_EQ(k.substr(0, 3), "k2.");
  auto verified = verify_token(key, k, TokenKind::ticket, 0, error);
  ASSERT_TRUE(verified);
  EXPECT_EQ(verified->environment, "talos-1.7");
  EXPECT_FALSE(verify_token(key, k, TokenKind::session, 0, error));
  EXPECT_EQ(error, TokenError::wrong_kind);
  EXPECT_STREQ(to_string(TokenError::wrong_address), "wrong_address");
  EXPECT_STREQ(to_string(TokenError::bad_signature), "bad_signature");
}

TEST(Token, SignedButNotOurShapeIsMalformed) {
  const auto key = counting_key();
  const std::string ok = "4c4c4544-0042-3510-8051-b7c04f4e4d32|52:54:00:12:34:56|10.0.0.50|"
                         "00112233445566778899aabbccddeeff|1795491532000||1795500000";
  TokenError error{};
  EXPECT_TRUE(verify_token(key, signed_token(key, "b2", ok), TokenKind::boot, 0, error));
  for (const std::string& text : std::vector<std::string>{
           std::string("no separators"), std::string("u|m|12"), ok + "|extra", ok.substr(0, ok.size() - 1) + "x",
        // uuid, mac, address, nonce, boot time: wrong characters or length
        "4c4c|52:54:00:12:34:5G|10.0.0.50|00112233445566778899aabbccddeeff|1||1",
        "4c4c|52:54:00:12:34:56|10.0.0.50 x|00112233445566778899aabbccddeeff|1||1",
        "4c4c|52:54:00:12:34:56||00112233445566778899aabbccddeeff|1||1",
        "4c4c|52:54:00:12:34:56|10.0.0.50|0011223344556677|1||1",
        "4c4c|52:54:00:12:34:56|10.0.0.50|00112233445566778899AABBCCDDEEFF|1||1",
        "4c4c|52:54:00:12:34:56|10.0.0.50|00112233445566778899aabbccddeeff|-1||1",
        "4c4c|52:54:00:12:34:56|10.0.0.50|00112233445566778899aabbccddeeff|1|env|1",  // environment on a boot token
        "4c4c|52:54:00:12:34:56|10.0.0.50|00112233445566778899aabbccddeeff|1||99999999999999999999"}) {
    EXPECT_FALSE(verify_token(key, signed_token(key, "b2", text), TokenKind::boot, 0, error)) << text;
    EXPECT_EQ(error, TokenError::malformed) << text;
  }
  // A ticket needs an Environment name of DNS characters.
  for (const std::string& env : {std::string(""), std::string("Upper"), std::string("a|b"), std::string(254, 'a')}) {
    const std::string text = "4c4c|52:54:00:12:34:56|10.0.0.50|00112233445566778899aabbccddeeff|1|" + env + "|1";
    EXPECT_FALSE(verify_token(key, signed_token(key, "k2", text), TokenKind::ticket, 0, error)) << env;
  }
}

TEST(Token, UnverifiedClaimsNameWhatARefusedTokenClaims) {
  auto key = counting_key();
  const std::string token = mint_token(key, boot_claims());
  key[0] ^= 1;
  TokenError error{};
  EXPECT_FALSE(verify_token(key, token, TokenKind::boot, 1795499999, error));
  EXPECT_EQ(error, TokenError::bad_signature);
  const auto claimed = unverified_claims(token);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->uuid, boot_claims().uuid);
  EXPECT_EQ(claimed->mac, boot_claims().mac);
  EXPECT_FALSE(unverified_claims("v1." + token.substr(3)));
  EXPECT_FALSE(unverified_claims("b2.!!!.x"));
}

TEST(Token, RandomHexAndSha256) {
  EXPECT_EQ(random_hex128([](unsigned char* out, std::size_t n) {
              for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i * 17);
              return true;
            }),
            "00112233445566778899aabbccddeeff");
  EXPECT_EQ(random_hex128([](unsigned char*, std::size_t) { return false; }), "");
  EXPECT_EQ(random_hex128(openssl_random()).size(), 32u);
  EXPECT_NE(random_hex128(openssl_random()), random_hex128(openssl_random()));
}

// The fuzz target's corpus through the same checks: no abort, and the valid tokens verify.
TEST(Token, FuzzCorpus) {
  const std::filesystem::path corpus = "tests/fuzz/corpus/discovery_token";
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string name = entry.path().filename().string();
    const bool valid = name == "boot" || name == "session" || name == "ticket" || name == "session_ipv6" ||
                       name == "other_address";  // signed and unexpired; bound to another address
    EXPECT_EQ(fuzzing::fuzz_token_one(text), valid ? 1 : 0) << name;
    ++files;
  }
  EXPECT_GE(files, 10u);
}

TEST(Token, BearerHeader) {
  EXPECT_EQ(bearer_token("Bearer s2.a.b"), "s2.a.b");
  EXPECT_EQ(bearer_token("bearer   s2.a.b  "), "s2.a.b");
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
