// Every file of the fuzz corpus through the same entry point as the libFuzzer target.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "kube/fuzz_entry.hpp"

namespace {

// Runs every file of tests/fuzz/corpus/<dir> through `entry`; the number of files.
template <class Entry>
int run_corpus(const char* dir, Entry entry) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string("tests/fuzz/corpus/") + dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    entry(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    ++n;
  }
  return n;
}

}  // namespace

TEST(FuzzCorpus, KubeApi) { EXPECT_GE(run_corpus("kube_api", ironboot::kube::fuzz_api_request), 16); }

TEST(FuzzCorpus, KubeProtobuf) { EXPECT_GE(run_corpus("kube_protobuf", ironboot::kube::fuzz_kube_protobuf), 8); }
