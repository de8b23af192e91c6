// libFuzzer target for the Redfish codec and policies: every parser on arbitrary bytes, and
// whatever ComputerSystem parses goes through the ResetType and Boot PATCH choices, whose
// bodies must be JSON again. Nothing may throw or read out of bounds.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/json.hpp>

#include "bmc/redfish_codec.hpp"
#include "bmc/redfish_policy.hpp"

using namespace ironboot::bmc;
using namespace ironboot::bmc::redfish;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)parse_service_root(body);
  (void)parse_systems_collection(body);
  (void)parse_task(body);
  const auto error = parse_error(body);
  if (error.summary().size() > 400) std::abort();
  (void)error.concerns("BootSourceOverrideMode");
  (void)is_session_limit(400, error);
  (void)parse_session_created("token", body.substr(0, 64), body);
  (void)if_match_variants(body.substr(0, 64));
  const auto sys = parse_computer_system(body);
  if (!sys) return 0;
  for (auto action : {PowerAction::On, PowerAction::Off, PowerAction::SoftOff, PowerAction::Cycle, PowerAction::HardReset}) {
    const auto plan = plan_reset(action, sys.value->reset, sys.value->power);
    if (plan.steps.size() > 2 || (!plan.error.empty() && !plan.steps.empty())) std::abort();
  }
  for (bool read_only : {false, true}) {
    const auto plan = plan_boot_patch(sys.value->boot, BootOverride{BootDevice::Pxe, BootMode::Legacy, true}, read_only);
    for (const auto& b : plan.bodies) {
      boost::system::error_code ec;
      auto v = boost::json::parse(b, ec);
      if (ec || !v.is_object() || !v.as_object().contains("Boot")) std::abort();
    }
  }
  return 0;
}
