#include "agent/system.hpp"

#include "common/text.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

namespace ironboot::agent::sys {

std::vector<std::string> mount_basics() {
  struct M {
    const char *source, *target, *type, *options;
  };
  static constexpr M mounts[] = {{"proc", "/proc", "proc", nullptr},
                                 {"sysfs", "/sys", "sysfs", nullptr},
                                 {"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
                                 {"tmpfs", "/run", "tmpfs", "mode=0755"},
                                 {"tmpfs", "/tmp", "tmpfs", "mode=1777"}};
  std::vector<std::string> errors;
  for (const auto& m : mounts) {
    ::mkdir(m.target, 0755);
    if (::mount(m.source, m.target, m.type, MS_NOSUID, m.options) != 0 && errno != EBUSY)
      errors.push_back(std::string("mount ") + m.target + ": " + std::strerror(errno));
  }
  return errors;
}

void attach_console() {
  if (::fcntl(1, F_GETFD) != -1) return;
  int fd = ::open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0) return;
  for (int i = 0; i < 3; ++i) ::dup2(fd, i);
  if (fd > 2) ::close(fd);
}

namespace {
std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> v;
  for (const auto& a : argv) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}
}  // namespace

int spawn(const std::vector<std::string>& argv) {
  if (argv.empty()) return -1;
  auto args = c_argv(argv);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

int run(const std::vector<std::string>& argv, std::string& error) {
  int pid = spawn(argv);
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      error = std::string("waitpid: ") + std::strerror(errno);
      return -1;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  error = "killed by signal " + std::to_string(WTERMSIG(status));
  return -1;
}

std::vector<std::string> load_modules_for_devices(const FsRoot& fs, const std::string& modprobe,
                                                  std::chrono::milliseconds settle) {
  std::set<std::string> tried;
  // Devices keep appearing for a while after their bus driver loads (usb-storage waits a
  // second before it scans its SCSI target, whose disk then needs sd_mod): stop only after
  // kQuietRounds rounds in a row found nothing new.
  constexpr int kQuietRounds = 6;
  int quiet = 0;
  for (int round = 0; round < 30 && quiet < kQuietRounds; ++round) {
    std::vector<std::string> fresh;
    for (const auto& bus : fs.list("/sys/bus")) {
      std::string dir = "/sys/bus/" + bus + "/devices";
      for (const auto& dev : fs.list(dir)) {
        auto alias = read_attr(fs, dir + "/" + dev + "/modalias");
        if (!alias.empty() && tried.insert(alias).second) fresh.push_back(alias);
      }
    }
    if (fresh.empty()) {
      ++quiet;
      std::this_thread::sleep_for(settle);
      continue;
    }
    quiet = 0;
    std::vector<std::string> argv{modprobe, "-q", "-a"};
    argv.insert(argv.end(), fresh.begin(), fresh.end());
    std::string error;
    run(argv, error);  // unknown aliases fail quietly: most devices need no module
    std::this_thread::sleep_for(settle);
  }
  std::vector<std::string> loaded;
  auto modules = fs.read("/proc/modules").value_or("");
  std::size_t at = 0;
  while (at < modules.size()) {
    auto nl = modules.find('\n', at);
    auto line = modules.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    loaded.push_back(line.substr(0, line.find(' ')));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  std::sort(loaded.begin(), loaded.end());
  return loaded;
}

std::string link_up(const std::string& ifname) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::string("socket: ") + std::strerror(errno);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  std::string err;
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    err = std::string("SIOCGIFFLAGS: ") + std::strerror(errno);
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) err = std::string("SIOCSIFFLAGS: ") + std::strerror(errno);
  }
  ::close(s);
  return err;
}

std::string choose_interface(const FsRoot& fs, const std::string& mac, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::pair<unsigned long, std::string>> candidates;
    for (const auto& name : fs.list("/sys/class/net")) {
      if (name == "lo") continue;
      std::string base = "/sys/class/net/" + name + "/";
      if (read_attr(fs, base + "type") != "1") continue;  // Ethernet only
      const std::string addr = ascii_lowercase(read_attr(fs, base + "address"));
      if (!mac.empty() && addr == mac) {
        link_up(name);
        return name;
      }
      link_up(name);  // carrier is only known for interfaces that are up
      if (read_attr(fs, base + "carrier") == "1")
        candidates.emplace_back(std::stoul("0" + read_attr(fs, base + "ifindex")), name);
    }
    // With a MAC given, give its NIC's driver time to appear before settling for another.
    bool mac_grace = !mac.empty() && std::chrono::steady_clock::now() < deadline - timeout / 2;
    if (!candidates.empty() && !mac_grace) {
      std::sort(candidates.begin(), candidates.end());
      return candidates.front().second;
    }
    if (std::chrono::steady_clock::now() >= deadline) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

std::vector<std::string> ipv4_addresses(const std::string& ifname) {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || ifname != a->ifa_name) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    out.emplace_back(text);
  }
  ::freeifaddrs(list);
  return out;
}

bool reap_children(int watch) {
  bool seen = false;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    if (pid == watch) seen = true;
  }
  return seen;
}

void reboot_machine(bool power_off) {
  ::sync();
  ::reboot(power_off ? RB_POWER_OFF : RB_AUTOBOOT);
}

}  // namespace ironboot::agent::sys
