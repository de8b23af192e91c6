// The choices a Redfish client makes from what a BMC advertises, kept pure so each table is
// tested on its own: which ResetType(s) carry out a PowerAction, which Boot PATCH bodies to
// try (and in what order), and which If-Match spellings to send. docs/bmc-redfish.md has
// the tables.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bmc/bmc.hpp"
#include "bmc/redfish_codec.hpp"

namespace ironboot::bmc::redfish {

// If-Match handling per BMC: Auto sends it when the resource had an ETag (and after a 428),
// On always (ETag, else "*"), Off never.
enum class EtagMode { Auto, On, Off };

struct ResetPlan {
  // ResetType values to POST in order; a second step waits for PowerState Off first.
  std::vector<std::string> steps;
  std::string error;  // set when the BMC allows nothing that does the action (Unsupported)
  bool nothing_to_do() const { return steps.empty() && error.empty(); }
};

// On: On, else ForceOn.  Off: ForceOff.  SoftOff: GracefulShutdown.
// Cycle: PowerCycle, else ForceRestart when on / On when off, else ForceOff then On; an
// off system is powered On (a cycle of a machine that is off leaves it on).
// HardReset: ForceRestart, else PowerCycle.
// On with the system already on, Off/SoftOff with it already off: nothing to do. An empty
// AllowableValues list means the BMC did not say, and every standard value is allowed.
ResetPlan plan_reset(PowerAction action, const ResetCapabilities& reset, PowerState current);

struct BootPatchPlan {
  // JSON bodies for PATCH on the ComputerSystem, tried in order: the next one only after the
  // BMC rejected the previous one with 400 (Dell's read-only Mode, HPE DL160 Gen10's refusal
  // of the full object).
  std::vector<std::string> bodies;
  std::string error;  // Unsupported: the target or the override kind is not allowed
};

// Target Pxe/Hdd, Enabled Once/Continuous, and Mode UEFI/Legacy only where the system has
// the property, it is not known to be read-only, and its AllowableValues (if listed) hold
// the value; then the same without Mode, i.e. Target+Enabled only.
BootPatchPlan plan_boot_patch(const BootCapabilities& boot, const BootOverride& want, bool mode_read_only);

// The If-Match values to try for an ETag, the BMC's own spelling first, then the others
// BMCs have been seen to expect: without the weak prefix, unquoted, quoted. No duplicates.
std::vector<std::string> if_match_variants(std::string_view etag);

}  // namespace ironboot::bmc::redfish
