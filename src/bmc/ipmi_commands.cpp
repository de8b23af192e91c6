#include "bmc/ipmi_commands.hpp"

#include <cstdio>

namespace ironboot::bmc::ipmi {

std::uint8_t chassis_control_code(PowerAction action) {
  switch (action) {
    case PowerAction::Off: return 0x00;
    case PowerAction::On: return 0x01;
    case PowerAction::Cycle: return 0x02;
    case PowerAction::HardReset: return 0x03;
    case PowerAction::SoftOff: return 0x05;
  }
  return 0x00;
}

std::vector<std::uint8_t> set_boot_flags_data(const BootOverride& boot) {
  std::uint8_t flags = kBootFlagValid;
  if (boot.persistent) flags |= kBootFlagPersistent;
  if (boot.mode == BootMode::Uefi) flags |= kBootFlagEfi;
  const std::uint8_t device = boot.device == BootDevice::Pxe ? kBootDevicePxe : kBootDeviceDisk;
  return {kBootParamFlags, flags, device, 0x00, 0x00, 0x00};
}

std::vector<std::uint8_t> set_in_progress_data(bool in_progress) {
  return {kBootParamSetInProgress, static_cast<std::uint8_t>(in_progress ? 0x01 : 0x00)};
}

Parsed<BootFlags> parse_boot_flags(std::span<const std::uint8_t> data) {
  if (data.size() < 7) return Parsed<BootFlags>::fail("boot flags answer shorter than 7 bytes");
  if ((data[1] & 0x7f) != kBootParamFlags) return Parsed<BootFlags>::fail("answer is not parameter 5");
  BootFlags f;
  f.valid = (data[2] & kBootFlagValid) != 0;
  f.persistent = (data[2] & kBootFlagPersistent) != 0;
  f.efi = (data[2] & kBootFlagEfi) != 0;
  f.device = data[3] & 0x3c;
  return f;
}

Parsed<PowerState> parse_chassis_status(std::span<const std::uint8_t> data) {
  if (data.size() < 3) return Parsed<PowerState>::fail("chassis status shorter than 3 bytes");
  return (data[0] & 0x01) ? PowerState::On : PowerState::Off;
}

Parsed<DeviceId> parse_device_id(std::span<const std::uint8_t> data) {
  if (data.size() < 11) return Parsed<DeviceId>::fail("device ID shorter than 11 bytes");
  DeviceId id;
  id.device_id = data[0];
  id.device_revision = data[1] & 0x0f;
  id.firmware_major = data[2] & 0x7f;
  id.firmware_minor = data[3];
  id.ipmi_version = data[4];
  id.manufacturer = static_cast<std::uint32_t>(data[6] | (data[7] << 8) | ((data[8] & 0x0f) << 16));
  id.product = static_cast<std::uint16_t>(data[9] | (data[10] << 8));
  return id;
}

std::string to_string(const DeviceId& id) {
  char text[160];
  std::snprintf(text, sizeof text,
                "device_id=0x%02x revision=%u firmware=%u.%02x ipmi=%u.%u manufacturer=%u product=0x%04x",
                id.device_id, id.device_revision, id.firmware_major, id.firmware_minor, id.ipmi_version & 0x0f,
                id.ipmi_version >> 4, id.manufacturer, id.product);
  return text;
}

Parsed<ChannelAuthCaps> parse_channel_auth_caps(std::span<const std::uint8_t> data) {
  if (data.size() < 8) return Parsed<ChannelAuthCaps>::fail("channel auth capabilities shorter than 8 bytes");
  ChannelAuthCaps caps;
  caps.channel = data[0];
  caps.ipmi_v2 = (data[1] & 0x80) != 0 && (data[3] & 0x02) != 0;
  return caps;
}

}  // namespace ironboot::bmc::ipmi
