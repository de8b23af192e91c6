// Turns an agent's register report into the writes on Server objects (pure). Operator-owned
// fields (accepted after creation, cordoned, labels, environmentRef, bmc, hostname,
// pxeBootAlways, bootFromDiskMethod) are never part of an update.
#pragma once

#include "discovery/reports.hpp"
#include "discovery/token.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::discovery {

// Annotations ironboot keeps on a Server (the CRD schema has no fields for these facts).
inline constexpr std::string_view kBootMacAnnotation = "ironboot.dev/boot-mac";
inline constexpr std::string_view kBootModeAnnotation = "ironboot.dev/boot-mode";
inline constexpr std::string_view kFirmwareAnnotation = "ironboot.dev/firmware";
inline constexpr std::string_view kPciAnnotation = "ironboot.dev/pci";

struct ServerWrite {
  enum class Kind {
    create,        // POST the whole object
    merge_patch,   // RFC 7386 merge patch of the object (metadata / spec)
    status_patch,  // RFC 7386 merge patch of the status subresource
  };
  Kind kind;
  std::string name;
  boost::json::object body;
};

struct RegisterPlan {
  std::string server_name;  // the Server the agent is bound to from now on
  bool synthetic_uuid = false;
  bool duplicate_uuid = false;
  std::string duplicate_message;  // for the error log when duplicate_uuid
  std::string duplicate_of;       // when duplicate_uuid: the Server that already holds the UUID
  std::vector<ServerWrite> writes;  // in order
};

using ServerLookup = std::function<const boost::json::object*(std::string_view name)>;

struct RegisterOptions {
  bool auto_accept = false;
};

// Which Server a report belongs to and what to write:
// - no Server yet: create (accepted = auto_accept) + status (isClean false, Discovered, SyntheticUUID);
// - same machine: refresh spec.hardware and ironboot's annotations, Discovered condition;
// - another machine already holds the UUID (different serial, or a boot MAC that is none of
//   its interfaces): leave its spec alone, set DuplicateUUID on it, and register this machine
//   under its synthetic (MAC-derived) name with DuplicateUUID too.
RegisterPlan plan_register(const RegisterReport& report, const ServerLookup& lookup, const RegisterOptions& options,
                           std::string_view now);

// The Server name for an authenticated agent (token uuid + mac), following the same rules as
// plan_register, so instructions/heartbeat/wiped reach the right object.
std::string server_name_for_agent(std::string_view token_uuid, std::string_view token_mac,
                                  const ServerLookup& lookup);

// The FactsUpdated Event message for a Server whose spec.hardware goes from `before` to
// `after` (both as written by plan_register; `before` may be empty): the summary figures that
// changed ("memory 64 GB -> 128 GB, disks 2 -> 3"), else the sections that differ ("network
// changed"); "" when nothing did.
std::string describe_hardware_changes(const boost::json::object& before, const boost::json::object& after);

// A register whose uuid / bootMac disagree with its token is refused (401). A report without
// a usable UUID must come with a token for a placeholder (or empty) UUID.
bool report_matches_token(const RegisterReport& report, const TokenClaims& claims);

}  // namespace ironboot::discovery
