// The proxyDHCP service: UDP dhcp.port (67) and dhcp.pxe_port (4011) on `interface`.
// Kept free of Asio so src/app includes it cheaply.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_set>

#include "common/service.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot {

struct Config;

std::unique_ptr<Service> make_dhcp_service(boost::asio::io_context& io, const Config& config);

namespace dhcp {

// Remembers which keys (MACs) were already reported, so a client retrying every few seconds
// is logged once. Bounded: forgets everything when full, so it cannot grow without limit.
class OncePerKey {
 public:
  explicit OncePerKey(std::size_t capacity = 4096) : capacity_(capacity) {}
  // True the first time a key is seen (since the last reset).
  bool first(std::uint64_t key) {
    if (seen_.contains(key)) return false;
    if (seen_.size() >= capacity_) seen_.clear();
    seen_.insert(key);
    return true;
  }
  void reset() { seen_.clear(); }

 private:
  std::size_t capacity_;
  std::unordered_set<std::uint64_t> seen_;
};

}  // namespace dhcp
}  // namespace ironboot
