#include "discovery/server_object.hpp"

#include "discovery/uuid.hpp"
#include "kube/objects.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ironboot::discovery {

namespace json = boost::json;
using objects::Condition;

namespace {

std::vector<std::string> server_interface_macs(const json::object& server) {
  std::vector<std::string> out;
  const auto* spec = objects::spec_of(server);
  const auto* hw = spec ? objects::object_at(*spec, "hardware") : nullptr;
  const auto* net = hw ? objects::object_at(*hw, "network") : nullptr;
  const auto* ifaces = net ? objects::array_at(*net, "interfaces") : nullptr;
  if (ifaces) {
    for (const auto& i : *ifaces) {
      if (!i.is_object()) continue;
      if (auto m = canonical_mac(objects::string_at(i.get_object(), "mac"))) out.push_back(*m);
    }
  }
  if (const auto* ann = objects::annotations_of(server)) {
    if (auto m = canonical_mac(objects::string_at(*ann, kBootMacAnnotation))) out.push_back(*m);
  }
  return out;
}

std::string_view server_serial(const json::object& server) {
  const auto* spec = objects::spec_of(server);
  const auto* hw = spec ? objects::object_at(*spec, "hardware") : nullptr;
  const auto* system = hw ? objects::object_at(*hw, "system") : nullptr;
  return system ? objects::string_at(*system, "serialNumber") : std::string_view{};
}

// Another machine: serials differ (both known), or the boot MAC is none of the MACs the
// existing Server has reported. An object without reported facts cannot conflict.
bool is_other_machine(const json::object& existing, std::string_view serial, std::string_view boot_mac) {
  const auto existing_serial = server_serial(existing);
  if (!existing_serial.empty() && !serial.empty() && existing_serial != serial) return true;
  const auto macs = server_interface_macs(existing);
  return !macs.empty() && std::find(macs.begin(), macs.end(), boot_mac) == macs.end();
}

json::object annotations(const RegisterReport& report) {
  json::object a;
  a[kBootMacAnnotation] = report.boot_mac;
  if (!report.boot_mode.empty()) a[kBootModeAnnotation] = report.boot_mode;
  if (!report.firmware_vendor.empty() || !report.firmware_version.empty() || !report.firmware_date.empty()) {
    a[kFirmwareAnnotation] = json::serialize(json::object{
        {"vendor", report.firmware_vendor}, {"version", report.firmware_version}, {"date", report.firmware_date}});
  }
  if (!report.pci.empty()) {
    json::array pci;
    for (const auto& d : report.pci) {
      pci.push_back(json::object{{"address", d.address},
                                 {"vendor", d.vendor},
                                 {"device", d.device},
                                 {"class", d.device_class},
                                 {"description", d.description}});
    }
    a[kPciAnnotation] = json::serialize(pci);
  }
  return a;
}

const json::array* conditions_of(const json::object* server) {
  const auto* status = server ? objects::status_of(*server) : nullptr;
  return status ? objects::array_at(*status, "conditions") : nullptr;
}

// Create or refresh the Server `name` for this report, appending to `plan.writes`.
void write_server(RegisterPlan& plan, const std::string& name, const json::object* existing,
                  const RegisterReport& report, const RegisterOptions& options, bool synthetic,
                  const std::optional<Condition>& duplicate, std::string_view now) {
  json::array conditions;
  const json::array* base = conditions_of(existing);
  conditions = objects::with_condition(base, Condition{"Discovered", true, "AgentRegistered",
                                                       "boot MAC " + report.boot_mac},
                                       now);
  if (synthetic) {
    conditions = objects::with_condition(
        &conditions,
        Condition{"SyntheticUUID", true, "FirmwareUUIDUnusable",
                  "firmware reported " + (report.uuid.empty() ? std::string("no UUID") : "UUID " + report.uuid) +
                      "; named after boot MAC " + report.boot_mac},
        now);
  }
  if (duplicate) conditions = objects::with_condition(&conditions, *duplicate, now);

  if (!existing) {
    json::object obj{{"apiVersion", kube::kApiVersion},
                     {"kind", "Server"},
                     {"metadata", json::object{{"name", name}, {"annotations", annotations(report)}}},
                     {"spec", json::object{{"accepted", options.auto_accept}, {"hardware", report.hardware}}}};
    plan.writes.push_back({ServerWrite::Kind::create, name, std::move(obj)});
    plan.writes.push_back({ServerWrite::Kind::status_patch, name,
                           json::object{{"status", json::object{{"isClean", false},
                                                                {"inUse", false},
                                                                {"conditions", std::move(conditions)}}}}});
    return;
  }
  plan.writes.push_back({ServerWrite::Kind::merge_patch, name,
                         json::object{{"metadata", json::object{{"annotations", annotations(report)}}},
                                      {"spec", json::object{{"hardware", report.hardware}}}}});
  plan.writes.push_back({ServerWrite::Kind::status_patch, name,
                         json::object{{"status", json::object{{"conditions", std::move(conditions)}}}}});
}

}  // namespace

RegisterPlan plan_register(const RegisterReport& report, const ServerLookup& lookup, const RegisterOptions& options,
                           std::string_view now) {
  RegisterPlan plan;
  const auto identity = server_identity(report.uuid, report.boot_mac);
  const json::object* existing = lookup(identity.name);
  const auto serial = report.serial_number();

  if (existing && !identity.synthetic && is_other_machine(*existing, serial, report.boot_mac)) {
    // Never overwrite the first machine: flag it, and give this one its MAC-derived name.
    const std::string existing_serial(server_serial(*existing));
    plan.duplicate_uuid = true;
    plan.duplicate_of = identity.name;
    plan.duplicate_message = "uuid " + identity.name + " reported by boot MAC " + report.boot_mac + " serial '" +
                             std::string(serial) + "' but Server " + identity.name + " has serial '" +
                             existing_serial + "'";
    const std::string second = synthetic_server_name(report.boot_mac);
    const Condition on_first{"DuplicateUUID", true, "UUIDReportedTwice",
                             "also reported by boot MAC " + report.boot_mac + " serial '" + std::string(serial) +
                                 "', registered as Server " + second};
    plan.writes.push_back(
        {ServerWrite::Kind::status_patch, identity.name,
         json::object{{"status", json::object{{"conditions",
                                               objects::with_condition(conditions_of(existing), on_first, now)}}}}});
    const Condition on_second{"DuplicateUUID", true, "UUIDReportedTwice",
                              "SMBIOS uuid " + identity.name + " already belongs to Server " + identity.name +
                                  " (serial '" + existing_serial + "')"};
    plan.server_name = second;
    write_server(plan, second, lookup(second), report, options, false, on_second, now);
    return plan;
  }

  plan.server_name = identity.name;
  plan.synthetic_uuid = identity.synthetic;
  write_server(plan, identity.name, existing, report, options, identity.synthetic, std::nullopt, now);
  return plan;
}

std::string server_name_for_agent(std::string_view token_uuid, std::string_view token_mac, const ServerLookup& lookup) {
  std::string uuid;
  if (auto c = canonical_uuid(token_uuid)) uuid = *c;
  const std::string mac = canonical_mac(token_mac).value_or(std::string(token_mac));
  const auto identity = server_identity(uuid, mac);
  if (identity.synthetic) return identity.name;
  // A machine that lost a UUID conflict lives under its MAC-derived name.
  const std::string second = synthetic_server_name(mac);
  if (const auto* dup = lookup(second); dup && objects::condition_is_true(*dup, "DuplicateUUID")) return second;
  const json::object* existing = lookup(identity.name);
  if (!existing) return identity.name;
  const auto macs = server_interface_macs(*existing);
  if (!macs.empty() && std::find(macs.begin(), macs.end(), mac) == macs.end()) return synthetic_server_name(mac);
  return identity.name;
}

namespace {

// A summary figure of spec.hardware as text ("" / "0" when absent).
std::string figure(const json::object& hw, std::string_view section, std::string_view field) {
  const auto* sec = objects::object_at(hw, section);
  const auto* v = sec ? sec->if_contains(field) : nullptr;
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  return json::serialize(*v);
}

}  // namespace

std::string describe_hardware_changes(const json::object& before, const json::object& after) {
  struct Figure {
    const char* section;
    const char* field;
    const char* label;
    bool quoted;
  };
  static constexpr Figure kFigures[] = {
      {"system", "manufacturer", "manufacturer", true},  {"system", "productName", "product", true},
      {"system", "serialNumber", "serial", true},        {"compute", "processorCount", "processors", false},
      {"compute", "totalCoreCount", "cores", false},     {"compute", "totalThreadCount", "threads", false},
      {"memory", "totalSize", "memory", false},          {"memory", "moduleCount", "memory modules", false},
      {"storage", "totalSize", "storage", false},        {"storage", "deviceCount", "disks", false},
      {"network", "interfaceCount", "interfaces", false}};
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  for (const auto& f : kFigures) {
    const std::string was = figure(before, f.section, f.field);
    const std::string is = figure(after, f.section, f.field);
    if (was == is) continue;
    const auto show = [&f](const std::string& v) {
      if (f.quoted) return "'" + v + "'";
      return v.empty() ? std::string("none") : v;
    };
    add(std::string(f.label) + " " + show(was) + " -> " + show(is));
  }
  if (!out.empty()) return out;
  // Same figures, different details (a disk swapped for one of the same size, an address).
  for (const char* section : {"system", "compute", "memory", "storage", "network"}) {
    const auto* a = objects::object_at(before, section);
    const auto* b = objects::object_at(after, section);
    if ((a ? json::value(*a) : json::value()) != (b ? json::value(*b) : json::value())) add(std::string(section) + " changed");
  }
  return out;
}

bool report_matches_token(const RegisterReport& report, const TokenClaims& claims) {
  const auto token_mac = canonical_mac(claims.mac);
  if (!token_mac || *token_mac != report.boot_mac) return false;
  std::string token_uuid;
  if (!claims.uuid.empty()) {
    auto c = canonical_uuid(claims.uuid);
    if (!c) return false;
    token_uuid = *c;
  }
  const bool report_placeholder = report.uuid.empty() || is_placeholder_uuid(report.uuid);
  const bool token_placeholder = token_uuid.empty() || is_placeholder_uuid(token_uuid);
  if (report_placeholder || token_placeholder) return report_placeholder && token_placeholder;
  return token_uuid == report.uuid;
}

}  // namespace ironboot::discovery
