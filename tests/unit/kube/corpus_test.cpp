// Every file of the fuzz corpus through the same entry point as the libFuzzer target.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "kube/fuzz_entry.hpp"

TEST(FuzzCorpus, KubeApi) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("tests/fuzz/corpus/kube_api")) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ironboot::kube::fuzz_api_request(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    ++n;
  }
  EXPECT_GE(n, 16);
}
