#include "discovery/uuid.hpp"

#include <gtest/gtest.h>

namespace ironboot::discovery {
namespace {

TEST(Uuid, Canonical) {
  EXPECT_EQ(canonical_uuid("4C4C4544-0042-3510-8051-B7C04F4E4D32"), "4c4c4544-0042-3510-8051-b7c04f4e4d32");
  EXPECT_EQ(canonical_uuid("4c4c4544004235108051b7c04f4e4d32"), "4c4c4544-0042-3510-8051-b7c04f4e4d32");
  EXPECT_FALSE(canonical_uuid("4c4c4544-0042-3510-8051-b7c04f4e4d3"));
  EXPECT_FALSE(canonical_uuid("4c4c4544_0042-3510-8051-b7c04f4e4d32"));
  EXPECT_FALSE(canonical_uuid("4c4c4544-0042-3510-8051-b7c04f4e4d3g"));
  EXPECT_FALSE(canonical_uuid("4c4c45440-042-3510-8051-b7c04f4e4d32"));
  EXPECT_FALSE(canonical_uuid(""));
  EXPECT_TRUE(is_placeholder_uuid(*canonical_uuid("00000000000000000000000000000000")));
  EXPECT_TRUE(is_placeholder_uuid(*canonical_uuid("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF")));
  EXPECT_FALSE(is_placeholder_uuid("4c4c4544-0042-3510-8051-b7c04f4e4d32"));
}

TEST(Uuid, Mac) {
  EXPECT_EQ(canonical_mac("52:54:00:AB:cd:EF"), "52:54:00:ab:cd:ef");
  EXPECT_EQ(canonical_mac("52-54-00-ab-cd-ef"), "52:54:00:ab:cd:ef");
  EXPECT_EQ(canonical_mac("525400ABCDEF"), "52:54:00:ab:cd:ef");
  EXPECT_FALSE(canonical_mac("52:54:00-ab:cd:ef"));
  EXPECT_FALSE(canonical_mac("52:54:00:ab:cd"));
  EXPECT_FALSE(canonical_mac("52:54:00:ab:cd:eg"));
}

TEST(Uuid, Version5MatchesRfc4122Implementations) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
  EXPECT_EQ(uuid_v5(kDnsNamespace, "python.org"), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "ironboot:52:54:00:12:34:56")
  EXPECT_EQ(synthetic_server_name("52:54:00:12:34:56"), "da84d97f-47f5-5e5b-8b2c-f3a23b870a9f");
}

TEST(Uuid, ServerIdentity) {
  auto id = server_identity("4c4c4544-0042-3510-8051-b7c04f4e4d32", "52:54:00:12:34:56");
  EXPECT_EQ(id.name, "4c4c4544-0042-3510-8051-b7c04f4e4d32");
  EXPECT_FALSE(id.synthetic);
  for (const char* placeholder : {"", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"}) {
    id = server_identity(placeholder, "52:54:00:12:34:56");
    EXPECT_EQ(id.name, "da84d97f-47f5-5e5b-8b2c-f3a23b870a9f");
    EXPECT_TRUE(id.synthetic);
  }
}

}  // namespace
}  // namespace ironboot::discovery
