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

bool valid_disk_method(std::string_view m) { return m == "ipxe-exit" || m == "http-404" || m == "ipxe-sanboot"; }

BootChoice agent(std::string reason) {
  BootChoice c;
  c.kind = BootChoice::Kind::agent;
  c.reason = std::move(reason);
  return c;
}

std::optional<EnvironmentBoot> environment_boot(const json::object& env) {
  EnvironmentBoot out;
  out.name = std::string(objects::name_of(env));
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

const char* to_string(BootChoice::Kind kind) {
  switch (kind) {
    case BootChoice::Kind::agent: return "agent";
    case BootChoice::Kind::environment: return "environment";
    case BootChoice::Kind::disk: return "disk";
  }
  return "agent";
}

BootChoice decide_boot(const BootInputs& in) {
  if (!in.server) return agent("unknown server");
  const json::object& server = *in.server;
  if (!objects::spec_bool(server, "accepted")) return agent("not accepted");
  if (!objects::status_bool(server, "isClean")) return agent("not clean");

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
    auto choice = agent("ambiguous classes " + list);
    Condition ambiguous{"AmbiguousClass", true, "SeveralClassEnvironments",
                        "classes " + list + " all set an environment; set spec.environmentRef or narrow them"};
    const auto* existing = objects::find_condition(server, "AmbiguousClass");
    if (!was_ambiguous || !existing || objects::string_at(*existing, "message") != ambiguous.message)
      choice.server_conditions.push_back(std::move(ambiguous));
    return choice;
  }
  if (was_ambiguous) conditions.push_back(Condition{"AmbiguousClass", false, "Resolved", ""});
  if (env_name.empty() && with_environment.size() == 1) {
    env_class = with_environment.front();
    env_name = std::string(objects::environment_ref_name(*env_class));
  }

  auto finish = [&](BootChoice choice) {
    choice.server_conditions = conditions;
    return choice;
  };

  if (!env_name.empty()) {
    const json::object* env = in.environment ? in.environment(env_name) : nullptr;
    if (!env) return finish(agent("environment " + env_name + " not found"));
    if (!objects::condition_is_true(*env, "Ready")) return finish(agent("environment " + env_name + " not ready"));
    auto boot = environment_boot(*env);
    if (!boot) return finish(agent("environment " + env_name + " has no kernel url"));
    const auto* booted = objects::find_condition(server, "PXEBooted");
    const bool booted_this = booted && objects::string_at(*booted, "status") == "True" &&
                             objects::string_at(*booted, "message") == env_name;
    if (objects::spec_bool(server, "pxeBootAlways") || !booted_this) {
      BootChoice choice;
      choice.kind = BootChoice::Kind::environment;
      choice.reason = (objects::spec_bool(server, "pxeBootAlways") ? "pxeBootAlways environment " : "environment ") +
                      env_name;
      choice.environment = std::move(*boot);
      return finish(std::move(choice));
    }
  }

  // Boot from disk: Server, then a class (the environment's class first, `any` last), then config.
  BootChoice choice;
  choice.kind = BootChoice::Kind::disk;
  choice.reason = env_name.empty() ? "no environment" : "already booted environment " + env_name;
  std::string method(objects::spec_string(server, "bootFromDiskMethod"));
  if (!valid_disk_method(method)) {
    method.clear();
    std::stable_sort(claiming.begin(), claiming.end(), [&](const json::object* a, const json::object* b) {
      auto rank = [&](const json::object* c) {
        return c == env_class ? 0 : objects::name_of(*c) == "any" ? 2 : 1;
      };
      return rank(a) < rank(b);
    });
    for (const auto* c : claiming) {
      const auto m = objects::spec_string(*c, "bootFromDiskMethod");
      if (valid_disk_method(m)) {
        method = std::string(m);
        break;
      }
    }
  }
  choice.disk_method = method.empty() ? in.default_disk_method : method;
  return finish(std::move(choice));
}

json::object status_for_pxe_booted(const json::object& server, std::string_view environment, std::string_view now) {
  const auto* status = objects::status_of(server);
  auto conditions = objects::with_condition(status ? objects::array_at(*status, "conditions") : nullptr,
                                            Condition{"PXEBooted", true, "EnvironmentServed", std::string(environment)},
                                            now);
  return json::object{{"status", json::object{{"conditions", std::move(conditions)}}}};
}

std::optional<json::object> status_for_boot_choice(const json::object& server, const BootChoice& choice,
                                                   std::string_view now) {
  if (choice.server_conditions.empty()) return std::nullopt;
  const auto* status = objects::status_of(server);
  json::array conditions = status && objects::array_at(*status, "conditions") ? *objects::array_at(*status, "conditions")
                                                                              : json::array{};
  for (const auto& c : choice.server_conditions) conditions = objects::with_condition(&conditions, c, now);
  return json::object{{"status", json::object{{"conditions", std::move(conditions)}}}};
}

}  // namespace ironboot::discovery
