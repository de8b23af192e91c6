#include "kube/api_discovery.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "common/text.hpp"
#include "kube/api_openapi.hpp"
#include "kube/request_info.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

constexpr const char* kSubresourceVerbs[] = {"get", "patch", "update"};

// "v1" -> {major 1, stability 2, minor 0}; "v1beta2" -> {1, 1, 2}; not kube-like -> nullopt.
struct KubeVersion {
  long major = 0;
  int stability = 0;  // 2 GA, 1 beta, 0 alpha
  long minor = 0;
};

std::optional<KubeVersion> parse_kube_version(const std::string& v) {
  if (v.size() < 2 || v[0] != 'v' || !std::isdigit(static_cast<unsigned char>(v[1]))) return std::nullopt;
  std::size_t i = 1;
  KubeVersion out;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) out.major = out.major * 10 + (v[i++] - '0');
  if (i == v.size()) {
    out.stability = 2;
    return out;
  }
  const std::string_view rest(v.c_str() + i);
  std::size_t digits;
  if (rest.rfind("alpha", 0) == 0) {
    out.stability = 0;
    digits = i + 5;
  } else if (rest.rfind("beta", 0) == 0) {
    out.stability = 1;
    digits = i + 4;
  } else {
    return std::nullopt;
  }
  if (digits == v.size()) return std::nullopt;
  for (std::size_t j = digits; j < v.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(v[j]))) return std::nullopt;
    out.minor = out.minor * 10 + (v[j] - '0');
  }
  return out;
}

// kube-apiserver's version priority: kube-like versions first (GA > beta > alpha, higher
// numbers first), then the rest alphabetically.
bool higher_priority(const std::string& a, const std::string& b) {
  const auto ka = parse_kube_version(a), kb = parse_kube_version(b);
  if (ka && kb) {
    if (ka->stability != kb->stability) return ka->stability > kb->stability;
    if (ka->major != kb->major) return ka->major > kb->major;
    return ka->minor > kb->minor;
  }
  if (ka || kb) return static_cast<bool>(ka);
  return a < b;
}

json::array string_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::array subresource_verbs() { return json::array(std::begin(kSubresourceVerbs), std::end(kSubresourceVerbs)); }

json::object gvk(const ResourceType& t) {
  return json::object{{"group", t.group}, {"version", t.version}, {"kind", t.kind}};
}

std::string group_version_string(const std::string& group, const std::string& version) {
  return group.empty() ? version : group + "/" + version;
}

json::object group_version_for_discovery(const std::string& group, const std::string& version) {
  return json::object{{"groupVersion", group_version_string(group, version)}, {"version", version}};
}

ApiResponse ok(const json::value& v, std::string type = "application/json") {
  return ApiResponse{200, std::move(type), json::serialize(v)};
}

ApiResponse not_found() { return status_error(404, "NotFound", "the server could not find the requested resource"); }

// Whether one media range ("application/json;g=x;v=y") has the parameter key=value.
bool media_param_is(std::string_view range, std::string_view key, std::string_view value) {
  std::size_t pos = range.find(';');
  while (pos != std::string_view::npos) {
    const auto next = range.find(';', pos + 1);
    const std::string_view param = trim(range.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1));
    const auto eq = param.find('=');
    if (eq != std::string_view::npos && iequals(trim(param.substr(0, eq)), key) && trim(param.substr(eq + 1)) == value) return true;
    pos = next;
  }
  return false;
}

}  // namespace

std::string aggregated_discovery_version(const std::string& accept) {
  std::string_view rest = accept;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view range = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const std::string_view media = trim(range.substr(0, range.find(';')));
    if (!iequals(media, "application/json")) continue;
    if (!media_param_is(range, "g", "apidiscovery.k8s.io") || !media_param_is(range, "as", "APIGroupDiscoveryList")) continue;
    if (media_param_is(range, "v", "v2")) return "v2";
    if (media_param_is(range, "v", "v2beta1")) return "v2beta1";
  }
  return {};
}

std::vector<std::string> group_versions(const std::vector<ResourceType>& types, const std::string& group) {
  std::vector<std::string> out;
  for (const auto& t : types)
    if (t.group == group && std::find(out.begin(), out.end(), t.version) == out.end()) out.push_back(t.version);
  std::stable_sort(out.begin(), out.end(), higher_priority);
  return out;
}

std::vector<std::string> named_groups(const std::vector<ResourceType>& types) {
  std::vector<std::string> out;
  for (const auto& t : types)
    if (!t.group.empty() && std::find(out.begin(), out.end(), t.group) == out.end()) out.push_back(t.group);
  return out;
}

json::object api_versions(const std::vector<ResourceType>& types, const std::string& server_address) {
  // client-go ignores the address (it keeps the configured host); kube-apiserver always
  // lists the 0.0.0.0/0 entry, with the address when it knows one.
  json::object cidr{{"clientCIDR", "0.0.0.0/0"}};
  if (!server_address.empty()) cidr["serverAddress"] = server_address;
  return json::object{{"kind", "APIVersions"},
                      {"versions", string_array(group_versions(types, ""))},
                      {"serverAddressByClientCIDRs", json::array{std::move(cidr)}}};
}

std::optional<json::object> api_group(const std::vector<ResourceType>& types, const std::string& group) {
  const auto versions = group_versions(types, group);
  if (group.empty() || versions.empty()) return std::nullopt;
  json::array list;
  for (const auto& v : versions) list.push_back(group_version_for_discovery(group, v));
  return json::object{{"kind", "APIGroup"}, {"apiVersion", "v1"}, {"name", group}, {"versions", std::move(list)},
                      {"preferredVersion", group_version_for_discovery(group, versions.front())}};
}

json::object api_group_list(const std::vector<ResourceType>& types) {
  json::array groups;
  for (const auto& g : named_groups(types)) {
    json::object o = *api_group(types, g);
    o.erase("kind");
    o.erase("apiVersion");
    groups.push_back(std::move(o));
  }
  return json::object{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::optional<json::object> api_resource_list(const std::vector<ResourceType>& types, const std::string& group,
                                              const std::string& version) {
  json::array resources;
  for (const auto& t : types) {
    if (t.group != group || t.version != version) continue;
    json::object r{{"name", t.plural}, {"singularName", t.singular}, {"namespaced", t.namespaced}, {"kind", t.kind},
                   {"verbs", string_array(t.verbs)}};
    if (!t.short_names.empty()) r["shortNames"] = string_array(t.short_names);
    resources.push_back(std::move(r));
    if (t.status_subresource)
      resources.push_back(json::object{{"name", t.plural + "/status"}, {"singularName", ""}, {"namespaced", t.namespaced},
                                       {"kind", t.kind}, {"verbs", subresource_verbs()}});
  }
  if (resources.empty()) return std::nullopt;
  return json::object{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", group_version_string(group, version)},
                      {"resources", std::move(resources)}};
}

json::object aggregated_discovery(const std::vector<ResourceType>& types, bool core, const std::string& version) {
  json::array items;
  const std::vector<std::string> groups = core ? std::vector<std::string>{""} : named_groups(types);
  for (const auto& g : groups) {
    json::array versions;
    for (const auto& v : group_versions(types, g)) {
      json::array resources;
      for (const auto& t : types) {
        if (t.group != g || t.version != v) continue;
        json::object r{{"resource", t.plural}, {"responseKind", gvk(t)}, {"scope", t.namespaced ? "Namespaced" : "Cluster"},
                       {"singularResource", t.singular}, {"verbs", string_array(t.verbs)}};
        if (!t.short_names.empty()) r["shortNames"] = string_array(t.short_names);
        if (t.status_subresource)
          r["subresources"] = json::array{json::object{{"subresource", "status"}, {"responseKind", gvk(t)},
                                                       {"verbs", subresource_verbs()}}};
        resources.push_back(std::move(r));
      }
      versions.push_back(json::object{{"version", v}, {"resources", std::move(resources)}, {"freshness", "Current"}});
    }
    if (versions.empty()) continue;
    items.push_back(json::object{{"metadata", json::object{{"name", g}}}, {"versions", std::move(versions)}});
  }
  return json::object{{"kind", "APIGroupDiscoveryList"}, {"apiVersion", "apidiscovery.k8s.io/" + version},
                      {"metadata", json::object{}}, {"items", std::move(items)}};
}

std::optional<ApiResponse> discovery_response(const std::string& method, const std::string& path, const std::string& accept,
                                              const std::vector<ResourceType>& types, const std::string& server_address) {
  if (method != "GET" && method != "HEAD") return std::nullopt;
  if (path == "/version" || path == "/version/") {
    return ok(json::object{{"major", "1"}, {"minor", "32"}, {"gitVersion", "v1.32.0"}, {"gitCommit", ""},
                           {"gitTreeState", "clean"}, {"buildDate", "2026-01-01T00:00:00Z"}, {"goVersion", "go1.23"},
                           {"compiler", "gc"}, {"platform", "linux/amd64"}});
  }
  if (path == "/healthz" || path == "/readyz" || path == "/livez") return ApiResponse{200, "text/plain", "ok"};
  if (auto openapi = openapi_response(path, types)) return openapi;

  const std::string aggregated = aggregated_discovery_version(accept);
  const std::string aggregated_type = "application/json;g=apidiscovery.k8s.io;v=" + aggregated + ";as=APIGroupDiscoveryList";
  if (path == "/api" || path == "/api/") {
    if (!aggregated.empty()) return ok(aggregated_discovery(types, true, aggregated), aggregated_type);
    return ok(api_versions(types, server_address));
  }
  if (path == "/apis" || path == "/apis/") {
    if (!aggregated.empty()) return ok(aggregated_discovery(types, false, aggregated), aggregated_type);
    return ok(api_group_list(types));
  }
  // /api/{version}, /apis/{group}, /apis/{group}/{version}; longer paths are resources.
  if (path.rfind("/api/", 0) == 0) {
    const auto parts = path_segments(std::string_view(path).substr(5));
    if (parts.size() != 1) return std::nullopt;
    if (auto list = api_resource_list(types, "", parts[0])) return ok(*list);
    return not_found();
  }
  if (path.rfind("/apis/", 0) == 0) {
    const auto parts = path_segments(std::string_view(path).substr(6));
    if (parts.size() == 1) {
      if (auto g = api_group(types, parts[0])) return ok(*g);
      return not_found();
    }
    if (parts.size() == 2) {
      if (auto list = api_resource_list(types, parts[0], parts[1])) return ok(*list);
      return not_found();
    }
  }
  return std::nullopt;
}

}  // namespace ironboot::kube
