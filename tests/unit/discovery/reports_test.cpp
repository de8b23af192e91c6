#include "discovery/reports.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::filesystem::path kCorpus = "tests/fuzz/corpus/discovery_register";

std::string error_of(const Parsed<RegisterReport>& r) {
  if (const auto* e = std::get_if<RequestError>(&r)) return std::to_string(e->status) + " " + e->message;
  return "ok";
}

TEST(RegisterReport, DocumentedExampleParses) {
  const auto parsed = parse_register(read_file(kCorpus / "doc_example.json"));
  ASSERT_TRUE(std::holds_alternative<RegisterReport>(parsed)) << error_of(parsed);
  const auto& r = std::get<RegisterReport>(parsed);
  EXPECT_EQ(r.uuid, "4c4c4544-0042-3510-8051-b7c04f4e4d32");
  EXPECT_EQ(r.boot_mac, "52:54:00:12:34:56");
  EXPECT_EQ(r.boot_mode, "UEFI");
  EXPECT_EQ(r.serial_number(), "8N4MD32");
  EXPECT_EQ(r.interface_macs(), std::vector<std::string>{"52:54:00:12:34:56"});
  EXPECT_EQ(r.firmware_vendor, "SeaBIOS");
  EXPECT_EQ(r.firmware_date, "04/01/2014");
  ASSERT_EQ(r.pci.size(), 1u);
  EXPECT_EQ(r.pci[0].device_class, "020000");
  const auto& cpu = r.hardware.at("compute").at("processors").at(0).as_object();
  EXPECT_EQ(cpu.at("coreCount"), 32);
  EXPECT_EQ(r.hardware.at("storage").at("devices").at(0).at("size"), 960197124096);
  EXPECT_EQ(r.hardware.at("network").at("interfaces").at(0).at("addresses"), (json::array{"10.0.0.50/24"}));
}

TEST(RegisterReport, TheTpmProofIsCheckedForShape) {
  const auto parsed = parse_register(read_file(kCorpus / "tpm_proof.json"));
  ASSERT_TRUE(std::holds_alternative<RegisterReport>(parsed)) << error_of(parsed);
  const auto& proof = std::get<RegisterReport>(parsed).tpm;
  ASSERT_TRUE(proof);
  EXPECT_EQ(proof->challenge, "00112233445566778899aabbccddeeff");
  EXPECT_EQ(proof->secret.size(), 32u);
  const std::string base = R"({"bootMac":"52:54:00:aa:bb:cc","hardware":{},"tpm":)";
  EXPECT_EQ(error_of(parse_register(base + R"({"challenge":"c"}})")), "400 tpm.secret: required");
  EXPECT_EQ(error_of(parse_register(base + R"({"challenge":"c","secret":"xyz"}})")), "400 tpm.secret: must be hex, 1 to 64 bytes");
  EXPECT_EQ(error_of(parse_register(base + R"({"secret":"00"}})")), "400 tpm.challenge: required");
  EXPECT_EQ(error_of(parse_register(base + R"("x"})")), "400 tpm: must be an object");
  // The challenge request: two hex keys.
  auto request = parse_challenge_request(read_file(kCorpus / "tpm_challenge_request.json"));
  EXPECT_TRUE(std::holds_alternative<RequestError>(request)) << "an odd count of hex digits";
  request = parse_challenge_request(R"({"ekPublic":"0001","akPublic":"0023"})");
  ASSERT_TRUE(std::holds_alternative<ChallengeRequest>(request));
  EXPECT_EQ(std::get<ChallengeRequest>(request).ak_public, (std::vector<std::uint8_t>{0x00, 0x23}));
  EXPECT_TRUE(std::holds_alternative<RequestError>(parse_challenge_request(R"({"ekPublic":"0001"})")));
}

TEST(RegisterReport, HardwareIsNormalisedToTheFullShape) {
  const auto parsed = parse_register(read_file(kCorpus / "minimal_unknown_fields.json"));
  ASSERT_TRUE(std::holds_alternative<RegisterReport>(parsed)) << error_of(parsed);
  const auto& r = std::get<RegisterReport>(parsed);
  EXPECT_EQ(r.uuid, "");
  EXPECT_EQ(r.boot_mac, "52:54:00:aa:bb:cc");
  // Every section and field is present, so writing it replaces old facts completely.
  EXPECT_EQ(r.hardware.at("system").at("manufacturer"), "");
  EXPECT_EQ(r.hardware.at("compute").at("processors"), json::array{});
  EXPECT_EQ(r.hardware.at("memory").at("moduleCount"), 0);
  const auto& iface = r.hardware.at("network").at("interfaces").at(0).as_object();
  EXPECT_EQ(iface.at("mtu"), 0);
  EXPECT_EQ(iface.at("name"), "");
  EXPECT_EQ(r.hardware.size(), 5u);
}

TEST(RegisterReport, ErrorsNameTheJsonPath) {
  const struct {
    const char* file;
    const char* error;
  } cases[] = {
      {"bad_core_count.json", "400 hardware.compute.processors[1].coreCount: must be an integer"},
      {"negative_size.json", "400 hardware.storage.devices[0].size: must not be negative"},
      {"short_uuid.json", "400 uuid: must be a UUID (8-4-4-4-12 hex digits)"},
      {"array_body.json", "400 body: must be a JSON object"},
      {"float_size.json", "400 hardware.memory.modules[0].size: must be an integer"},
      {"bad_boot_mode.json", "400 bootMode: must be BIOS or UEFI"},
  };
  for (const auto& c : cases) EXPECT_EQ(error_of(parse_register(read_file(kCorpus / c.file))), c.error) << c.file;
  EXPECT_EQ(error_of(parse_register(read_file(kCorpus / "truncated.json"))).substr(0, 25), "400 body: not valid JSON ");
  EXPECT_EQ(error_of(parse_register(read_file(kCorpus / "deep_nesting.json"))).substr(0, 25), "400 body: not valid JSON ");
  EXPECT_EQ(error_of(parse_register(R"({"hardware":{}})")), "400 bootMac: required");
  EXPECT_EQ(error_of(parse_register(R"({"bootMac":"52:54:00:12:34:56"})")), "400 hardware: required");
  EXPECT_EQ(error_of(parse_register(R"({"bootMac":"nope","hardware":{}})")),
            "400 bootMac: must be a MAC address like 52:54:00:12:34:56");
  EXPECT_EQ(error_of(parse_register(R"({"bootMac":7,"hardware":{}})")), "400 bootMac: must be a string");
  EXPECT_EQ(error_of(parse_register(R"({"bootMac":"52:54:00:12:34:56","hardware":{"system":null}})")),
            "400 hardware.system: must be an object");
  EXPECT_EQ(error_of(parse_register(R"({"bootMac":"52:54:00:12:34:56","hardware":{"network":{"interfaces":{}}}})")),
            "400 hardware.network.interfaces: must be a list");
  EXPECT_EQ(error_of(parse_register(R"({"bootMac":"52:54:00:12:34:56","hardware":{},"pci":[{"vendor":4332}]})")),
            "400 pci[0].vendor: must be a string");
  EXPECT_EQ(error_of(parse_register(R"({"bootMac":"52:54:00:12:34:56","hardware":{"system":{"uuid":"x"}}})")),
            "400 hardware.system.uuid: must be a UUID (8-4-4-4-12 hex digits)");
  const std::string long_name = R"({"bootMac":"52:54:00:12:34:56","hardware":{"system":{"family":")" +
                                std::string(1025, 'a') + R"("}}})";
  EXPECT_EQ(error_of(parse_register(long_name)), "400 hardware.system.family: must be at most 1024 characters");
  std::string many = R"({"bootMac":"52:54:00:12:34:56","hardware":{"storage":{"devices":[)";
  for (int i = 0; i < 4097; ++i) many += i ? ",{}" : "{}";
  many += "]}}}";
  EXPECT_EQ(error_of(parse_register(many)), "400 hardware.storage.devices: must have at most 4096 entries");
}

TEST(RegisterReport, SizeLimitIs413) {
  std::string big = R"({"bootMac":"52:54:00:12:34:56","hardware":{},"pad":")" + std::string(kMaxBodyBytes, 'x') + "\"}";
  EXPECT_EQ(error_of(parse_register(big)), "413 body: larger than 1048576 bytes");
  EXPECT_EQ(error_of(parse_register(read_file(kCorpus / "doc_example.json"), 100)), "413 body: larger than 100 bytes");
}

TEST(AgentBodies, WipedProgressAddresses) {
  auto wiped = parse_wiped(R"({"mode":"fast","devices":["/dev/sda","/dev/nvme0n1"]})");
  ASSERT_TRUE(std::holds_alternative<WipedReport>(wiped));
  EXPECT_EQ(std::get<WipedReport>(wiped).devices.size(), 2u);
  EXPECT_EQ(std::get<RequestError>(parse_wiped(R"({"mode":"quick"})")).message, "mode: must be fast, full or secure");
  auto detailed = parse_wiped(R"({"mode":"secure","devices":["/dev/vda"],
    "wiped":[{"device":"/dev/vda","transport":"virtio","method":"zero-fill","verified":true}],
    "failed":[{"device":"/dev/nvme0n1","transport":"nvme","error":"verification: non-zero data at offset 0"}],
    "skipped":[{"device":"/dev/sda","transport":"usb","reason":"usb"}]})");
  ASSERT_TRUE(std::holds_alternative<WipedReport>(detailed));
  EXPECT_EQ(std::get<WipedReport>(detailed).failed,
            (std::vector<std::string>{"/dev/nvme0n1: verification: non-zero data at offset 0"}));
  EXPECT_EQ(std::get<WipedReport>(detailed).skipped, (std::vector<std::string>{"/dev/sda (usb)"}));
  EXPECT_EQ(std::get<RequestError>(parse_wiped(R"({"mode":"fast","failed":[1]})")).message, "failed[0]: must be an object");
  EXPECT_EQ(std::get<RequestError>(parse_wiped(R"({"mode":"fast","skipped":[{"reason":"usb"}]})")).message,
            "skipped[0].device: required");
  EXPECT_EQ(std::get<RequestError>(parse_wiped(R"({"mode":"full","devices":[1]})")).message,
            "devices[0]: must be a string");

  auto progress = parse_progress(R"({"device":"/dev/sda","done":1048576,"total":500107862016})");
  ASSERT_TRUE(std::holds_alternative<ProgressReport>(progress));
  EXPECT_EQ(std::get<ProgressReport>(progress).total, 500107862016u);
  EXPECT_EQ(std::get<RequestError>(parse_progress(R"({"device":"/dev/sda","done":5,"total":4})")).message,
            "done: must not exceed total");
  EXPECT_EQ(std::get<RequestError>(parse_progress(R"({"device":"/dev/sda","done":5})")).message, "total: required");

  auto addresses = parse_addresses(R"({"addresses":[{"type":"InternalIP","address":"10.0.0.50"}]})");
  ASSERT_TRUE(std::holds_alternative<AddressesReport>(addresses));
  EXPECT_EQ(std::get<AddressesReport>(addresses).addresses.at(0).address, "10.0.0.50");
  EXPECT_EQ(std::get<RequestError>(parse_addresses(R"({"addresses":[{"type":"InternalIP"}]})")).message,
            "addresses[0].address: required");
  EXPECT_EQ(std::get<RequestError>(parse_addresses("{}")).message, "addresses: required");
}

// Every corpus file goes through the same parsers as the fuzz target: no crash, and a
// result that is either a report or an error with a message.
TEST(RegisterReport, FuzzCorpus) {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
    const std::string body = read_file(entry.path());
    const auto r = parse_register(body);
    if (const auto* e = std::get_if<RequestError>(&r)) {
      EXPECT_FALSE(e->message.empty()) << entry.path();
      EXPECT_TRUE(e->status == 400 || e->status == 413);
    }
    (void)parse_wiped(body);
    (void)parse_progress(body);
    (void)parse_addresses(body);
    ++files;
  }
  EXPECT_GE(files, 10u);
}

}  // namespace
}  // namespace ironboot::discovery
