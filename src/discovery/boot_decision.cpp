#include "discovery/boot_decision.hpp"

#include "kube/objects.hpp"

#include <algorithm>
#include <optional>

namespace ironboot::discovery {

namespace json = boost::json;
using objects::Condition;

namespace {

bool lists(const json::object& server_class, std::string_view server_name) {
  const auto* status = objects::status_of(server_class);
  if (!status) return false;
  for (const char* key : {"serversAvailable", "serversInUse"}) {
    if (const auto* list = objects::array_at(*status, key)) {
      for (const auto& n : *list) {
        if (n.is_string() && n.get_string() == server_name) return true;
      }
    }
  }
  return false;
}

std::optional<KernelBoot> environment_boot(const json::object& env) {
  KernelBoot out;
  const auto* spec = objects::spec_of(env);
  const auto* kernel = spec ? objects::object_at(*spec, "kernel") : nullptr;
  const auto* initrd = spec ? objects::object_at(*spec, "initrd") : nullptr;
  if (!kernel) return std::nullopt;
  out.kernel_url = std::string(objects::string_at(*kernel, "url"));
  if (out.kernel_url.empty()) return std::nullopt;
  if (initrd) out.initrd_url = std::string(objects::string_at(*initrd, "url"));
  if (const auto* args = objects::array_at(*kernel, "args")) {
    for (const auto& a : *args) {
      if (a.is_string()) out.args.emplace_back(a.get_string());
    }
  }
  return out;
}

}  // namespace

BootDecision decide_boot(const BootInputs& in, std::vector<Condition>* server_conditions) {
  if (server_conditions) server_conditions->clear();
  if (!in.server) return BootDecision::agent("unknown server");
  const json::object& server = *in.server;
  if (!objects::spec_bool(server, "accepted")) return BootDecision::agent("not accepted");
  if (!objects::status_bool(server, "isClean")) return BootDecision::agent("not clean");

  const auto name = objects::name_of(server);
  std::vector<const json::object*> claiming;  // classes listing the server
  std::vector<const json::object*> with_environment;
  std::vector<std::string> member_of;
  if (in.memberships) member_of = serverclass::classes_of(name, *in.memberships);
  auto claims = [&](const json::object& c) {
    if (!in.memberships) return lists(c, name);
    return std::find(member_of.begin(), member_of.end(), objects::name_of(c)) != member_of.end();
  };
  for (const auto* c : in.classes) {
    if (!c || !claims(*c)) continue;
    claiming.push_back(c);
    if (!objects::environment_ref_name(*c).empty()) with_environment.push_back(c);
  }

  std::vector<Condition> conditions;
  const bool was_ambiguous = objects::condition_is_true(server, "AmbiguousClass");
  std::string env_name(objects::environment_ref_name(server));
  const json::object* env_class = nullptr;
  if (env_name.empty() && with_environment.size() > 1) {
    std::vector<std::string> names;
    for (const auto* c : with_environment) names.emplace_back(objects::name_of(*c));
    std::sort(names.begin(), names.end());
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    Condition ambiguous{"AmbiguousClass", true, "SeveralClassEnvironments",
                        "classes " + list + " all set an environment; set spec.environmentRef or narrow them"};
    const auto* existing = objects::find_condition(server, "AmbiguousClass");
    if (server_conditions &&
        (!was_ambiguous || !existing || objects::string_at(*existing, "message") != ambiguous.message))
      server_conditions->push_back(std::move(ambiguous));
    return BootDecision::agent("ambiguous classes " + list);
  }
  if (was_ambiguous) conditions.push_back(Condition{"AmbiguousClass", false, "Resolved", ""});
  if (env_name.empty() && with_environment.size() == 1) {
    env_class = with_environment.front();
    env_name = std::string(objects::environment_ref_name(*env_class));
  }

  auto finish = [&](BootDecision decision) {
    if (server_conditions) *server_conditions = conditions;
    return decision;
  };

  if (!env_name.empty()) {
    const json::object* env = in.environment ? in.environment(env_name) : nullptr;
    if (!env) return finish(BootDecision::agent("environment " + env_name + " not found"));
    if (!objects::condition_is_true(*env, "Ready"))
      return finish(BootDecision::agent("environment " + env_name + " not ready"));
    auto boot = environment_boot(*env);
    if (!boot) return finish(BootDecision::agent("environment " + env_name + " has no kernel url"));
    const auto* booted = objects::find_condition(server, "PXEBooted");
    const bool booted_this = booted && objects::string_at(*booted, "status") == "True" &&
                             objects::string_at(*booted, "message") == env_name;
    if (objects::spec_bool(server, "pxeBootAlways") || !booted_this) {
      return finish(BootDecision::boot_environment(
          std::move(*boot), env_name,
          (objects::spec_bool(server, "pxeBootAlways") ? "pxeBootAlways environment " : "environment ") + env_name));
    }
  }

  // Boot from disk: Server, then a class (the environment's class first, `any` last), then config.
  // An unknown spelling (an API that does not enforce the CRD enum) counts as unset.
  std::optional<DiskBootMethod> method = parse_disk_boot_method(objects::spec_string(server, "bootFromDiskMethod"));
  if (!method) {
    std::stable_sort(claiming.begin(), claiming.end(), [&](const json::object* a, const json::object* b) {
      auto rank = [&](const json::object* c) {
        return c == env_class ? 0 : objects::name_of(*c) == "any" ? 2 : 1;
      };
      return rank(a) < rank(b);
    });
    for (const auto* c : claiming) {
      method = parse_disk_boot_method(objects::spec_string(*c, "bootFromDiskMethod"));
      if (method) break;
    }
  }
  std::string reason = env_name.empty() ? "no environment" : "already booted environment " + env_name;
  return finish(BootDecision::boot_from_disk(method.value_or(in.default_disk_method), std::move(reason)));
}

json::object status_for_pxe_booted(const json::object& server, std::string_view environment, std::string_view now) {
  const auto* status = objects::status_of(server);
  auto conditions = objects::with_condition(status ? objects::array_at(*status, "conditions") : nullptr,
                                            Condition{"PXEBooted", true, "EnvironmentServed", std::string(environment)},
                                            now);
  return json::object{{"status", json::object{{"conditions", std::move(conditions)}}}};
}

std::optional<json::object> status_for_server_conditions(const json::object& server,
                                                        const std::vector<Condition>& server_conditions,
                                                        std::string_view now) {
  if (server_conditions.empty()) return std::nullopt;
  const auto* status = objects::status_of(server);
  json::array conditions = status && objects::array_at(*status, "conditions") ? *objects::array_at(*status, "conditions")
                                                                              : json::array{};
  for (const auto& c : server_conditions) conditions = objects::with_condition(&conditions, c, now);
  return json::object{{"status", json::object{{"conditions", std::move(conditions)}}}};
}

}  // namespace ironboot::discovery
