#include "discovery/reports.hpp"

#include <tuple>

#include "discovery/uuid.hpp"
#include "serverclass/hardware_schema.hpp"
#include "tpm/commands.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

#include <algorithm>
#include <iterator>
#include <optional>

namespace ironboot::discovery {

namespace json = boost::json;
using hardware_schema::Field;
using hardware_schema::Kind;

namespace {

// Carries the first error; every check returns false once one is recorded.
class Checker {
 public:
  bool fail(const std::string& path, const std::string& message) {
    if (!error_) error_ = RequestError{400, path + ": " + message};
    return false;
  }
  const std::optional<RequestError>& error() const { return error_; }

  bool string(const json::value& v, const std::string& path, std::string& out) {
    if (!v.is_string()) return fail(path, "must be a string");
    if (v.get_string().size() > kMaxStringLength)
      return fail(path, "must be at most " + std::to_string(kMaxStringLength) + " characters");
    out = std::string(v.get_string());
    return true;
  }

  bool integer(const json::value& v, const std::string& path, std::int64_t& out) {
    if (v.is_int64()) out = v.get_int64();
    else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      out = static_cast<std::int64_t>(v.get_uint64());
    else return fail(path, "must be an integer");
    if (out < 0) return fail(path, "must not be negative");
    return true;
  }

  bool list(const json::value& v, const std::string& path, const json::array*& out) {
    if (!v.is_array()) return fail(path, "must be a list");
    if (v.get_array().size() > kMaxListLength)
      return fail(path, "must have at most " + std::to_string(kMaxListLength) + " entries");
    out = &v.get_array();
    return true;
  }

  // A hardware section: known fields checked and copied, every known field present in `out`.
  bool section(const std::vector<Field>& fields, const json::value& v, const std::string& path, json::object& out) {
    if (!v.is_object()) return fail(path, "must be an object");
    const auto& in = v.get_object();
    for (const auto& f : fields) {
      const std::string field_path = path + "." + std::string(f.name);
      const auto* member = in.if_contains(f.name);
      switch (f.kind) {
        case Kind::string: {
          std::string s;
          if (member && !string(*member, field_path, s)) return false;
          out[f.name] = s;
          break;
        }
        case Kind::integer: {
          std::int64_t n = 0;
          if (member && !integer(*member, field_path, n)) return false;
          out[f.name] = n;
          break;
        }
        case Kind::object: {
          json::object child;
          if (!section(*f.children, member ? *member : json::value(json::object{}), field_path, child)) return false;
          out[f.name] = std::move(child);
          break;
        }
        case Kind::object_list:
        case Kind::string_list: {
          json::array items;
          if (member) {
            const json::array* list_in = nullptr;
            if (!list(*member, field_path, list_in)) return false;
            for (std::size_t i = 0; i < list_in->size(); ++i) {
              const std::string item_path = field_path + "[" + std::to_string(i) + "]";
              if (f.kind == Kind::string_list) {
                std::string s;
                if (!string((*list_in)[i], item_path, s)) return false;
                items.emplace_back(s);
              } else {
                json::object item;
                if (!section(*f.children, (*list_in)[i], item_path, item)) return false;
                items.push_back(std::move(item));
              }
            }
          }
          out[f.name] = std::move(items);
          break;
        }
      }
    }
    return true;
  }

 private:
  std::optional<RequestError> error_;
};

// Parses the body into a JSON object, or sets the 413 / 400 error.
std::optional<json::object> parse_body(std::string_view body, std::size_t max_bytes, Checker& check,
                                       std::optional<RequestError>& size_error) {
  if (body.size() > max_bytes) {
    size_error = RequestError{413, "body: larger than " + std::to_string(max_bytes) + " bytes"};
    return std::nullopt;
  }
  json::parse_options options;
  options.max_depth = 32;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, options);
  if (ec) {
    check.fail("body", "not valid JSON (" + ec.message() + ")");
    return std::nullopt;
  }
  if (!v.is_object()) {
    check.fail("body", "must be a JSON object");
    return std::nullopt;
  }
  return std::move(v.get_object());
}

template <class T>
Parsed<T> failed(const Checker& check, const std::optional<RequestError>& size_error) {
  if (size_error) return *size_error;
  return *check.error();
}

}  // namespace

std::string_view RegisterReport::serial_number() const {
  const auto* system = hardware.if_contains("system");
  if (!system || !system->is_object()) return {};
  const auto* serial = system->get_object().if_contains("serialNumber");
  return serial && serial->is_string() ? std::string_view(serial->get_string()) : std::string_view{};
}

std::vector<std::string> RegisterReport::interface_macs() const {
  std::vector<std::string> out;
  const auto* network = hardware.if_contains("network");
  const auto* ifaces = network && network->is_object() ? network->get_object().if_contains("interfaces") : nullptr;
  if (!ifaces || !ifaces->is_array()) return out;
  for (const auto& i : ifaces->get_array()) {
    const auto* mac = i.is_object() ? i.get_object().if_contains("mac") : nullptr;
    if (mac && mac->is_string()) {
      if (auto m = canonical_mac(mac->get_string())) out.push_back(*m);
    }
  }
  return out;
}

Parsed<RegisterReport> parse_register(std::string_view body, std::size_t max_bytes) {
  Checker check;
  std::optional<RequestError> size_error;
  auto obj = parse_body(body, max_bytes, check, size_error);
  if (!obj) return failed<RegisterReport>(check, size_error);

  RegisterReport report;
  std::string text;
  if (const auto* uuid = obj->if_contains("uuid")) {
    if (!check.string(*uuid, "uuid", text)) return *check.error();
    if (!text.empty()) {
      auto canonical = canonical_uuid(text);
      if (!canonical) return RequestError{400, "uuid: must be a UUID (8-4-4-4-12 hex digits)"};
      report.uuid = *canonical;
    }
  }
  const auto* mac = obj->if_contains("bootMac");
  if (!mac) return RequestError{400, "bootMac: required"};
  if (!check.string(*mac, "bootMac", text)) return *check.error();
  auto canonical = canonical_mac(text);
  if (!canonical) return RequestError{400, "bootMac: must be a MAC address like 52:54:00:12:34:56"};
  report.boot_mac = *canonical;

  if (const auto* mode = obj->if_contains("bootMode")) {
    if (!check.string(*mode, "bootMode", report.boot_mode)) return *check.error();
    if (report.boot_mode != "BIOS" && report.boot_mode != "UEFI" && !report.boot_mode.empty())
      return RequestError{400, "bootMode: must be BIOS or UEFI"};
  }

  const auto* hardware = obj->if_contains("hardware");
  if (!hardware) return RequestError{400, "hardware: required"};
  if (!check.section(hardware_schema::hardware_fields(), *hardware, "hardware", report.hardware))
    return *check.error();
  // The system UUID inside hardware must be a UUID too (or empty); store it canonical.
  auto& system = report.hardware["system"].as_object();
  if (const auto& su = system["uuid"].as_string(); !su.empty()) {
    auto c = canonical_uuid(su);
    if (!c) return RequestError{400, "hardware.system.uuid: must be a UUID (8-4-4-4-12 hex digits)"};
    system["uuid"] = *c;
  }

  if (const auto* fw = obj->if_contains("firmware")) {
    if (!fw->is_object()) return RequestError{400, "firmware: must be an object"};
    const auto& f = fw->get_object();
    for (auto [key, out] : {std::pair<const char*, std::string*>{"vendor", &report.firmware_vendor},
                            {"version", &report.firmware_version},
                            {"date", &report.firmware_date}}) {
      if (const auto* v = f.if_contains(key); v && !check.string(*v, std::string("firmware.") + key, *out))
        return *check.error();
    }
  }

  if (const auto* pci = obj->if_contains("pci")) {
    const json::array* list = nullptr;
    if (!check.list(*pci, "pci", list)) return *check.error();
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string path = "pci[" + std::to_string(i) + "]";
      if (!(*list)[i].is_object()) return RequestError{400, path + ": must be an object"};
      const auto& d = (*list)[i].get_object();
      PciDevice dev;
      for (auto [key, out] : {std::pair<const char*, std::string*>{"address", &dev.address},
                              {"vendor", &dev.vendor},
                              {"device", &dev.device},
                              {"class", &dev.device_class},
                              {"description", &dev.description}}) {
        if (const auto* v = d.if_contains(key); v && !check.string(*v, path + "." + key, *out)) return *check.error();
      }
      report.pci.push_back(std::move(dev));
    }
  }

  if (const auto* bmc = obj->if_contains("bmc"); bmc && !bmc->is_null()) {
    if (!bmc->is_object()) return RequestError{400, "bmc: must be an object"};
    const auto& b = bmc->get_object();
    InbandBmc found;
    for (auto [key, out] : {std::pair<const char*, std::string*>{"ipSource", &found.ip_source},
                            {"address", &found.address},
                            {"netmask", &found.netmask},
                            {"gateway", &found.gateway},
                            {"mac", &found.mac}}) {
      if (const auto* v = b.if_contains(key); v && !check.string(*v, std::string("bmc.") + key, *out))
        return *check.error();
    }
    for (auto [key, out] : {std::pair<const char*, std::int64_t*>{"channel", &found.channel}, {"port", &found.port}}) {
      if (const auto* v = b.if_contains(key); v && !check.integer(*v, std::string("bmc.") + key, *out))
        return *check.error();
    }
    if (found.port < 1 || found.port > 65535) return RequestError{400, "bmc.port: must be 1..65535"};
    if (found.channel > 15) return RequestError{400, "bmc.channel: must be 0..15"};
    static constexpr const char* kSources[] = {"", "static", "dhcp", "bios", "other", "unspecified"};
    if (std::find(std::begin(kSources), std::end(kSources), found.ip_source) == std::end(kSources))
      return RequestError{400, "bmc.ipSource: must be static, dhcp, bios, other or unspecified"};
    report.bmc = std::move(found);
  }
  if (const auto* creds = obj->if_contains("bmcCredentials"); creds && !creds->is_null()) {
    if (!creds->is_object()) return RequestError{400, "bmcCredentials: must be an object"};
    InbandBmcCredentials c;
    for (auto [key, out] : {std::pair<const char*, std::string*>{"username", &c.username}, {"password", &c.password}}) {
      const auto* v = creds->get_object().if_contains(key);
      if (!v) return RequestError{400, std::string("bmcCredentials.") + key + ": required"};
      if (!check.string(*v, std::string("bmcCredentials.") + key, *out)) return *check.error();
      if (out->empty()) return RequestError{400, std::string("bmcCredentials.") + key + ": must not be empty"};
    }
    report.bmc_credentials = std::move(c);
  }
  if (const auto* tpm = obj->if_contains("tpm"); tpm && !tpm->is_null()) {
    if (!tpm->is_object()) return RequestError{400, "tpm: must be an object"};
    TpmProof proof;
    const auto* id = tpm->get_object().if_contains("challenge");
    if (!id) return RequestError{400, "tpm.challenge: required"};
    if (!check.string(*id, "tpm.challenge", proof.challenge)) return *check.error();
    if (proof.challenge.empty() || proof.challenge.size() > 64) return RequestError{400, "tpm.challenge: 1 to 64 characters"};
    const auto* secret = tpm->get_object().if_contains("secret");
    if (!secret) return RequestError{400, "tpm.secret: required"};
    if (!check.string(*secret, "tpm.secret", text)) return *check.error();
    auto bytes = tpm::from_hex(text, 64);
    if (!bytes || bytes->empty()) return RequestError{400, "tpm.secret: must be hex, 1 to 64 bytes"};
    proof.secret = std::move(*bytes);
    report.tpm = std::move(proof);
  }
  return report;
}

Parsed<ChallengeRequest> parse_challenge_request(std::string_view body, std::size_t max_bytes) {
  Checker check;
  std::optional<RequestError> size_error;
  auto obj = parse_body(body, max_bytes, check, size_error);
  if (!obj) return failed<ChallengeRequest>(check, size_error);
  ChallengeRequest request;
  for (auto [key, out] : {std::pair<const char*, std::vector<std::uint8_t>*>{"ekPublic", &request.ek_public},
                          {"akPublic", &request.ak_public}}) {
    const auto* v = obj->if_contains(key);
    if (!v) return RequestError{400, std::string(key) + ": required"};
    if (!v->is_string()) return RequestError{400, std::string(key) + ": must be a string"};
    auto bytes = tpm::from_hex(v->get_string(), tpm::kMaxPublicBytes);
    if (!bytes || bytes->empty())
      return RequestError{400, std::string(key) + ": must be a hex TPMT_PUBLIC of at most " +
                                   std::to_string(tpm::kMaxPublicBytes) + " bytes"};
    *out = std::move(*bytes);
  }
  return request;
}

Parsed<WipedReport> parse_wiped(std::string_view body, std::size_t max_bytes) {
  Checker check;
  std::optional<RequestError> size_error;
  auto obj = parse_body(body, max_bytes, check, size_error);
  if (!obj) return failed<WipedReport>(check, size_error);
  WipedReport report;
  const auto* mode = obj->if_contains("mode");
  if (!mode) return RequestError{400, "mode: required"};
  if (!check.string(*mode, "mode", report.mode)) return *check.error();
  if (report.mode != "fast" && report.mode != "full" && report.mode != "secure")
    return RequestError{400, "mode: must be fast, full or secure"};
  // Absent or odd: the exchange check refuses it (409), so the shape alone is checked here.
  if (const auto* id = obj->if_contains("wipeId")) {
    if (!check.string(*id, "wipeId", report.wipe_id)) return *check.error();
    if (report.wipe_id.size() > 64) return RequestError{400, "wipeId: at most 64 characters"};
  }
  if (const auto* devices = obj->if_contains("devices")) {
    const json::array* list = nullptr;
    if (!check.list(*devices, "devices", list)) return *check.error();
    for (std::size_t i = 0; i < list->size(); ++i) {
      std::string d;
      if (!check.string((*list)[i], "devices[" + std::to_string(i) + "]", d)) return *check.error();
      report.devices.push_back(std::move(d));
    }
  }
  // Per-disk detail (docs/agent-api.md): failed [{device, error}], skipped [{device, reason}].
  for (auto [key, detail, out] : {std::tuple{"failed", "error", &report.failed}, {"skipped", "reason", &report.skipped}}) {
    const auto* entries = obj->if_contains(key);
    if (!entries) continue;
    const json::array* list = nullptr;
    if (!check.list(*entries, key, list)) return *check.error();
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string path = std::string(key) + "[" + std::to_string(i) + "]";
      const auto* entry = (*list)[i].if_object();
      if (!entry) return RequestError{400, path + ": must be an object"};
      std::string device, why;
      if (const auto* v = entry->if_contains("device"); !v || !check.string(*v, path + ".device", device))
        return check.error() ? *check.error() : RequestError{400, path + ".device: required"};
      if (const auto* v = entry->if_contains(detail); v && !check.string(*v, path + "." + detail, why)) return *check.error();
      out->push_back(std::string(key) == "failed" ? device + ": " + why : device + " (" + why + ")");
    }
  }
  return report;
}

Parsed<ProgressReport> parse_progress(std::string_view body, std::size_t max_bytes) {
  Checker check;
  std::optional<RequestError> size_error;
  auto obj = parse_body(body, max_bytes, check, size_error);
  if (!obj) return failed<ProgressReport>(check, size_error);
  ProgressReport report;
  const auto* device = obj->if_contains("device");
  if (!device) return RequestError{400, "device: required"};
  if (!check.string(*device, "device", report.device)) return *check.error();
  for (auto [key, out] : {std::pair<const char*, std::uint64_t*>{"done", &report.done}, {"total", &report.total}}) {
    const auto* v = obj->if_contains(key);
    if (!v) return RequestError{400, std::string(key) + ": required"};
    std::int64_t n = 0;
    if (!check.integer(*v, key, n)) return *check.error();
    *out = static_cast<std::uint64_t>(n);
  }
  if (report.done > report.total) return RequestError{400, "done: must not exceed total"};
  return report;
}

Parsed<AddressesReport> parse_addresses(std::string_view body, std::size_t max_bytes) {
  Checker check;
  std::optional<RequestError> size_error;
  auto obj = parse_body(body, max_bytes, check, size_error);
  if (!obj) return failed<AddressesReport>(check, size_error);
  AddressesReport report;
  const auto* addresses = obj->if_contains("addresses");
  if (!addresses) return RequestError{400, "addresses: required"};
  const json::array* list = nullptr;
  if (!check.list(*addresses, "addresses", list)) return *check.error();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = "addresses[" + std::to_string(i) + "]";
    if (!(*list)[i].is_object()) return RequestError{400, path + ": must be an object"};
    const auto& a = (*list)[i].get_object();
    Address address;
    for (auto [key, out] : {std::pair<const char*, std::string*>{"type", &address.type}, {"address", &address.address}}) {
      const auto* v = a.if_contains(key);
      if (!v) return RequestError{400, path + "." + key + ": required"};
      if (!check.string(*v, path + "." + key, *out)) return *check.error();
      if (out->empty()) return RequestError{400, path + "." + key + ": must not be empty"};
    }
    report.addresses.push_back(std::move(address));
  }
  return report;
}

}  // namespace ironboot::discovery
