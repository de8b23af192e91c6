// Redfish (DMTF DSP0266) documents a BMC client reads and writes, parsed with Boost.JSON:
// the service root, the Systems collection, one ComputerSystem (power state, Boot override
// and its AllowableValues, the Reset action), error bodies with @Message.ExtendedInfo, Task
// resources and SessionService answers. Pure: no sockets, no clock. Nothing throws; every
// parser bounds its input and returns a value or an error text. docs/bmc-redfish.md.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmc/bmc.hpp"

namespace ironboot::bmc::redfish {

// Larger answers are refused before parsing (a ComputerSystem of a real BMC is ~10 KiB).
inline constexpr std::size_t kMaxDocumentBytes = 1024 * 1024;
inline constexpr std::size_t kMaxStringBytes = 4096;  // paths, tokens, enum values, messages
inline constexpr std::size_t kMaxListItems = 256;     // AllowableValues, Members, ExtendedInfo

template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;  // set when !value
  explicit operator bool() const { return value.has_value(); }
  static Parsed failure(std::string why) { return Parsed{std::nullopt, std::move(why)}; }
};

struct ServiceRoot {
  std::string systems_path;   // "/redfish/v1/Systems"; "" when the service has none
  std::string sessions_path;  // Links.Sessions, else SessionService's Sessions; "" = no session auth
  std::string redfish_version;
};

struct BootCapabilities {
  bool present = false;  // the system has a Boot object at all
  std::string target, enabled, mode;  // current values ("" = property absent)
  bool has_mode = false;              // BootSourceOverrideMode is a property of this system
  std::vector<std::string> target_allowed, enabled_allowed, mode_allowed;  // empty = not listed
};

struct ResetCapabilities {
  std::string target;                // the action's URI; "" = the system has no Reset action
  std::vector<std::string> allowed;  // ResetType@Redfish.AllowableValues; empty = not listed
};

struct ComputerSystem {
  std::string power_state;  // as sent: On, Off, PoweringOn, PoweringOff, Paused, ""
  PowerState power = PowerState::Unknown;
  BootCapabilities boot;
  ResetCapabilities reset;
  std::string etag;  // @odata.etag ("" = none); the ETag header, when sent, is preferred
};

// One error or informational message (Base registry and vendor registries alike).
struct RedfishMessage {
  std::string message_id;  // "Base.1.8.PropertyValueNotInList"
  std::string message;
  std::vector<std::string> related_properties;  // "#/Boot/BootSourceOverrideMode"
};

struct RedfishError {
  std::string code, message;              // error.code / error.message
  std::vector<RedfishMessage> extended;   // error.@Message.ExtendedInfo, or a top-level one
  // "code: message; id: message (props); ..." bounded to a few hundred characters.
  std::string summary() const;
  // True when a message names `property` (a JSON pointer or a bare name) as related, or its
  // text says the property is read-only/not writable.
  bool concerns(std::string_view property) const;
};

struct Task {
  std::string state;  // TaskState: New, Running, Completed, Exception, Killed, ...
  std::vector<RedfishMessage> messages;
  bool failed() const;  // Exception, Killed, Cancelled
  bool done() const;    // Completed or failed
};

struct Session {
  std::string token;  // X-Auth-Token
  std::string path;   // the session resource to DELETE on logout (path only)
};

Parsed<ServiceRoot> parse_service_root(std::string_view body);
// The members' paths; an empty collection is an error (nothing to control).
Parsed<std::vector<std::string>> parse_systems_collection(std::string_view body);
Parsed<ComputerSystem> parse_computer_system(std::string_view body);
// Any error body; a body that is not JSON gives a RedfishError with only `message` set.
RedfishError parse_error(std::string_view body);
Parsed<Task> parse_task(std::string_view body);
// The answer to POST .../Sessions: the token header, the Location header (absolute URL or
// path) or else the body's @odata.id.
Parsed<Session> parse_session_created(std::string_view token_header, std::string_view location_header,
                                      std::string_view body);
// The BMC refused a new session because it has as many as it allows (503, or the Base
// registry's SessionLimitExceeded, or a "maximum number of ... sessions" text).
bool is_session_limit(int status, const RedfishError& error);

// The path of a URI reference ("https://bmc/redfish/v1/x?y" -> "/redfish/v1/x"); "" when it
// is neither an absolute path nor an http(s) URL, or has control characters.
std::string uri_path(std::string_view reference);

// What a Redfish PowerState means for status.power: On and PoweringOn are on, Off and
// PoweringOff off (the state it is heading to, as Ironic reads them), anything else unknown.
PowerState power_state_of(std::string_view redfish_power_state);

}  // namespace ironboot::bmc::redfish
