#include "machine.hpp"

#include "agent/wire.hpp"
#include "dhcp/message.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <random>

namespace ironboot::storm {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

const char* phase_name(Phase p) {
  static constexpr const char* kNames[] = {"dhcp",   "pxe_request", "tftp", "dhcp_ipxe", "boot_ipxe", "ipxe",  "kernel",
                                           "initrd", "register",    "poll", "accept",    "wipe_order", "wiped"};
  static_assert(std::size(kNames) == static_cast<std::size_t>(Phase::count_));
  return kNames[static_cast<int>(p)];
}

namespace {

struct Identity {
  std::array<std::uint8_t, 16> uuid{};
  std::array<std::uint8_t, 6> mac{};
  std::string uuid_text, mac_text;
};

Identity identity(std::uint32_t seed, std::uint32_t index) {
  Identity id;
  std::mt19937_64 rng((std::uint64_t{seed} << 32) | index);
  for (std::size_t i = 0; i < 16; i += 8) {
    const std::uint64_t r = rng();
    for (std::size_t b = 0; b < 8; ++b) id.uuid[i + b] = static_cast<std::uint8_t>(r >> (8 * b));
  }
  id.uuid[6] = static_cast<std::uint8_t>((id.uuid[6] & 0x0f) | 0x40);
  id.uuid[8] = static_cast<std::uint8_t>((id.uuid[8] & 0x3f) | 0x80);
  // Locally administered, unicast; round and index make it unique.
  id.mac = {0x0e, static_cast<std::uint8_t>(seed), static_cast<std::uint8_t>(seed >> 8),
            static_cast<std::uint8_t>(index >> 16), static_cast<std::uint8_t>(index >> 8),
            static_cast<std::uint8_t>(index)};
  const auto& u = id.uuid;
  id.uuid_text = fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
                             "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
                             u[13], u[14], u[15]);
  id.mac_text = fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", id.mac[0], id.mac[1], id.mac[2],
                            id.mac[3], id.mac[4], id.mac[5]);
  return id;
}

// What the firmware's (or iPXE's) DHCP sends: PXE options 60/93/94/97, and 77/175 for iPXE.
std::vector<std::uint8_t> pxe_packet(const Identity& id, std::uint32_t xid, bool uefi, bool ipxe,
                                     dhcp::MessageType type, net::ip::address_v4 ciaddr,
                                     std::optional<dhcp::PxeBootItem> boot_item) {
  dhcp::Message m;
  m.xid = xid;
  m.flags = ciaddr.is_unspecified() ? dhcp::kBroadcastFlag : 0;
  m.ciaddr.value = ciaddr.to_uint();
  std::copy(id.mac.begin(), id.mac.end(), m.chaddr.begin());
  dhcp::set_message_type(m, type);
  const std::uint8_t prl[] = {1, 3, 6, 43, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135, 175};
  m.options.set(dhcp::opt::parameter_request_list, dhcp::Bytes(prl));
  const std::uint16_t arch = uefi ? 7 : 0;
  dhcp::set_client_architectures(m, std::span<const std::uint16_t>(&arch, 1));
  dhcp::set_client_ndi(m, uefi ? dhcp::ClientNdi{1, 3, 16} : dhcp::ClientNdi{1, 2, 1});
  m.options.set(dhcp::opt::vendor_class,
                uefi ? std::string_view("PXEClient:Arch:00007:UNDI:003016") : std::string_view("PXEClient:Arch:00000:UNDI:002001"));
  std::array<std::uint8_t, 17> guid{};
  std::copy(id.uuid.begin(), id.uuid.end(), guid.begin() + 1);
  m.options.set(dhcp::opt::client_uuid, dhcp::Bytes(guid));
  if (ipxe) {
    const std::string_view classes[] = {"iPXE"};
    dhcp::set_user_classes(m, classes);
    const std::uint8_t on[] = {1};
    const dhcp::SubOption features[] = {{dhcp::ipxe_feature::http, dhcp::Bytes(on)}};
    dhcp::set_suboptions(m, dhcp::opt::ipxe_encap, features);
  }
  if (boot_item) {
    const std::uint8_t item[] = {static_cast<std::uint8_t>(boot_item->type >> 8),
                                 static_cast<std::uint8_t>(boot_item->type),
                                 static_cast<std::uint8_t>(boot_item->layer >> 8),
                                 static_cast<std::uint8_t>(boot_item->layer)};
    const dhcp::SubOption subs[] = {{dhcp::pxe::boot_item, dhcp::Bytes(item)}};
    dhcp::set_suboptions(m, dhcp::opt::vendor_specific, subs);
  }
  return dhcp::serialize(m);
}

struct ProxyAnswer {
  std::string file;  // the `file` field, else option 67
  net::ip::address_v4 next_server;
  std::optional<dhcp::PxeBootItem> menu_item;  // the first item of a PXE boot menu (43.9)
};

// A proxy answer of `type`: no address offered, a boot file or a boot menu.
// `own` is the client's address: a boot server's ACK on 4011 may name it (dnsmasq does).
std::optional<ProxyAnswer> proxy_answer(const std::vector<std::uint8_t>& bytes, dhcp::MessageType type,
                                        std::string& why, net::ip::address_v4 own = {}) {
  auto m = dhcp::parse(dhcp::Bytes(bytes));
  if (!m) {
    why = "unparsable reply";
    return std::nullopt;
  }
  if (dhcp::message_type(*m) != type) {
    why = std::string("reply type ") + (dhcp::message_type(*m) ? dhcp::to_string(*dhcp::message_type(*m)) : "none");
    return std::nullopt;
  }
  if (m->yiaddr.value != 0 && m->yiaddr.value != own.to_uint()) {
    why = "reply offers an address (not a proxy)";
    return std::nullopt;
  }
  ProxyAnswer a;
  a.file = std::string(m->file_text());
  if (a.file.empty()) a.file = std::string(dhcp::bootfile_name(*m).value_or(""));
  a.next_server = net::ip::address_v4(m->siaddr.value);
  if (auto vendor = m->options.get(dhcp::opt::vendor_specific)) {
    if (auto menu = dhcp::find_suboption(*vendor, 9); menu && menu->size() >= 3) {
      a.menu_item = dhcp::PxeBootItem{static_cast<std::uint16_t>(((*menu)[0] << 8) | (*menu)[1]), 0};
    }
  }
  return a;
}

agent::Facts realistic_facts(const Identity& id, bool uefi, net::ip::address_v4 address, std::uint32_t index) {
  agent::Facts f;
  f.boot_mode = uefi ? "UEFI" : "BIOS";
  f.boot_mac = id.mac_text;
  auto& h = f.hardware;
  h.system = {id.uuid_text, "Dell Inc.", "PowerEdge R6525", "", fmt::format("SN{:06d}", index), "SKU=0A3B", "PowerEdge"};
  for (int s = 0; s < 2; ++s)
    h.processors.push_back({"AMD", "AMD EPYC 7543 32-Core Processor", "", 2800, 32, 64});
  h.total_cores = 64;
  h.total_threads = 128;
  for (int slot = 0; slot < 16; ++slot)
    h.memory.push_back({"Samsung", "M393A4K40DB3-CWE", fmt::format("{:08X}", index * 16 + slot), "DDR4",
                        fmt::format("DIMM_{}{}", static_cast<char>('A' + slot / 8), slot % 8), 32768, 3200});
  h.memory_total_mb = 16 * 32768;
  for (int d = 0; d < 2; ++d)
    h.disks.push_back({"NVMe", 960197124096, "Dell Ent NVMe CM6 RI 960GB", fmt::format("S5WENA0R{:06d}{}", index, d),
                       fmt::format("nvme{}n1", d), fmt::format("/dev/nvme{}n1", d), "", fmt::format("eui.36344730526{:05d}{}", index, d)});
  for (int d = 0; d < 2; ++d)
    h.disks.push_back({"SSD", 480103981056, "MZ7KH480HAHQ0D3", fmt::format("S47MNA0N{:06d}{}", index, d),
                       fmt::format("sd{}", static_cast<char>('a' + d)), fmt::format("/dev/sd{}", static_cast<char>('a' + d)),
                       "", fmt::format("naa.5002538e{:08x}", index * 2 + static_cast<std::uint32_t>(d))});
  const std::string addr = address.to_string() + "/16";
  h.interfaces.push_back({1, "lo", "up|loopback", "00:00:00:00:00:00", 65536, true, {"127.0.0.1/8"}});
  h.interfaces.push_back({2, "eno1", "up|broadcast|multicast", id.mac_text, 1500, true, {addr}});
  for (std::uint32_t n = 3; n <= 4; ++n)
    h.interfaces.push_back({n, fmt::format("eno{}", n - 1), "broadcast|multicast",
                            fmt::format("0e:00:{:02x}:{:02x}:{:02x}:{:02x}", index >> 16 & 0xff, index >> 8 & 0xff, index & 0xff, n), 1500, false, {}});
  f.firmware = {"Dell Inc.", "2.9.3", "09/13/2022"};
  f.baseboard = {"Dell Inc.", "0GWC0X", "A03", fmt::format(".SN{:06d}.CNCMS0022.", index), "", 0};
  f.chassis = {"Dell Inc.", "", "", fmt::format("SN{:06d}", index), "", 23};
  static constexpr const char* kPci[][4] = {
      {"1022", "1480", "060000", "Host bridge"},           {"1022", "1482", "060000", "Host bridge"},
      {"1022", "1483", "060400", "PCI bridge"},            {"1022", "148a", "130000", "Non-Essential Instrumentation"},
      {"1022", "1498", "108000", "Encryption controller"}, {"1022", "148c", "0c0330", "USB controller"},
      {"1022", "7901", "010601", "SATA controller"},       {"144d", "a824", "010802", "Non-Volatile memory controller"},
      {"144d", "a824", "010802", "Non-Volatile memory controller"}, {"14e4", "165f", "020000", "Ethernet controller"},
      {"14e4", "165f", "020000", "Ethernet controller"},   {"15b3", "101d", "020000", "Ethernet controller"},
      {"15b3", "101d", "020000", "Ethernet controller"},   {"102b", "0536", "030000", "VGA compatible controller"},
      {"1000", "10e2", "010400", "RAID bus controller"},   {"1022", "790b", "0c0500", "SMBus"}};
  int slot = 0;
  for (const auto& p : kPci)
    f.pci.push_back({fmt::format("0000:{:02x}:{:02x}.0", 0x40 + slot / 8, slot % 8), p[0], p[1], p[2], p[3]}), ++slot;
  return f;
}

// "kernel URL args… || goto failed" -> the URL's path and the arguments.
struct KernelLine {
  std::string kernel_path, initrd_path, args;
};

std::string url_path(std::string_view url) {
  if (url.starts_with("http://")) {
    const auto slash = url.find('/', 7);
    return slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  }
  return std::string(url);
}

std::optional<KernelLine> parse_kernel_script(std::string_view script) {
  KernelLine k;
  std::size_t pos = 0;
  while (pos < script.size()) {
    auto end = script.find('\n', pos);
    if (end == std::string_view::npos) end = script.size();
    std::string_view line = script.substr(pos, end - pos);
    pos = end + 1;
    if (const auto alt = line.find(" ||"); alt != std::string_view::npos) line = line.substr(0, alt);
    const bool is_kernel = line.starts_with("kernel ");
    if (!is_kernel && !line.starts_with("initrd ")) continue;
    line.remove_prefix(7);
    const auto space = line.find(' ');
    const std::string path = url_path(line.substr(0, space));
    if (is_kernel) {
      k.kernel_path = path;
      if (space != std::string_view::npos) k.args = std::string(line.substr(space + 1));
    } else {
      k.initrd_path = path;
    }
  }
  if (k.kernel_path.empty() || k.initrd_path.empty()) return std::nullopt;
  return k;
}

struct AcceptOutcome {
  bool done = false;
  HttpReply reply;
  double ms = 0;
  unsigned not_found = 0;  // 404 answers before the Server existed
};

net::awaitable<void> accept_server(StormContext& ctx, std::string name, std::shared_ptr<AcceptOutcome> out) {
  const auto start = Clock::now();
  // The register's answer can come before its Server is written (the create is queued): an
  // operator waits for the Server to show up, so a 404 is asked again for up to 10 s.
  net::steady_timer pause(ctx.io);
  for (int attempt = 0; attempt < 100; ++attempt) {
    out->reply = co_await api_merge_patch(ctx.io, ctx.api_tls, ctx.settings.api,
                                          "/apis/metal.sidero.dev/v1alpha2/servers/" + name,
                                          R"({"spec":{"accepted":true}})", ctx.settings.api_token,
                                          ctx.settings.http_timeout);
    if (out->reply.status != 404) break;
    ++out->not_found;
    pause.expires_after(Millis(100));
    auto [ec] = co_await pause.async_wait(net::as_tuple(net::use_awaitable));
    (void)ec;
  }
  out->ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  out->done = true;
}

// Fraction `share` of machines, spread evenly over the indices.
bool in_share(std::uint32_t index, double share, std::uint32_t salt) {
  const std::uint32_t h = (index * 2654435761u) ^ (salt * 40503u);
  return static_cast<double>(h % 10000) < share * 10000.0;
}

// Phase times and the outcome of one machine's boot.
class Recorder {
 public:
  explicit Recorder(MachineResult& r) : r_(r), start_(Clock::now()), mark_(start_) {}
  void done(Phase p) {
    const auto now = Clock::now();
    r_.phases.emplace_back(p, std::chrono::duration<double, std::milli>(now - mark_).count());
    mark_ = now;
  }
  void restart_phase() { mark_ = Clock::now(); }
  void finish() { r_.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start_).count(); }
  MachineResult fail(Phase p, std::string why) {
    r_.failed_phase = phase_name(p);
    r_.error = std::move(why);
    finish();
    return r_;
  }

 private:
  MachineResult& r_;
  Clock::time_point start_, mark_;
};

}  // namespace

// GCC 12 reports the frame's own operator delete as mismatched for this long coroutine
// (a false positive: Asio's awaitable frame pairs its new and delete).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
net::awaitable<MachineResult> boot_machine(StormContext& ctx, std::uint32_t index) {
  const StormSettings& s = ctx.settings;
  MachineResult r;
  const Identity id = identity(s.seed, index);
  r.uuid = id.uuid_text;
  r.mac = id.mac_text;
  r.uefi = in_share(index, s.uefi_share, 1);
  const bool windowed = in_share(index, s.window_share, 2);
  r.accepted = s.agent && in_share(index, s.accept_share, 3);
  const net::ip::address_v4 address(s.first_address.to_uint() + index);
  Recorder rec(r);
  const udp::endpoint dhcp_to(net::ip::address_v4::broadcast(), s.dhcp_server_port);

  std::string boot_path = s.boot_ipxe_url_path;
  // Without PXE the machine starts at /boot.ipxe: the HTTP part of the storm alone.
  if (s.pxe) {
    // Firmware PXE: DISCOVER -> proxy OFFER.
    // xids unique within the storm (the hub hands replies out by xid): index and exchange in
    // the low bits, the round in the high ones.
    auto next_xid = [&, exchange = 0u]() mutable { return (s.seed << 24) ^ ((index << 2) | exchange++); };
    std::uint32_t xid = next_xid();
    auto offer_bytes = co_await ctx.hub.exchange(
        pxe_packet(id, xid, r.uefi, false, dhcp::MessageType::discover, {}, std::nullopt), xid, dhcp_to, s.dhcp_retry,
        r.dhcp_resends);
    if (!offer_bytes) co_return rec.fail(Phase::dhcp, "no proxy OFFER");
    std::string why;
    auto offer = proxy_answer(*offer_bytes, dhcp::MessageType::offer, why);
    if (!offer) co_return rec.fail(Phase::dhcp, why);
    rec.done(Phase::dhcp);

    // UEFI firmware asks the boot server on 4011; so does a BIOS ROM offered only a menu.
    if (r.uefi || offer->file.empty()) {
      xid = next_xid();
      const net::ip::address_v4 boot_server = offer->next_server.is_unspecified() ? s.server : offer->next_server;
      std::optional<dhcp::PxeBootItem> item = offer->menu_item;
      auto ack_bytes = co_await udp_exchange(
          ctx.io, address, pxe_packet(id, xid, r.uefi, false, dhcp::MessageType::request, address, item), xid,
          udp::endpoint(boot_server, s.pxe_port), s.dhcp_retry, r.dhcp_resends);
      if (!ack_bytes) co_return rec.fail(Phase::pxe_request, "no ACK on the PXE port");
      auto ack = proxy_answer(*ack_bytes, dhcp::MessageType::ack, why, address);
      if (!ack) co_return rec.fail(Phase::pxe_request, why);
      if (!ack->file.empty()) offer->file = ack->file;
      if (!ack->next_server.is_unspecified()) offer->next_server = ack->next_server;
      rec.done(Phase::pxe_request);
    }
    if (offer->file.empty()) co_return rec.fail(Phase::dhcp, "no boot file offered");

    // TFTP of the iPXE binary.
    const net::ip::address_v4 tftp_server = offer->next_server.is_unspecified() ? s.server : offer->next_server;
    TftpResult t = co_await tftp_get(ctx.io, address, udp::endpoint(tftp_server, s.tftp_port), offer->file,
                                     s.blksize, windowed ? s.windowsize : 1, s.tftp_timeout, s.tftp_attempts);
    r.tftp_bytes = t.bytes;
    r.tftp_resends = t.resends;
    if (!t.error.empty()) co_return rec.fail(Phase::tftp, "TFTP " + offer->file + ": " + t.error);
    if (t.bytes == 0) co_return rec.fail(Phase::tftp, "TFTP " + offer->file + ": empty");
    rec.done(Phase::tftp);

    // iPXE runs: its own DHCP, answered with the /boot.ipxe URL.
    if (s.ipxe_dhcp) {
      xid = next_xid();
      auto bytes = co_await ctx.hub.exchange(
          pxe_packet(id, xid, r.uefi, true, dhcp::MessageType::discover, {}, std::nullopt), xid, dhcp_to, s.dhcp_retry,
          r.dhcp_resends);
      if (!bytes) co_return rec.fail(Phase::dhcp_ipxe, "no proxy OFFER for iPXE");
      auto ipxe_offer = proxy_answer(*bytes, dhcp::MessageType::offer, why);
      if (!ipxe_offer) co_return rec.fail(Phase::dhcp_ipxe, why);
      if (!ipxe_offer->file.starts_with("http://")) co_return rec.fail(Phase::dhcp_ipxe, "iPXE offered " + ipxe_offer->file);
      boot_path = url_path(ipxe_offer->file);
      rec.done(Phase::dhcp_ipxe);
    }
  }

  HttpConnection conn(ctx.io, address, tcp::endpoint(s.server, s.http_port));
  HttpReply reply = co_await conn.request(http::verb::get, boot_path, "", "", s.http_timeout);
  r.http_bytes += reply.body_bytes;
  if (!reply.error.empty() || reply.status != 200) co_return rec.fail(Phase::boot_ipxe, reply.error.empty() ? fmt::format("status {}", reply.status) : reply.error);
  if (!reply.body.starts_with("#!ipxe") || reply.body.find("/ipxe?") == std::string::npos)
    co_return rec.fail(Phase::boot_ipxe, "not the first-stage script");
  rec.done(Phase::boot_ipxe);

  std::string mac_hyphens = id.mac_text;
  std::replace(mac_hyphens.begin(), mac_hyphens.end(), ':', '-');
  const std::string query = fmt::format("/ipxe?uuid={}&mac={}&arch=x86_64&platform={}&serial=SN{:06d}&manufacturer=Dell%20Inc.&product=PowerEdge%20R6525",
                                        id.uuid_text, mac_hyphens, r.uefi ? "efi" : "pcbios", index);
  reply = co_await conn.request(http::verb::get, query, "", "", s.http_timeout);
  r.http_bytes += reply.body_bytes;
  if (!reply.error.empty() || reply.status != 200) co_return rec.fail(Phase::ipxe, reply.error.empty() ? fmt::format("status {}", reply.status) : reply.error);
  auto kernel = parse_kernel_script(reply.body);
  if (!kernel) co_return rec.fail(Phase::ipxe, "no kernel/initrd in: " + reply.body.substr(0, 200));
  rec.done(Phase::ipxe);

  const std::array<Phase, 2> downloads = {Phase::kernel, Phase::initrd};
  r.download_start = std::chrono::steady_clock::now();
  for (Phase p : downloads) {
    const std::string& path = p == Phase::kernel ? kernel->kernel_path : kernel->initrd_path;
    reply = co_await conn.request(http::verb::get, path, "", "", s.http_timeout, /*keep_body=*/false);
    r.http_bytes += reply.body_bytes;
    r.download_bytes += reply.body_bytes;
    if (!reply.error.empty() || reply.status != 200) co_return rec.fail(p, reply.error.empty() ? fmt::format("status {}", reply.status) : reply.error);
    if (reply.body_bytes == 0) co_return rec.fail(p, "empty body");
    rec.done(p);
  }
  r.download_end = std::chrono::steady_clock::now();
  if (!s.agent) {
    rec.finish();
    co_return r;
  }

  // The agent, booted: register with the boot token of this boot's kernel command line.
  const agent::Cmdline cmdline = agent::parse_cmdline(kernel->args);
  if (cmdline.token.empty()) co_return rec.fail(Phase::reg, "no ironboot.token= in the agent script");
  if (cmdline.mac != id.mac_text) co_return rec.fail(Phase::reg, "ironboot.mac= is " + cmdline.mac);
  reply = co_await conn.request(http::verb::post, "/agent/v1/register",
                                agent::register_body(realistic_facts(id, r.uefi, address, index)), cmdline.token,
                                s.http_timeout);
  if (!reply.error.empty() || reply.status != 200) co_return rec.fail(Phase::reg, reply.error.empty() ? fmt::format("status {}: {}", reply.status, reply.body.substr(0, 200)) : reply.error);
  agent::InstructionResult registered = agent::parse_instruction_body(reply.body);
  if (!registered.instruction || registered.session.empty()) co_return rec.fail(Phase::reg, "register answer: " + registered.error);
  r.server = registered.server;
  const std::string session = registered.session;
  rec.done(Phase::reg);

  if (!r.accepted) {
    reply = co_await conn.request(http::verb::get, fmt::format("/agent/v1/instructions?wait={}", s.poll_seconds), "",
                                  session, s.http_timeout);
    if (!reply.error.empty() || reply.status != 200) co_return rec.fail(Phase::poll, reply.error.empty() ? fmt::format("status {}", reply.status) : reply.error);
    auto instruction = agent::parse_instruction_body(reply.body);
    if (!instruction.instruction || instruction.instruction->action != agent::Action::wait)
      co_return rec.fail(Phase::poll, "expected wait: " + reply.body.substr(0, 200));
    rec.done(Phase::poll);
    rec.finish();
    co_return r;
  }

  // The operator accepts while the agent's long-poll is pending: the poll answers wipe.
  auto accepted = std::make_shared<AcceptOutcome>();
  net::co_spawn(ctx.io, accept_server(ctx, r.server, accepted), net::detached);
  const auto poll_start = Clock::now();
  reply = co_await conn.request(http::verb::get, "/agent/v1/instructions?wait=30", "", session, s.http_timeout);
  // The poll may wake before the PATCH's answer has reached us.
  net::steady_timer pause(ctx.io);
  for (int waited = 0; !accepted->done && waited < 30000; waited += 10) {
    pause.expires_after(Millis(10));
    auto [ec] = co_await pause.async_wait(net::as_tuple(net::use_awaitable));
    (void)ec;
  }
  if (!accepted->done) co_return rec.fail(Phase::accept, "no answer to the accept");
  if (!accepted->reply.error.empty() || accepted->reply.status != 200)
    co_return rec.fail(Phase::accept, accepted->reply.error.empty() ? fmt::format("status {}: {}", accepted->reply.status, accepted->reply.body.substr(0, 200)) : accepted->reply.error);
  r.phases.emplace_back(Phase::accept, accepted->ms);
  r.accept_not_found = accepted->not_found;
  if (!reply.error.empty() || reply.status != 200) co_return rec.fail(Phase::wipe_order, reply.error.empty() ? fmt::format("status {}", reply.status) : reply.error);
  auto order = agent::parse_instruction_body(reply.body);
  if (!order.instruction || order.instruction->action != agent::Action::wipe || order.instruction->wipe_id.empty())
    co_return rec.fail(Phase::wipe_order, "expected wipe: " + reply.body.substr(0, 200));
  // From the accept's answer to the poll's: how fast the accept reaches the waiting agent.
  r.phases.emplace_back(Phase::wipe_order,
                        std::chrono::duration<double, std::milli>(Clock::now() - poll_start).count() - accepted->ms);
  rec.restart_phase();

  agent::WipeReport wipe;
  wipe.mode = order.instruction->mode;
  wipe.wipe_id = order.instruction->wipe_id;
  const std::array<std::string_view, 4> disks = {"/dev/nvme0n1", "/dev/nvme1n1", "/dev/sda", "/dev/sdb"};
  for (std::string_view disk : disks)
    wipe.disks.push_back({std::string(disk), disk.starts_with("/dev/nvme") ? "nvme" : "sata", "fast", "", true});
  reply = co_await conn.request(http::verb::post, "/agent/v1/wiped", agent::wiped_body(wipe), session, s.http_timeout);
  if (!reply.error.empty() || reply.status != 200) co_return rec.fail(Phase::wiped, reply.error.empty() ? fmt::format("status {}: {}", reply.status, reply.body.substr(0, 200)) : reply.error);
  auto next = agent::parse_instruction_body(reply.body);
  if (!next.instruction) co_return rec.fail(Phase::wiped, "wiped answer: " + next.error);
  rec.done(Phase::wiped);
  rec.finish();
  co_return r;
}

#pragma GCC diagnostic pop

}  // namespace ironboot::storm
