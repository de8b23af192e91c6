#include "discovery/baremetalhost.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cctype>

#include "kube/objects.hpp"

namespace ironboot::discovery {

namespace json = boost::json;
using objects::array_at;
using objects::object_at;
using objects::string_at;

namespace {

std::int64_t int_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return 0;
}

const json::array* interfaces_of(const json::object& hardware) {
  const auto* network = object_at(hardware, "network");
  return network ? array_at(*network, "interfaces") : nullptr;
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

// One storage device against every hint given (Metal3's RootDeviceHints semantics: names
// and serials equal, model and vendor substrings, minSizeGigabytes a lower bound).
bool device_matches(const json::object& hints, const json::object& device) {
  for (const auto& [key, want] : hints) {
    if (key == "minSizeGigabytes") {
      if (!want.is_int64() && !want.is_uint64()) return false;
      const std::int64_t min_gb = want.is_int64() ? want.get_int64() : static_cast<std::int64_t>(want.get_uint64());
      if (int_at(device, "size") < min_gb * 1000 * 1000 * 1000) return false;
      continue;
    }
    if (key == "rotational") {
      if (!want.is_bool()) return false;
      if ((string_at(device, "type") == "HDD") != want.get_bool()) return false;
      continue;
    }
    if (!want.is_string()) return false;
    const std::string_view w = want.get_string();
    if (key == "deviceName") {
      if (string_at(device, "deviceName") != w && string_at(device, "name") != w &&
          "/dev/" + std::string(string_at(device, "name")) != w)
        return false;
    } else if (key == "serialNumber") {
      if (string_at(device, "serialNumber") != w) return false;
    } else if (key == "wwn" || key == "wwnWithExtension" || key == "wwnVendorExtension") {
      if (string_at(device, "wwid") != w) return false;
    } else if (key == "model" || key == "vendor") {
      if (!contains(string_at(device, "productName"), w)) return false;
    } else {
      return false;  // a hint ironboot cannot check (hctl) matches no disk rather than any
    }
  }
  return true;
}

std::string device_path(const json::object& device) {
  const auto name = string_at(device, "deviceName");
  if (!name.empty()) return std::string(name);
  return "/dev/" + std::string(string_at(device, "name"));
}

std::string_view namespace_of(const json::object& obj) {
  const auto* md = object_at(obj, "metadata");
  return md ? string_at(*md, "namespace") : std::string_view{};
}

}  // namespace

std::string mac_key(std::string_view mac) {
  std::string out;
  for (char c : mac)
    if (std::isxdigit(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> server_mac_keys(const json::object& server) {
  std::vector<std::string> out;
  const auto* spec = objects::spec_of(server);
  const auto* hardware = spec ? object_at(*spec, "hardware") : nullptr;
  const auto* interfaces = hardware ? interfaces_of(*hardware) : nullptr;
  if (!interfaces) return out;
  for (const auto& i : *interfaces) {
    if (!i.is_object()) continue;
    std::string key = mac_key(string_at(i.get_object(), "mac"));
    if (key.size() == 12) out.push_back(std::move(key));
  }
  return out;
}

bool server_has_mac(const json::object& server, std::string_view mac) {
  const std::string want = mac_key(mac);
  if (want.size() != 12) return false;
  const auto keys = server_mac_keys(server);
  return std::find(keys.begin(), keys.end(), want) != keys.end();
}

json::object hardware_details(const json::object& hardware, std::string_view boot_mac) {
  json::object out;
  if (const auto* system = object_at(hardware, "system")) {
    out["systemVendor"] = json::object{{"manufacturer", string_at(*system, "manufacturer")},
                                       {"productName", string_at(*system, "productName")},
                                       {"serialNumber", string_at(*system, "serialNumber")}};
  }
  if (const auto* memory = object_at(hardware, "memory")) {
    std::int64_t mb = 0;
    if (const auto* modules = array_at(*memory, "modules"))
      for (const auto& m : *modules)
        if (m.is_object()) mb += int_at(m.get_object(), "size");
    out["ramMebibytes"] = mb;
  }
  json::array nics;
  if (const auto* interfaces = interfaces_of(hardware)) {
    for (const auto& v : *interfaces) {
      if (!v.is_object()) continue;
      const auto& i = v.get_object();
      json::object nic{{"name", string_at(i, "name")}, {"mac", string_at(i, "mac")},
                       {"pxe", !boot_mac.empty() && mac_key(string_at(i, "mac")) == mac_key(boot_mac)}};
      if (const auto* addresses = array_at(i, "addresses"); addresses && !addresses->empty() && addresses->front().is_string()) {
        // "10.0.0.5/24" -> "10.0.0.5": Metal3 reports the address alone.
        std::string ip(addresses->front().get_string());
        nic["ip"] = ip.substr(0, ip.find('/'));
      }
      nics.push_back(std::move(nic));
    }
  }
  out["nics"] = std::move(nics);
  json::array storage;
  if (const auto* disks = object_at(hardware, "storage")) {
    if (const auto* devices = array_at(*disks, "devices")) {
      for (const auto& v : *devices) {
        if (!v.is_object()) continue;
        const auto& d = v.get_object();
        storage.push_back(json::object{{"name", device_path(d)},
                                       {"model", string_at(d, "productName")},
                                       {"serialNumber", string_at(d, "serialNumber")},
                                       {"wwn", string_at(d, "wwid")},
                                       {"sizeBytes", int_at(d, "size")},
                                       {"rotational", string_at(d, "type") == "HDD"}});
      }
    }
  }
  out["storage"] = std::move(storage);
  if (const auto* compute = object_at(hardware, "compute")) {
    json::object cpu{{"count", int_at(*compute, "totalThreadCount")}};
    if (const auto* processors = array_at(*compute, "processors"); processors && !processors->empty() && processors->front().is_object()) {
      const auto& p = processors->front().get_object();
      cpu["model"] = string_at(p, "productName");
      cpu["clockMegahertz"] = static_cast<double>(int_at(p, "speed"));
    }
    out["cpu"] = std::move(cpu);
  }
  return out;
}

std::optional<std::string> select_install_target(const json::object& hints, const json::object& hardware) {
  const auto* storage = object_at(hardware, "storage");
  const auto* devices = storage ? array_at(*storage, "devices") : nullptr;
  if (!devices) return std::nullopt;
  for (const auto& v : *devices)
    if (v.is_object() && device_matches(hints, v.get_object())) return device_path(v.get_object());
  return std::nullopt;
}

namespace {

// Metal3's state for the linked Server's lifecycle state (docs/bmc.md "The lifecycle"), "" when
// the Server has none yet. Deprovisioning is Metal3's "preparing" (cleaning) on the way to
// available, and its "deprovisioning" after the host was provisioned.
std::string_view metal3_state(std::string_view server_state, std::string_view previous) {
  if (server_state == "Registering" || server_state == "Inspecting") return "inspecting";
  if (server_state == "Available") return "available";
  if (server_state == "Provisioning") return "provisioning";
  if (server_state == "Provisioned") return "provisioned";
  if (server_state == "Deprovisioning")
    return previous == "provisioned" || previous == "deprovisioning" ? "deprovisioning" : "preparing";
  return {};
}

}  // namespace

BmhPlan reconcile_bmh(const BmhInput& in) {
  BmhPlan plan;
  const json::object empty;
  const auto* spec_ptr = objects::spec_of(in.host);
  const json::object& spec = spec_ptr ? *spec_ptr : empty;
  const auto* bmc_ptr = object_at(spec, "bmc");
  const json::object& bmc = bmc_ptr ? *bmc_ptr : empty;
  const auto* hints_ptr = object_at(spec, "rootDeviceHints");
  const json::object& hints = hints_ptr ? *hints_ptr : empty;
  const auto* host_status = objects::status_of(in.host);
  const auto* host_provisioning = host_status ? object_at(*host_status, "provisioning") : nullptr;
  const std::string_view previous_state = host_provisioning ? string_at(*host_provisioning, "state") : std::string_view{};

  json::object provisioning{{"state", "registering"}};
  if (hints_ptr) provisioning["rootDeviceHints"] = hints;
  json::object& status = plan.status;
  status["operationalStatus"] = "OK";
  status["errorType"] = "";
  status["errorMessage"] = "";
  status["poweredOn"] = in.bmc_powered_on.value_or(false);

  auto fail = [&](const char* type, const std::string& message) {
    status["operationalStatus"] = "error";
    status["errorType"] = type;
    status["errorMessage"] = message;
  };

  const json::object* server_status = in.server ? objects::status_of(*in.server) : nullptr;
  if (in.server) {
    const std::string server_name(objects::name_of(*in.server));
    plan.link_server = server_name;
    provisioning["ID"] = server_name;
    json::object server_bmc{{"endpoint", string_at(bmc, "address")}};
    if (objects::bool_at(bmc, "disableCertificateVerification")) server_bmc["insecureSkipVerify"] = true;
    const std::string ns(namespace_of(in.host));
    const std::string secret(string_at(bmc, "credentialsName"));
    server_bmc["userFrom"] = json::object{{"secretKeyRef", {{"namespace", ns}, {"name", secret}, {"key", "username"}}}};
    server_bmc["passFrom"] = json::object{{"secretKeyRef", {{"namespace", ns}, {"name", secret}, {"key", "password"}}}};
    plan.server_bmc = std::move(server_bmc);
    if (server_status) status["poweredOn"] = string_at(*server_status, "power") == "on";
  }

  if (in.credentials_error) {
    fail(in.server ? "power management error" : "registration error", "credentials: " + *in.credentials_error);
  } else if (in.bmc_error) {
    fail(in.server ? "power management error" : "registration error", "BMC: " + *in.bmc_error);
  } else if (!in.server && !in.power_on_sent && (previous_state.empty() || previous_state == "registering")) {
    // A status past registering means it was sent (before a restart of ironboot, say): the
    // host is not powered on (or cycled) again. `online: false` is the operator's "keep it
    // off" (Metal3 never powers such a host on for its own sake): it stays registering, its
    // power only read, until online turns true; inspection needs the agent, so a running host.
    plan.power_on_pxe = objects::bool_at(spec, "online");  // required by the CRD
    plan.power_off = !plan.power_on_pxe && in.bmc_powered_on == true;
  } else {
    provisioning["state"] = "inspecting";
  }

  const auto* server_spec = in.server ? objects::spec_of(*in.server) : nullptr;
  const auto* hardware = server_spec ? object_at(*server_spec, "hardware") : nullptr;
  if (hardware && !hardware->empty()) {
    status["hardware"] = hardware_details(*hardware, string_at(spec, "bootMACAddress"));
    if (auto target = select_install_target(hints, *hardware)) {
      provisioning["installTarget"] = *target;
    } else {
      provisioning["installTarget"] = "";
      if (!in.credentials_error && !in.bmc_error)
        fail("inspection error", "no storage device matches spec.rootDeviceHints");
    }
    if (status.at("operationalStatus") == "OK") {
      const std::string_view server_state = server_status ? string_at(*server_status, "state") : std::string_view{};
      const std::string_view mapped = metal3_state(server_state, previous_state);
      if (server_state == "Error") {
        fail("provisioning error", std::string(string_at(*server_status, "errorMessage")));
        if (!previous_state.empty()) provisioning["state"] = previous_state;
      } else {
        provisioning["state"] = mapped.empty() ? "available" : mapped;
      }
    }
  }
  status["provisioning"] = std::move(provisioning);
  return plan;
}

json::object server_link_patch(const json::object& host, const json::object& server, const BmhPlan& plan) {
  json::object patch;
  if (plan.link_server.empty()) return patch;
  const json::object empty;
  const auto* spec_ptr = objects::spec_of(server);
  const json::object& spec = spec_ptr ? *spec_ptr : empty;
  const auto* annotations_ptr = objects::annotations_of(server);
  const json::object& annotations = annotations_ptr ? *annotations_ptr : empty;
  const std::string host_key = std::string(namespace_of(host)) + "/" + std::string(objects::name_of(host));

  json::object spec_patch;
  if (!objects::bool_at(spec, "accepted")) spec_patch["accepted"] = true;
  const auto* host_spec = objects::spec_of(host);
  if (const auto* online = host_spec ? host_spec->if_contains("online") : nullptr; online && online->is_bool()) {
    const auto* current = spec.if_contains("online");
    if (!current || *current != *online) spec_patch["online"] = *online;
  }
  // An operator's own spec.bmc (no link annotation yet) is never replaced.
  const auto* current_bmc = spec.if_contains("bmc");
  const bool has_own_bmc = current_bmc && !current_bmc->is_null() && !annotations.contains(kBmhAnnotation);
  if (!has_own_bmc && !plan.server_bmc.empty() && (!current_bmc || *current_bmc != plan.server_bmc))
    spec_patch["bmc"] = plan.server_bmc;
  if (!spec_patch.empty()) patch["spec"] = std::move(spec_patch);

  json::object annotations_patch;
  if (string_at(annotations, kBmhAnnotation) != host_key) annotations_patch[kBmhAnnotation] = host_key;
  const auto* provisioning = object_at(plan.status, "provisioning");
  const std::string_view target = provisioning ? string_at(*provisioning, "installTarget") : std::string_view{};
  if (!target.empty() && string_at(annotations, kInstallDiskAnnotation) != target)
    annotations_patch[kInstallDiskAnnotation] = target;
  if (!annotations_patch.empty()) patch["metadata"] = json::object{{"annotations", std::move(annotations_patch)}};
  return patch;
}

json::object server_unlink_patch(std::string_view host_key, const json::object& server) {
  const auto* annotations = objects::annotations_of(server);
  if (!annotations || string_at(*annotations, kBmhAnnotation) != host_key) return {};
  json::object remove{{kBmhAnnotation, nullptr}};
  if (annotations->contains(kInstallDiskAnnotation)) remove[kInstallDiskAnnotation] = nullptr;
  return json::object{{"metadata", json::object{{"annotations", std::move(remove)}}}};
}

}  // namespace ironboot::discovery
