// Runs every file of the fuzz corpora through the same entry points as the fuzz targets.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ipxe/assets.hpp"
#include "ipxe/boot_query.hpp"

namespace ironboot {
namespace {

std::vector<std::string> corpus(const std::string& name) {
  std::vector<std::string> out;
  const std::filesystem::path dir = std::filesystem::path("tests/fuzz/corpus") / name;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

TEST(Corpus, BootQuery) {
  auto files = corpus("ipxe_query");
  ASSERT_GE(files.size(), 5u);
  std::size_t accepted = 0;
  for (const auto& data : files) {
    auto r = parse_boot_query(data);
    if (!r.query) {
      EXPECT_FALSE(r.error.empty());
      continue;
    }
    ++accepted;
    // Whatever was accepted is canonical and free of control characters.
    EXPECT_EQ(canonical_uuid(r.query->uuid), r.query->uuid);
    EXPECT_EQ(canonical_mac(r.query->mac), r.query->mac);
    for (const auto* s : {&r.query->serial, &r.query->manufacturer, &r.query->product})
      for (unsigned char c : *s) EXPECT_GE(c, 0x20);
  }
  EXPECT_GE(accepted, 1u);
}

TEST(Corpus, AssetPathAndRange) {
  for (const auto& data : corpus("ipxe_query")) {
    if (auto p = clean_asset_path(data)) {
      EXPECT_NE(p->front(), '/');
      EXPECT_EQ(("/" + *p + "/").find("/../"), std::string::npos) << *p;
    }
    auto r = parse_range(data, 1000);
    if (r.kind == RangeResult::Kind::partial) {
      EXPECT_LE(r.offset + r.length, 1000u);
    }
  }
}

}  // namespace
}  // namespace ironboot
