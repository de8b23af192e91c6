#include "bmc/bmc.hpp"

namespace ironboot::bmc {

const char* to_string(PowerState state) {
  switch (state) {
    case PowerState::On: return "on";
    case PowerState::Off: return "off";
    case PowerState::Unknown: break;
  }
  return "unknown";
}

const char* to_string(PowerAction action) {
  switch (action) {
    case PowerAction::On: return "on";
    case PowerAction::Off: return "off";
    case PowerAction::SoftOff: return "soft-off";
    case PowerAction::Cycle: return "cycle";
    case PowerAction::HardReset: return "hard-reset";
  }
  return "unknown";
}

}  // namespace ironboot::bmc
