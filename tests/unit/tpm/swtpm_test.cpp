// The codec and MakeCredential against real peers: swtpm as the TPM, tpm2-tools as the
// other implementation of every step.
#include "swtpm.hpp"

#include "tpm/client.hpp"
#include "tpm/credential.hpp"

#include <gtest/gtest.h>

#include <cstdio>

namespace ironboot::tpm {
namespace {

using testing::slurp;
using testing::spit;
using testing::Swtpm;

template <class T>
const T& value(const Result<T>& r) {
  if (const auto* e = std::get_if<Error>(&r)) ADD_FAILURE() << e->message;
  static const T empty{};
  const T* v = std::get_if<T>(&r);
  return v ? *v : empty;
}

Bytes as_tpm2b(const Bytes& b) {
  Writer w;
  w.tpm2b(b);
  return w.take();
}

TEST(Swtpm, OurEkIsTheOneTpm2ToolsReadsTransientAndPersistent) {
  Swtpm tpm;
  ASSERT_TRUE(tpm.transport);
  Client client(*tpm.transport);
  const LoadedObject created = value(client.endorsement_key());
  ASSERT_EQ(created.handle >> 24, 0x80u);  // no persistent EK yet: created from template L-1
  EXPECT_EQ(created.public_area.rsa_bits, 2048);
  EXPECT_EQ(created.public_area.unique.size(), 256u);
  EXPECT_EQ(value(object_name(created.public_area)), created.name);
  value(client.flush(created.handle));
  tpm.disconnect();
  ASSERT_EQ(tpm.tools("tpm2_createek -c 0x81010001 -G rsa -u ek.pub"), 0) << tpm.log();
  const Bytes tools_public = slurp(tpm.dir / "ek.pub");
  EXPECT_EQ(tools_public, as_tpm2b(created.public_area.marshaled));
  tpm.reconnect();
  Client again(*tpm.transport);
  const LoadedObject persistent = value(again.endorsement_key());
  EXPECT_EQ(persistent.handle, kPersistentEk);
  EXPECT_EQ(persistent.public_area.unique, created.public_area.unique);
  EXPECT_EQ(persistent.name, created.name);
  // The identity ironboot records is the digest of the key as tpm2-tools writes it in DER.
  tpm.disconnect();
  ASSERT_EQ(tpm.tools("tpm2_readpublic -c 0x81010001 -f der -o ek.der && sha256sum ek.der | cut -c1-64 > ek.sha256"), 0)
      << tpm.log();
  const Bytes digest_line = slurp(tpm.dir / "ek.sha256");
  EXPECT_EQ(value(public_key_sha256(persistent.public_area)) + "\n", std::string(digest_line.begin(), digest_line.end()));
}

TEST(Swtpm, OurCredentialIsActivatedByTpm2ToolsOnlyForItsAk) {
  Swtpm tpm;
  tpm.disconnect();
  ASSERT_EQ(tpm.tools("tpm2_createek -c ek.ctx -G rsa -u ek.pub && tpm2_flushcontext -t && "
                      "tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub -n ak.name && "
                      "tpm2_flushcontext -t"),
            0)
      << tpm.log();
  const Bytes ek_file = slurp(tpm.dir / "ek.pub");
  ASSERT_GT(ek_file.size(), 2u);
  const PublicArea ek = value(parse_public_area(std::span<const std::uint8_t>(ek_file).subspan(2)));
  const Bytes ak_name = slurp(tpm.dir / "ak.name");
  const Bytes secret = {'i', 'r', 'o', 'n', 'b', 'o', 'o', 't', '-', 'n', 'o', 'n', 'c', 'e', 0x00, 0xff};
  spit(tpm.dir / "cred", to_tpm2_tools_file(value(make_credential(ek, ak_name, secret))));
  const std::string activate =
      "tpm2_startauthsession --policy-session -S s.ctx && tpm2_policysecret -S s.ctx -c e && "
      "tpm2_activatecredential -c ak.ctx -C ek.ctx -i cred -o out -P session:s.ctx";
  ASSERT_EQ(tpm.tools(activate), 0) << tpm.log();
  EXPECT_EQ(slurp(tpm.dir / "out"), secret);
  // Made for another AK name, the TPM's integrity check refuses it.
  Bytes other = ak_name;
  other.back() ^= 1;
  spit(tpm.dir / "cred", to_tpm2_tools_file(value(make_credential(ek, other, secret))));
  std::filesystem::remove(tpm.dir / "out");
  EXPECT_NE(tpm.tools("tpm2_flushcontext -t && tpm2_flushcontext -s && " + activate), 0);
  EXPECT_FALSE(std::filesystem::exists(tpm.dir / "out"));
  EXPECT_NE(tpm.log().find("integrity check failed"), std::string::npos) << tpm.log();
}

TEST(Swtpm, Tpm2ToolsCredentialIsActivatedByOurClient) {
  Swtpm tpm;
  ASSERT_TRUE(tpm.transport);
  LoadedObject ek, ak;
  {
    Client client(*tpm.transport);
    ek = value(client.endorsement_key());
    ak = value(client.create_attestation_key());
    EXPECT_EQ(value(object_name(ak.public_area)), ak.name);
  }
  spit(tpm.dir / "ek.pub", as_tpm2b(ek.public_area.marshaled));
  spit(tpm.dir / "secret", Bytes{'f', 'r', 'o', 'm', ' ', 't', 'p', 'm', '2', '-', 't', 'o', 'o', 'l', 's'});
  tpm.disconnect();
  ASSERT_EQ(tpm.tools("tpm2_makecredential -T none -u ek.pub -s secret -n " + to_hex(ak.name) + " -o cred"), 0) << tpm.log();
  tpm.reconnect();
  Client client(*tpm.transport);
  const MadeCredential made = value(from_tpm2_tools_file(slurp(tpm.dir / "cred")));
  EXPECT_EQ(value(client.activate_credential(ak, ek, made.id_object, made.encrypted_secret)), slurp(tpm.dir / "secret"));
  // Ours, made for the same pair, is recovered the same way; a tampered one is refused.
  const Bytes secret(32, 0x5a);
  MadeCredential ours = value(make_credential(ek.public_area, ak.name, secret));
  EXPECT_EQ(value(client.activate_credential(ak, ek, ours.id_object, ours.encrypted_secret)), secret);
  ours.id_object.back() ^= 1;
  auto refused = client.activate_credential(ak, ek, ours.id_object, ours.encrypted_secret);
  ASSERT_TRUE(std::holds_alternative<Error>(refused));
  EXPECT_NE(std::get<Error>(refused).response_code, 0u);
  // Both keys flushed: a TPM without a resource manager has three object slots.
  EXPECT_TRUE(std::holds_alternative<bool>(client.flush(ak.handle)));
  EXPECT_TRUE(std::holds_alternative<bool>(client.flush(ek.handle)));
}

}  // namespace
}  // namespace ironboot::tpm
