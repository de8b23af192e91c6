#include "dhcp/policy.hpp"

#include <array>

#include "common/config.hpp"

namespace ironboot::dhcp {

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::none: return "none";
    case DropReason::malformed: return "malformed";
    case DropReason::too_many_options: return "too_many_options";
    case DropReason::not_boot_request: return "not_boot_request";
    case DropReason::no_message_type: return "no_message_type";
    case DropReason::not_discover_or_request: return "not_discover_or_request";
    case DropReason::not_pxe_client: return "not_pxe_client";
    case DropReason::no_client_arch: return "no_client_arch";
    case DropReason::bad_client_uuid: return "bad_client_uuid";
    case DropReason::discover_on_pxe_port: return "discover_on_pxe_port";
    case DropReason::request_for_other_server: return "request_for_other_server";
    case DropReason::unsupported_arch: return "unsupported_arch";
    case DropReason::oversize: return "oversize";
    case DropReason::no_local_address: return "no_local_address";
    case DropReason::count_: break;
  }
  return "unknown";
}

const char* to_string(BootKind k) {
  switch (k) {
    case BootKind::none: return "none";
    case BootKind::tftp_file: return "tftp";
    case BootKind::http_binary: return "http";
    case BootKind::ipxe_script: return "ipxe_script";
  }
  return "unknown";
}

std::optional<PolicyConfig> policy_config_from(const Config& config, std::string* error) {
  PolicyConfig pc;
  pc.bios = config.boot.binaries.bios;
  pc.efi_x86_64 = config.boot.binaries.efi_x86_64;
  pc.efi_arm64 = config.boot.binaries.efi_arm64;
  if (!config.advertise_address.empty()) {
    pc.advertise = parse_ipv4(config.advertise_address);
    if (!pc.advertise) {
      if (error) *error = "advertise_address '" + config.advertise_address + "' is not an IPv4 address";
      return std::nullopt;
    }
  }
  const auto listen = parse_listen(config.http.listen);
  if (!listen) {
    if (error) *error = "http.listen '" + config.http.listen + "' is not host:port";
    return std::nullopt;
  }
  pc.http_port = listen->port;
  return pc;
}

std::string_view binary_for_arch(const PolicyConfig& c, std::uint16_t arch) {
  switch (arch) {
    case 0: return c.bios;           // x86 BIOS
    case 6:                          // EFI IA32 (given the x86-64 binary, docs/dhcp.md)
    case 7:                          // EFI x86-64
    case 9:                          // EFI x86-64 (EFI BC, some firmwares)
    case 16: return c.efi_x86_64;    // x86-64 UEFI HTTP
    case 10:                         // EFI ARM32 (given the arm64 binary, docs/dhcp.md)
    case 11:                         // EFI ARM64
    case 19: return c.efi_arm64;     // ARM64 UEFI HTTP
    default: return {};
  }
}

std::string ipxe_script_url(Ipv4 host, std::uint16_t port) {
  return "http://" + host.to_string() + ":" + std::to_string(port) + "/boot.ipxe";
}

std::string binary_url(Ipv4 host, std::uint16_t port, std::string_view file) {
  std::string url = "http://" + host.to_string() + ":" + std::to_string(port) + "/assets/tftp/";
  url += file;
  return url;
}

namespace {

constexpr std::string_view kPxeClient = "PXEClient";
constexpr std::string_view kHttpClient = "HTTPClient";

void copy_request_fields(const Message& req, Message& reply) {
  reply.op = kBootReply;
  reply.htype = req.htype;
  reply.hlen = req.hlen;
  reply.hops = 0;
  reply.xid = req.xid;
  reply.secs = 0;
  reply.flags = req.flags;
  reply.ciaddr = Ipv4{};
  reply.yiaddr = Ipv4{};  // a proxy never assigns addresses
  reply.giaddr = req.giaddr;
  reply.chaddr = req.chaddr;
  reply.sname.fill(0);
  reply.file.fill(0);
  reply.overloaded = 0;
}

}  // namespace

Decision answer(const Message& req, const Receipt& receipt, const PolicyConfig& config, Message& reply) {
  Decision d;
  const auto drop = [&d](DropReason r) {
    d.reason = r;
    return d;
  };
  if (req.op != kBootRequest) return drop(DropReason::not_boot_request);
  const auto type = message_type(req);
  if (!type) return drop(DropReason::no_message_type);
  if (*type != MessageType::discover && *type != MessageType::request) return drop(DropReason::not_discover_or_request);

  const auto vendor = vendor_class(req);
  const bool http = vendor && vendor->starts_with(kHttpClient);
  if (!vendor || (!http && !vendor->starts_with(kPxeClient))) return drop(DropReason::not_pxe_client);
  const auto arches = client_architectures(req);
  if (!arches) return drop(DropReason::no_client_arch);
  d.arch = arches->first();
  const auto uuid = client_uuid(req);
  if (uuid && !client_uuid_well_formed(*uuid)) return drop(DropReason::bad_client_uuid);

  if (*type == MessageType::discover) {
    if (receipt.on_pxe_port) return drop(DropReason::discover_on_pxe_port);
    d.reply_type = MessageType::offer;
  } else {
    // On 67 a REQUEST normally selects the site server's offer; it is ours only when it
    // names us. On 4011 it is addressed to us by definition.
    if (!receipt.on_pxe_port) {
      const auto sid = server_identifier(req);
      if (!sid || *sid != receipt.local_address) return drop(DropReason::request_for_other_server);
    }
    d.reply_type = MessageType::ack;
  }

  const Ipv4 advertise = config.advertise.value_or(receipt.local_address);
  std::string url;  // only HTTP answers build one
  std::string_view boot;
  if (user_classes(req).contains("iPXE")) {
    // Already running iPXE: a binary would chainload it forever; give it the script.
    d.kind = BootKind::ipxe_script;
    boot = url = ipxe_script_url(advertise, config.http_port);
  } else {
    const std::string_view binary = binary_for_arch(config, d.arch);
    if (binary.empty()) return drop(DropReason::unsupported_arch);
    if (http) {
      d.kind = BootKind::http_binary;
      boot = url = binary_url(advertise, config.http_port, binary);
    } else {
      d.kind = BootKind::tftp_file;
      boot = binary;
    }
  }

  reply.options.clear();
  copy_request_fields(req, reply);
  if (d.reply_type == MessageType::ack) reply.ciaddr = req.ciaddr;
  reply.siaddr = receipt.local_address;
  const std::string server_name = receipt.local_address.to_string();
  reply.set_sname(server_name);
  reply.set_file(boot);  // left empty when too long: option 67 carries it in full

  set_message_type(reply, d.reply_type);
  set_server_identifier(reply, receipt.local_address);
  reply.options.set(opt::vendor_class, http ? kHttpClient : kPxeClient);
  reply.options.set(opt::tftp_server_name, server_name);
  reply.options.set(opt::bootfile_name, boot);
  if (!http && d.arch == 0) {
    // BIOS PXE: boot `file` directly, no discovery, no menu.
    const std::uint8_t control = pxe::kUseBootFile;
    const std::array<SubOption, 1> subs{SubOption{pxe::discovery_control, Bytes(&control, 1)}};
    set_suboptions(reply, opt::vendor_specific, subs);
  }
  if (uuid) reply.options.set(opt::client_uuid, *uuid);
  return d;
}

Destination reply_destination(const Message& req, const Receipt& receipt) {
  if (req.giaddr.value != 0) return {req.giaddr, 67, false};
  if (receipt.on_pxe_port && receipt.source_address.value != 0) {
    return {receipt.source_address, receipt.source_port, false};
  }
  if (req.ciaddr.value != 0) return {req.ciaddr, 68, false};
  return {Ipv4{0xffffffff}, 68, true};
}

}  // namespace ironboot::dhcp
