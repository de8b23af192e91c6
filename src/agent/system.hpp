// What the agent does as PID 1 of its initramfs: mounts, kernel modules, the network
// interface, DHCP through busybox udhcpc, and the final reboot or power-off.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/fs_root.hpp"

namespace ironboot::agent::sys {

// proc, sysfs, devtmpfs, /run; already-mounted is fine. Returns the errors (empty = all ok).
std::vector<std::string> mount_basics();

// Makes fds 0/1/2 the console when the kernel gave init none.
void attach_console();

// Runs argv (argv[0] an absolute path) and waits; exit status, or -1 with `error` set.
int run(const std::vector<std::string>& argv, std::string& error);

// Starts argv without waiting; pid or -1.
int spawn(const std::vector<std::string>& argv);

// Coldplug: modprobes the modalias of every device on every bus, again while new devices
// appear (a storage controller's driver reveals its disks), until six rounds of `settle`
// in a row bring nothing new. Returns the modules now loaded.
std::vector<std::string> load_modules_for_devices(const FsRoot& fs, const std::string& modprobe,
                                                  std::chrono::milliseconds settle);

// Sets IFF_UP on an interface; "" on success.
std::string link_up(const std::string& ifname);

// The interface with that MAC, else the first (by index) with carrier, waiting up to timeout
// for a carrier. "" when none.
std::string choose_interface(const FsRoot& fs, const std::string& mac, std::chrono::seconds timeout);

// IPv4 addresses ("10.0.0.50") currently held by the interface.
std::vector<std::string> ipv4_addresses(const std::string& ifname);

// Reaps finished children without blocking; returns whether `watch` was among them.
bool reap_children(int watch);

// sync() then reboot(2): power_off or restart. Does not return when it works.
void reboot_machine(bool power_off);

}  // namespace ironboot::agent::sys
