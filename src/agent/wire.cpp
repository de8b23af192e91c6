#include "agent/wire.hpp"

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>

namespace ironboot::agent {
namespace json = boost::json;

Cmdline parse_cmdline(std::string_view text) {
  Cmdline c;
  std::vector<std::string> words;
  std::string cur;
  bool quoted = false, any = false;
  for (char ch : text) {
    if (ch == '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && (ch == ' ' || ch == '\n' || ch == '\t')) {
      if (any) words.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur.push_back(ch);
      any = true;
    }
  }
  if (any) words.push_back(cur);
  for (const auto& w : words) {
    auto eq = w.find('=');
    std::string key = w.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : w.substr(eq + 1);
    if (key == "ironboot.endpoint") c.endpoint = value;
    else if (key == "ironboot.token") c.token = value;
    else if (key == "ironboot.mac") c.mac = normalize_mac(value);
    else if (key == "console") c.consoles.push_back(value);
    else if (key == "ironboot.debug") c.debug = value.empty() || value == "1" || value == "true";
    else if (key == "ironboot.tpm" && !value.empty()) c.tpm = value;
    else if (key == "ironboot.wipe_usb") c.wipe_usb = value.empty() || value == "1" || value == "true";
  }
  return c;
}

std::string normalize_mac(std::string_view text) {
  std::string hex;
  for (char ch : text) {
    if (ch == ':' || ch == '-' || ch == '.') continue;
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return "";
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  }
  if (hex.size() != 12) return "";
  std::string out;
  for (std::size_t i = 0; i < 12; i += 2) {
    if (i) out.push_back(':');
    out += hex.substr(i, 2);
  }
  return out;
}

EndpointResult parse_endpoint(std::string_view url) {
  // Hand-parsed on purpose: only one shape is accepted, and Boost.URL 1.81 asserts on some
  // malformed inputs (found by fuzz_agent_wire), which would take PID 1 down.
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) return {std::nullopt, "must start with http://"};
  url.remove_prefix(scheme.size());
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  Endpoint e;
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return {std::nullopt, "unterminated IPv6 literal"};
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {std::nullopt, "junk after IPv6 literal"};
    if (!rest.empty()) port = rest.substr(1);
    in6_addr a6;
    if (::inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) return {std::nullopt, "bad IPv6 address"};
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    in_addr a4;
    if (::inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1)
      return {std::nullopt, "host must be an IP address"};
  }
  e.host = std::string(host);
  if (authority.find('[') == std::string_view::npos && authority.find(':') != std::string_view::npos &&
      port.empty())
    return {std::nullopt, "empty port"};
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return {std::nullopt, "bad port"};
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return {std::nullopt, "bad port"};
    e.port = static_cast<std::uint16_t>(value);
  }
  for (char c : path)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '?' || c == '#' || static_cast<unsigned char>(c) >= 0x7f)
      return {std::nullopt, "bad path"};
  e.base_path = std::string(path);
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  return {e, ""};
}

std::string action_name(Action a) {
  switch (a) {
    case Action::wait: return "wait";
    case Action::wipe: return "wipe";
    case Action::reboot: return "reboot";
    case Action::poweroff: return "poweroff";
  }
  return "wait";
}

namespace {
InstructionResult not_understood(std::string error, std::string server = {}) {
  InstructionResult r;
  r.error = std::move(error);
  r.server = std::move(server);
  return r;
}
}  // namespace

InstructionResult parse_instruction_body(std::string_view body) {
  InstructionResult r;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return not_understood("invalid JSON: " + ec.message());
  if (!v.is_object()) return not_understood("body is not an object");
  const json::object* o = &v.as_object();
  if (auto* s = o->if_contains("server"); s && s->is_string()) r.server = std::string(s->as_string());
  if (auto* b = o->if_contains("bmcSetup"); b && b->is_bool()) r.bmc_setup = b->as_bool();
  if (auto* t = o->if_contains("session"); t && t->is_string() && t->as_string().size() <= 1024)
    r.session = std::string(t->as_string());
  if (auto* inner = o->if_contains("instruction")) {
    if (!inner->is_object()) return not_understood("instruction is not an object", r.server);
    o = &inner->as_object();
  }
  auto* action = o->if_contains("action");
  if (!action || !action->is_string()) return not_understood("missing action", r.server);
  Instruction in;
  std::string_view a = action->as_string();
  if (a == "wait") in.action = Action::wait;
  else if (a == "wipe") in.action = Action::wipe;
  else if (a == "reboot") in.action = Action::reboot;
  else if (a == "poweroff") in.action = Action::poweroff;
  else return not_understood("unknown action", r.server);
  if (in.action == Action::wipe) {
    if (auto* m = o->if_contains("mode")) {
      if (!m->is_string() || (m->as_string() != "fast" && m->as_string() != "full" && m->as_string() != "secure"))
        return not_understood("wipe mode must be fast, full or secure", r.server);
      in.mode = std::string(m->as_string());
    }
    if (auto* id = o->if_contains("wipeId")) {
      if (!id->is_string() || id->as_string().size() > 64) return not_understood("wipeId must be a short string", r.server);
      in.wipe_id = std::string(id->as_string());
    }
  }
  r.instruction = in;
  return r;
}

std::string memory_total_text(std::uint64_t mb) { return std::to_string((mb + 512) / 1024) + " GB"; }
std::string storage_total_text(std::uint64_t bytes) {
  return std::to_string((bytes + 500'000'000) / 1'000'000'000) + " GB";
}

std::string register_body(const Facts& f, const std::optional<BmcCredentials>& credentials) {
  const Hardware& h = f.hardware;
  json::object system{{"uuid", h.system.uuid},
                      {"manufacturer", h.system.manufacturer},
                      {"productName", h.system.product_name},
                      {"version", h.system.version},
                      {"serialNumber", h.system.serial_number},
                      {"skuNumber", h.system.sku_number},
                      {"family", h.system.family}};
  json::array processors;
  for (const auto& p : h.processors)
    processors.push_back(json::object{{"manufacturer", p.manufacturer},
                                      {"productName", p.product_name},
                                      {"serialNumber", p.serial_number},
                                      {"speed", p.speed_mhz},
                                      {"coreCount", p.core_count},
                                      {"threadCount", p.thread_count}});
  json::array modules;
  for (const auto& m : h.memory)
    modules.push_back(json::object{{"manufacturer", m.manufacturer},
                                   {"productName", m.product_name},
                                   {"serialNumber", m.serial_number},
                                   {"type", m.type},
                                   {"size", m.size_mb},
                                   {"speed", m.speed_mts}});
  json::array devices;
  std::uint64_t storage_total = 0;
  for (const auto& d : h.disks) {
    storage_total += d.size_bytes;
    devices.push_back(json::object{{"type", d.type},
                                   {"size", d.size_bytes},
                                   {"productName", d.product_name},
                                   {"serialNumber", d.serial_number},
                                   {"name", d.name},
                                   {"deviceName", d.device_name},
                                   {"uuid", d.uuid},
                                   {"wwid", d.wwid}});
  }
  json::array interfaces;
  for (const auto& i : h.interfaces) {
    json::array addrs;
    for (const auto& a : i.addresses) addrs.push_back(json::string(a));
    interfaces.push_back(json::object{{"index", i.index},
                                      {"name", i.name},
                                      {"flags", i.flags},
                                      {"mtu", i.mtu},
                                      {"mac", i.mac},
                                      {"addresses", std::move(addrs)}});
  }
  json::array pci;
  for (const auto& d : f.pci)
    pci.push_back(json::object{{"address", d.address},
                               {"vendor", d.vendor},
                               {"device", d.device},
                               {"class", d.class_code},
                               {"description", d.description}});
  std::size_t processor_count = h.processors.size();
  json::object body{
      {"uuid", h.system.uuid},
      {"bootMac", f.boot_mac},
      {"bootMode", f.boot_mode},
      {"hardware",
       json::object{
           {"system", std::move(system)},
           {"compute", json::object{{"totalCoreCount", h.total_cores},
                                    {"totalThreadCount", h.total_threads},
                                    {"processorCount", processor_count},
                                    {"processors", std::move(processors)}}},
           {"memory", json::object{{"totalSize", memory_total_text(h.memory_total_mb)},
                                   {"moduleCount", h.memory.size()},
                                   {"modules", std::move(modules)}}},
           {"storage", json::object{{"totalSize", storage_total_text(storage_total)},
                                    {"deviceCount", h.disks.size()},
                                    {"devices", std::move(devices)}}},
           {"network", json::object{{"interfaceCount", h.interfaces.size()}, {"interfaces", std::move(interfaces)}}},
       }},
      {"firmware", json::object{{"vendor", f.firmware.vendor}, {"version", f.firmware.version}, {"date", f.firmware.date}}},
      {"pci", std::move(pci)},
  };
  if (f.bmc) {
    body["bmc"] = json::object{{"channel", f.bmc->channel}, {"ipSource", f.bmc->ip_source},
                               {"address", f.bmc->address}, {"netmask", f.bmc->netmask},
                               {"gateway", f.bmc->gateway}, {"mac", f.bmc->mac},
                               {"port", f.bmc->port}};
  }
  if (credentials)
    body["bmcCredentials"] = json::object{{"username", credentials->username}, {"password", credentials->password}};
  return json::serialize(body);
}

std::string progress_body(const std::string& device, std::uint64_t done, std::uint64_t total) {
  return json::serialize(json::object{{"device", device}, {"done", done}, {"total", total}});
}

std::string wiped_body(const WipeReport& report) {
  json::array devices, wiped, failed, skipped;
  for (const auto& d : report.disks) {
    if (d.error.empty()) {
      devices.push_back(json::string(d.device));
      wiped.push_back(json::object{{"device", d.device}, {"transport", d.transport}, {"method", d.method},
                                   {"verified", d.verified}});
    } else {
      failed.push_back(json::object{{"device", d.device}, {"transport", d.transport}, {"method", d.method},
                                    {"verified", d.verified}, {"error", d.error}});
    }
  }
  for (const auto& s : report.skipped)
    skipped.push_back(json::object{{"device", s.device}, {"transport", s.transport}, {"reason", s.reason}});
  return json::serialize(json::object{{"mode", report.mode},
                                      {"wipeId", report.wipe_id},
                                      {"devices", std::move(devices)},
                                      {"wiped", std::move(wiped)},
                                      {"failed", std::move(failed)},
                                      {"skipped", std::move(skipped)}});
}

std::string addresses_body(const std::vector<std::string>& ipv4_addresses) {
  json::array a;
  for (const auto& s : ipv4_addresses) a.push_back(json::object{{"type", "InternalIP"}, {"address", s}});
  return json::serialize(json::object{{"addresses", std::move(a)}});
}

std::string challenge_request_body(const std::string& ek_public_hex, const std::string& ak_public_hex) {
  return json::serialize(json::object{{"ekPublic", ek_public_hex}, {"akPublic", ak_public_hex}});
}

ChallengeResult parse_challenge_body(std::string_view body) {
  ChallengeResult r;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    r.error = "not a JSON object";
    return r;
  }
  Challenge c;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"challenge", &c.id},
                          {"idObject", &c.id_object},
                          {"encryptedSecret", &c.encrypted_secret}}) {
    const auto* member = v.as_object().if_contains(key);
    if (!member || !member->is_string() || member->as_string().empty() || member->as_string().size() > 4096) {
      r.error = std::string(key) + ": missing or not a string";
      return r;
    }
    *out = std::string(member->as_string());
  }
  r.challenge = std::move(c);
  return r;
}

std::string with_tpm_proof(std::string_view register_body, const std::string& challenge_id,
                           const std::string& secret_hex) {
  boost::system::error_code ec;
  json::value v = json::parse(register_body, ec);
  if (ec || !v.is_object()) return std::string(register_body);  // ours, always an object
  v.as_object()["tpm"] = json::object{{"challenge", challenge_id}, {"secret", secret_hex}};
  return json::serialize(v);
}

}  // namespace ironboot::agent
