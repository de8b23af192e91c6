// libFuzzer target for the DHCP codec and the proxy policy: parse arbitrary bytes; whatever
// parses must serialise, re-parse to the same options, and go through the policy safely.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dhcp/message.hpp"
#include "dhcp/policy.hpp"

using namespace ironboot::dhcp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Message request, again, reply;
  if (parse(std::span(data, size), request) != ParseError::ok) return 0;
  const auto wire = serialize(request);
  if (wire.size() < kMinBootpSize) std::abort();
  if (parse(wire, again) != ParseError::ok || !(again.options == request.options) || again.xid != request.xid) {
    std::abort();
  }
  // Typed accessors on hostile values.
  (void)user_classes(request);
  (void)pxe_boot_item(request);
  (void)ipxe_has_feature(request, ipxe_feature::http);
  PolicyConfig config;
  config.bios = "undionly.kpxe";
  config.efi_x86_64 = "ipxe.efi";
  config.efi_arm64 = "snp.efi";
  for (const bool pxe_port : {false, true}) {
    const Receipt receipt{ironboot::Ipv4{0x0a000001}, pxe_port, ironboot::Ipv4{0x0a000002}, 68};
    const Decision d = answer(request, receipt, config, reply);
    if (d.answered()) {
      const auto out = serialize(reply);
      if (parse(out, again) != ParseError::ok || reply.yiaddr.value != 0) std::abort();
      (void)reply_destination(request, receipt);
    }
  }
  return 0;
}
