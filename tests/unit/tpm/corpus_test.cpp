// Feeds every file of the fuzz corpus to the same code the fuzz target runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "tpm/fuzz_entry.hpp"

namespace {

TEST(TpmCorpus, EveryCorpusFileParsesWithoutCrashing) {
  const std::filesystem::path dir = "tests/fuzz/corpus/tpm_response";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << "run from the repository root";
  std::size_t files = 0, accepted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    accepted += ironboot::tpm::fuzz_one(bytes.data(), bytes.size()) > 0 ? 1 : 0;
    ++files;
  }
  EXPECT_GE(files, 5u);
  EXPECT_GT(accepted, 0u);     // the seeds include valid responses
  EXPECT_LT(accepted, files);  // and malformed ones
}

}  // namespace
