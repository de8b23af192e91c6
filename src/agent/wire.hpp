// The agent side of docs/agent-api.md: kernel command line, endpoint URL, JSON bodies.
// Pure: text in, values out; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/facts.hpp"

namespace ironboot::agent {

struct Cmdline {
  std::string endpoint;  // ironboot.endpoint=
  std::string token;     // ironboot.token=
  std::string mac;       // ironboot.mac=, normalised to aa:bb:cc:dd:ee:ff ("" when absent/invalid)
  std::vector<std::string> consoles;  // console=
  bool debug = false;    // ironboot.debug
  bool wipe_usb = false; // ironboot.wipe_usb=1: USB disks count as local (agent.kernel_args)
  std::string tpm = "/dev/tpmrm0";  // ironboot.tpm=: the TPM's device, or "off"
};

// /proc/cmdline; double quotes group words as the kernel does.
Cmdline parse_cmdline(std::string_view text);

// "AA-BB-CC-DD-EE-FF" / "aabbccddeeff" / "aa:bb:..." -> "aa:bb:cc:dd:ee:ff"; "" if invalid.
std::string normalize_mac(std::string_view text);

struct Endpoint {
  std::string host;  // IP literal (IPv6 without brackets)
  std::uint16_t port = 80;
  std::string base_path;  // without trailing '/', "" for the root
};

struct EndpointResult {
  std::optional<Endpoint> endpoint;
  std::string error;
};

// http://IP[:PORT][/prefix]. Only plain HTTP and IP literals: the initramfs has no resolver.
EndpointResult parse_endpoint(std::string_view url);

enum class Action { wait, wipe, reboot, poweroff };

struct Instruction {
  Action action = Action::wait;
  std::string mode = "fast";  // wipe only: fast | full | secure
  std::string wipe_id;        // wipe only: the one-time id POST wiped sends back
  bool operator==(const Instruction&) const = default;
};

struct InstructionResult {
  std::optional<Instruction> instruction;
  std::string error;
  std::string server;  // register answers name the Server
  bool bmc_setup = false;  // register answers: "bmcSetup": true asks for a BMC user
  std::string session;     // register answers: the session token for every later request
};

// An instruction, or an object holding one under "instruction" (register, heartbeat, wiped).
InstructionResult parse_instruction_body(std::string_view body);

std::string action_name(Action a);

struct BmcCredentials {
  std::string username, password;
};

// What one disk's wipe came to; error "" = wiped and verified.
struct DiskWipeResult {
  std::string device, transport, method, error;
  bool verified = false;
};
struct SkippedDisk {
  std::string device, transport, reason;
  bool operator==(const SkippedDisk&) const = default;
};
struct WipeReport {
  std::string mode;
  std::vector<DiskWipeResult> disks;
  std::vector<SkippedDisk> skipped;
  std::string wipe_id;  // the instruction's, sent back as "wipeId"
};

// Request bodies. The register body carries facts.bmc as "bmc" when there is one, and
// "bmcCredentials" when the agent has just set a BMC user up.
std::string register_body(const Facts& facts, const std::optional<BmcCredentials>& credentials = std::nullopt);
std::string progress_body(const std::string& device, std::uint64_t done, std::uint64_t total);
// "devices": the wiped ones (as before); "wiped", "failed", "skipped": per disk, with why;
// "wipeId": the instruction's.
std::string wiped_body(const WipeReport& report);
std::string addresses_body(const std::vector<std::string>& ipv4_addresses);

// POST challenge: the TPM's EK and AK (hex TPMT_PUBLIC each).
std::string challenge_request_body(const std::string& ek_public_hex, const std::string& ak_public_hex);
struct Challenge {
  std::string id, id_object, encrypted_secret;  // hex blobs as ironboot sent them
};
struct ChallengeResult {
  std::optional<Challenge> challenge;
  std::string error;
};
ChallengeResult parse_challenge_body(std::string_view body);
// `register_body` with "tpm": {"challenge", "secret"}: the answer to a challenge.
std::string with_tpm_proof(std::string_view register_body, const std::string& challenge_id,
                           const std::string& secret_hex);

// "512 GB": memory in binary GB from MB; storage in decimal GB from bytes (as vendors label).
std::string memory_total_text(std::uint64_t mb);
std::string storage_total_text(std::uint64_t bytes);

}  // namespace ironboot::agent
