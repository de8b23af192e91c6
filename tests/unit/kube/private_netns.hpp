// Moves the test process into its own network namespace with only `lo` up, once, so the
// embedded API's fixed test ports never collide with anything else on the machine.
#pragma once

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace ironboot::kube {

inline bool private_netns() {
  static const bool ok = [] {
    if (::unshare(CLONE_NEWNET) != 0) return false;
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    bool up = ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP;
    up = up && ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    ::close(fd);
    return up;
  }();
  return ok;
}

}  // namespace ironboot::kube
