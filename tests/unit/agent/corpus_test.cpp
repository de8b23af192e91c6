// Feeds every fuzz corpus file of the agent targets to the same entry points the fuzzers use.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz/agent/targets.hpp"

namespace {

std::vector<std::filesystem::path> corpus(const std::string& target) {
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator("tests/fuzz/corpus/" + target))
    if (e.is_regular_file()) files.push_back(e.path());
  return files;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void run_corpus(const std::string& target, void (*fn)(const std::uint8_t*, std::size_t)) {
  auto files = corpus(target);
  ASSERT_FALSE(files.empty()) << target;
  for (auto& f : files) {
    SCOPED_TRACE(f.string());
    auto data = slurp(f);
    fn(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  }
}

TEST(AgentCorpus, Smbios) { run_corpus("agent_smbios", ironboot::agent::fuzz::smbios_one); }
TEST(AgentCorpus, Sysfs) { run_corpus("agent_sysfs", ironboot::agent::fuzz::sysfs_one); }
TEST(AgentCorpus, Wire) { run_corpus("agent_wire", ironboot::agent::fuzz::wire_one); }

}  // namespace
