// Feeds every file of the fuzz corpus to the same code the fuzz target runs, so the corpus
// (including crashers once fixed) is part of the normal test suite.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tftp/fuzz_entry.hpp"

namespace {

TEST(TftpCorpus, EveryCorpusFileParsesWithoutCrashing) {
  const std::filesystem::path dir = "tests/fuzz/corpus/tftp_codec";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << "run from the repository root";
  std::size_t files = 0, parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    parsed += ironboot::tftp::fuzz_one(bytes.data(), bytes.size()) ? 1 : 0;
    ++files;
  }
  EXPECT_GE(files, 10u);
  EXPECT_GT(parsed, 0u);      // the seeds include valid packets
  EXPECT_LT(parsed, files);   // and malformed ones
}

}  // namespace
