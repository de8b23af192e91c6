#include "serverclass/reconciler.hpp"

#include "kube/objects.hpp"

#include <algorithm>

namespace ironboot::serverclass {

namespace json = boost::json;

bool server_is_eligible(const json::object& server) {
  return objects::spec_bool(server, "accepted") && !objects::spec_bool(server, "cordoned");
}

std::vector<ClassStatus> reconcile(const std::vector<const json::object*>& servers,
                                   const std::vector<const json::object*>& classes, MatcherCache& cache) {
  std::vector<const json::object*> eligible;
  for (const auto* s : servers) {
    if (s && server_is_eligible(*s) && !objects::name_of(*s).empty()) eligible.push_back(s);
  }
  std::vector<ClassStatus> out;
  std::vector<std::string> names;
  for (const auto* c : classes) {
    if (!c) continue;
    const auto compiled = cache.get(*c);
    ClassStatus status;
    status.name = compiled->name();
    status.error = compiled->error();
    names.push_back(status.name);
    if (compiled->valid()) {
      for (const auto* s : eligible) {
        if (!compiled->matches(*s)) continue;
        auto& list = objects::status_bool(*s, "inUse") ? status.servers_in_use : status.servers_available;
        list.emplace_back(objects::name_of(*s));
      }
      std::sort(status.servers_available.begin(), status.servers_available.end());
      std::sort(status.servers_in_use.begin(), status.servers_in_use.end());
    }
    out.push_back(std::move(status));
  }
  cache.retain_only(names);
  return out;
}

std::vector<std::string> classes_of(std::string_view server_name, const std::vector<ClassStatus>& statuses) {
  std::vector<std::string> out;
  for (const auto& s : statuses) {
    if (std::binary_search(s.servers_available.begin(), s.servers_available.end(), server_name) ||
        std::binary_search(s.servers_in_use.begin(), s.servers_in_use.end(), server_name))
      out.push_back(s.name);
  }
  return out;
}

json::object make_any_server_class() {
  return json::object{{"apiVersion", kube::kApiVersion},
                      {"kind", "ServerClass"},
                      {"metadata", json::object{{"name", kAnyClassName}}},
                      {"spec", json::object{{"qualifiers", json::object{}}}}};
}

bool has_any_class(const std::vector<const json::object*>& classes) {
  return std::any_of(classes.begin(), classes.end(),
                     [](const json::object* c) { return c && objects::name_of(*c) == kAnyClassName; });
}

namespace {

json::array names_array(const std::vector<std::string>& names) {
  json::array a;
  for (const auto& n : names) a.emplace_back(n);
  return a;
}

}  // namespace

std::optional<json::object> status_patch(const json::object& server_class, const ClassStatus& status,
                                         std::string_view now) {
  const auto* current = objects::status_of(server_class);
  const json::array available = names_array(status.servers_available);
  const json::array in_use = names_array(status.servers_in_use);

  objects::Condition ready;
  ready.type = "Ready";
  ready.status = !status.error.has_value();
  ready.reason = status.error ? "InvalidQualifiers" : "Valid";
  ready.message = status.error ? status.error->text() : "";

  json::object patch;
  auto list_differs = [&](std::string_view key, const json::array& want) {
    const json::array* have = current ? objects::array_at(*current, key) : nullptr;
    return have ? *have != want : !want.empty() || !current || !current->contains(key);
  };
  if (list_differs("serversAvailable", available)) patch["serversAvailable"] = available;
  if (list_differs("serversInUse", in_use)) patch["serversInUse"] = in_use;

  const auto* existing = objects::find_condition(server_class, "Ready");
  const bool condition_same = existing && objects::string_at(*existing, "status") == (ready.status ? "True" : "False") &&
                              objects::string_at(*existing, "reason") == ready.reason &&
                              objects::string_at(*existing, "message") == ready.message;
  if (!condition_same) {
    patch["conditions"] = objects::with_condition(current ? objects::array_at(*current, "conditions") : nullptr,
                                                  ready, now);
  }
  if (patch.empty()) return std::nullopt;
  return json::object{{"status", std::move(patch)}};
}

}  // namespace ironboot::serverclass
