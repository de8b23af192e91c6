// The IPMI commands ironboot sends, as LAN request bodies, and the answers it reads
// (IPMI 2.0 §20.1 Get Device ID, §28.2 Get Chassis Status, §28.3 Chassis Control,
// §28.12-28.13 Set/Get System Boot Options). Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bmc/bmc.hpp"
#include "bmc/ipmi_codec.hpp"

namespace ironboot::bmc::ipmi {

inline constexpr std::uint8_t kNetFnChassis = 0x00;
inline constexpr std::uint8_t kNetFnApp = 0x06;

inline constexpr std::uint8_t kCmdGetDeviceId = 0x01;
inline constexpr std::uint8_t kCmdGetChannelAuthCaps = 0x38;
inline constexpr std::uint8_t kCmdSetSessionPrivilege = 0x3b;
inline constexpr std::uint8_t kCmdCloseSession = 0x3c;
inline constexpr std::uint8_t kCmdGetChassisStatus = 0x01;
inline constexpr std::uint8_t kCmdChassisControl = 0x02;
inline constexpr std::uint8_t kCmdSetBootOptions = 0x08;
inline constexpr std::uint8_t kCmdGetBootOptions = 0x09;

inline constexpr std::uint8_t kPrivilegeAdmin = 0x04;

// Chassis Control's argument for each power action (up 1, down 0, cycle 2, hard reset 3, soft 5).
std::uint8_t chassis_control_code(PowerAction action);

// Boot-flags parameter 5: byte 1 bit 7 valid, bit 6 persistent, bit 5 EFI; byte 2 bits 5:2 the
// device (PXE 0x04, disk 0x08).
inline constexpr std::uint8_t kBootParamSetInProgress = 0;
inline constexpr std::uint8_t kBootParamFlags = 5;
inline constexpr std::uint8_t kBootFlagValid = 0x80;
inline constexpr std::uint8_t kBootFlagPersistent = 0x40;
inline constexpr std::uint8_t kBootFlagEfi = 0x20;
inline constexpr std::uint8_t kBootDevicePxe = 0x04;
inline constexpr std::uint8_t kBootDeviceDisk = 0x08;

struct BootFlags {
  bool valid = false;
  bool persistent = false;
  bool efi = false;
  std::uint8_t device = 0;  // byte 2 & 0x3c
};
// Set System Boot Options data for parameter 5 (5 data bytes after the selector).
std::vector<std::uint8_t> set_boot_flags_data(const BootOverride& boot);
// Set System Boot Options data for parameter 0: 1 = set in progress, 0 = set complete.
std::vector<std::uint8_t> set_in_progress_data(bool in_progress);
// Get System Boot Options answer for parameter 5: version, selector, 5 data bytes.
Parsed<BootFlags> parse_boot_flags(std::span<const std::uint8_t> data);

// Get Chassis Status: byte 1 bit 0 is "power is on".
Parsed<PowerState> parse_chassis_status(std::span<const std::uint8_t> data);

struct DeviceId {
  std::uint8_t device_id = 0;
  std::uint8_t device_revision = 0;
  std::uint8_t firmware_major = 0;
  std::uint8_t firmware_minor = 0;  // BCD
  std::uint8_t ipmi_version = 0;    // BCD, low nibble the major digit: 0x02 = 2.0, 0x51 = 1.5
  std::uint32_t manufacturer = 0;   // IANA enterprise number, 20 bits
  std::uint16_t product = 0;
};
Parsed<DeviceId> parse_device_id(std::span<const std::uint8_t> data);
std::string to_string(const DeviceId& id);

// Get Channel Authentication Capabilities answer: does the channel speak IPMI 2.0 (RMCP+)?
struct ChannelAuthCaps {
  std::uint8_t channel = 0;
  bool ipmi_v2 = false;  // extended capabilities present and "IPMI 2.0 connections" set
};
Parsed<ChannelAuthCaps> parse_channel_auth_caps(std::span<const std::uint8_t> data);

}  // namespace ironboot::bmc::ipmi
