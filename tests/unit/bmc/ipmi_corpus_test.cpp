// Every file of tests/fuzz/corpus/ipmi through the fuzz target's checks (ipmi_fuzz_one.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../../fuzz/bmc/ipmi_fuzz_one.hpp"

namespace ironboot::bmc::ipmi {
namespace {

TEST(IpmiCorpus, EveryFileKeepsTheFuzzInvariants) {
  std::size_t files = 0, packets = 0;
  for (const auto& e : std::filesystem::directory_iterator("tests/fuzz/corpus/ipmi")) {
    std::ifstream f(e.path(), std::ios::binary);
    const Bytes data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ipmi_fuzz_one(data);
    ++files;
    if (decode_packet(data, nullptr)) ++packets;
  }
  EXPECT_GE(files, 20u);
  EXPECT_GE(packets, 10u);  // the session-setup packets of the capture decode without keys
}

}  // namespace
}  // namespace ironboot::bmc::ipmi
