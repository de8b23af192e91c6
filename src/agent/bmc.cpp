#include "agent/bmc.hpp"

#include <fcntl.h>
#include <linux/ipmi.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ironboot::agent {
namespace {

class DevIpmi final : public IpmiTransport {
 public:
  explicit DevIpmi(int fd) : fd_(fd) {}
  ~DevIpmi() override { ::close(fd_); }

  std::optional<ipmi::Response> call(const ipmi::Request& request, std::string& error) override {
    // Two tries: a KCS interface may drop one exchange while the BMC is busy.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (auto r = once(request, error)) return r;
    }
    return std::nullopt;
  }

 private:
  std::optional<ipmi::Response> once(const ipmi::Request& request, std::string& error) {
    ipmi_system_interface_addr addr{};
    addr.addr_type = IPMI_SYSTEM_INTERFACE_ADDR_TYPE;
    addr.channel = IPMI_BMC_CHANNEL;
    addr.lun = 0;
    std::vector<unsigned char> data(request.data.begin(), request.data.end());
    ipmi_req req{};
    req.addr = reinterpret_cast<unsigned char*>(&addr);
    req.addr_len = sizeof addr;
    req.msgid = ++msgid_;
    req.msg.netfn = request.netfn;
    req.msg.cmd = request.cmd;
    req.msg.data_len = static_cast<unsigned short>(data.size());
    req.msg.data = data.empty() ? nullptr : data.data();
    if (::ioctl(fd_, IPMICTL_SEND_COMMAND, &req) != 0) {
      error = std::string("IPMICTL_SEND_COMMAND: ") + std::strerror(errno);
      return std::nullopt;
    }
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      int n = ::poll(&p, 1, 5000);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = n == 0 ? "no answer from the BMC within 5 s" : std::string("poll: ") + std::strerror(errno);
        return std::nullopt;
      }
      unsigned char buf[IPMI_MAX_MSG_LENGTH + 1];
      ipmi_system_interface_addr from{};
      ipmi_recv recv{};
      recv.addr = reinterpret_cast<unsigned char*>(&from);
      recv.addr_len = sizeof from;
      recv.msg.data = buf;
      recv.msg.data_len = sizeof buf;
      if (::ioctl(fd_, IPMICTL_RECEIVE_MSG_TRUNC, &recv) != 0 && errno != EMSGSIZE) {
        if (errno == EAGAIN || errno == EINTR) continue;
        error = std::string("IPMICTL_RECEIVE_MSG_TRUNC: ") + std::strerror(errno);
        return std::nullopt;
      }
      // Events and answers to earlier, timed-out requests are not ours.
      if (recv.recv_type != IPMI_RESPONSE_RECV_TYPE || recv.msgid != req.msgid) continue;
      ipmi::Response r;
      if (recv.msg.data_len == 0) {
        error = "empty answer";
        return std::nullopt;
      }
      r.completion = buf[0];
      r.data.assign(buf + 1, buf + recv.msg.data_len);
      return r;
    }
  }

  int fd_;
  long msgid_ = 0;
};

// Answer to one request, or an error naming the command.
std::optional<ipmi::Response> ask(IpmiTransport& bmc, const ipmi::Request& request, const char* what,
                                  std::string& error) {
  std::string e;
  auto r = bmc.call(request, e);
  if (!r) {
    error = std::string(what) + ": " + e;
    return std::nullopt;
  }
  return r;
}

bool ok(IpmiTransport& bmc, const ipmi::Request& request, const char* what, std::string& error) {
  auto r = ask(bmc, request, what, error);
  if (!r) return false;
  if (r->completion != 0) {
    error = std::string(what) + ": " + ipmi::completion_text(r->completion);
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<IpmiTransport> open_ipmi_device(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    error = "open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::make_unique<DevIpmi>(fd);
}

std::optional<BmcLan> read_bmc_lan(IpmiTransport& bmc, std::string& error) {
  std::optional<std::uint8_t> lan;
  for (std::uint8_t ch = 1; ch <= 0x0b && !lan; ++ch) {
    std::string e;
    auto r = bmc.call(ipmi::get_channel_info(ch), e);
    if (!r) {
      error = "Get Channel Info: " + e;
      return std::nullopt;
    }
    if (auto info = ipmi::parse_channel_info(*r); info && info->medium == ipmi::kMedium8023Lan) lan = ch;
  }
  if (!lan) {
    error = "no 802.3 LAN channel";
    return std::nullopt;
  }
  BmcLan out;
  out.channel = *lan;
  auto param = [&](ipmi::LanParam p) { return ask(bmc, ipmi::get_lan_config(*lan, p), "Get LAN Configuration", error); };
  // Each parameter is optional: a BMC that does not know one still reports the others.
  if (auto r = param(ipmi::LanParam::ip_source)) out.ip_source = ipmi::parse_ip_source(*r).value_or("");
  if (auto r = param(ipmi::LanParam::ip_address)) out.address = ipmi::parse_ipv4(*r).value_or("");
  if (auto r = param(ipmi::LanParam::netmask)) out.netmask = ipmi::parse_ipv4(*r).value_or("");
  if (auto r = param(ipmi::LanParam::gateway)) out.gateway = ipmi::parse_ipv4(*r).value_or("");
  if (auto r = param(ipmi::LanParam::mac_address)) out.mac = ipmi::parse_mac(*r).value_or("");
  if (out.address.empty() && out.mac.empty()) {
    if (error.empty()) error = "LAN channel " + std::to_string(*lan) + " reports neither address nor MAC";
    return std::nullopt;
  }
  error.clear();
  return out;
}

BmcUserSetup setup_bmc_user(IpmiTransport& bmc, unsigned channel, const std::string& name, const std::string& password) {
  BmcUserSetup out;
  const auto ch = static_cast<std::uint8_t>(channel);
  auto access = ask(bmc, ipmi::get_user_access(ch, 1), "Get User Access", out.error);
  if (!access) return out;
  auto limits = ipmi::parse_user_access(*access);
  if (!limits) {
    out.error = "Get User Access: " + ipmi::completion_text(access->completion);
    return out;
  }
  // Slot 1 is the anonymous user (fixed, nameless); look at the others.
  unsigned free_slot = 0;
  for (unsigned id = 2; id <= limits->max_users && out.user_id == 0; ++id) {
    std::string e;
    auto r = bmc.call(ipmi::get_user_name(static_cast<std::uint8_t>(id)), e);
    if (!r) {
      out.error = "Get User Name: " + e;
      return out;
    }
    auto slot_name = ipmi::parse_user_name(*r);
    if (!slot_name) continue;
    if (*slot_name == name) {
      out.user_id = id;
      out.reused = true;
    } else if (slot_name->empty() && free_slot == 0) {
      free_slot = id;
    }
  }
  if (out.user_id == 0) {
    if (free_slot == 0) {
      out.error = "no free user slot among " + std::to_string(limits->max_users);
      return out;
    }
    out.user_id = free_slot;
    if (!ok(bmc, ipmi::set_user_name(static_cast<std::uint8_t>(out.user_id), name), "Set User Name", out.error))
      return out;
  }
  const auto uid = static_cast<std::uint8_t>(out.user_id);
  if (!ok(bmc, ipmi::set_user_password(uid, ipmi::PasswordOp::set_password, password), "Set User Password", out.error) ||
      !ok(bmc, ipmi::set_user_access(ch, uid, ipmi::kPrivilegeAdministrator), "Set User Access", out.error) ||
      !ok(bmc, ipmi::set_user_password(uid, ipmi::PasswordOp::enable_user), "Set User Password (enable)", out.error))
    return out;
  return out;
}

std::string password_from_random(std::span<const std::uint8_t> random, std::size_t length) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  constexpr unsigned kSize = sizeof kAlphabet - 1;       // 62
  constexpr unsigned kLimit = 256 / kSize * kSize;       // 248: bytes >= this would bias
  std::string out;
  for (auto b : random) {
    if (out.size() == length) break;
    if (b < kLimit) out.push_back(kAlphabet[b % kSize]);
  }
  return out.size() == length ? out : "";
}

std::string random_bmc_password() {
  std::vector<std::uint8_t> bytes(64);
  std::size_t got = 0;
  while (got < bytes.size()) {
    auto n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "";
    got += static_cast<std::size_t>(n);
  }
  return password_from_random(bytes, 16);
}

}  // namespace ironboot::agent
