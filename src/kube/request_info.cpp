#include "kube/request_info.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <vector>

#include "common/text.hpp"

namespace ironboot::kube {

namespace {

std::optional<RequestInfo> fail(std::string* error, const char* why) {
  if (error) *error = why;
  return std::nullopt;
}

}  // namespace

std::vector<std::string> path_segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::optional<RequestInfo> parse_request_info(std::string_view method, std::string_view target, std::string* error) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return fail(error, "malformed request target");
  RequestInfo info;
  info.path = std::string(parsed->path());
  for (const auto& p : parsed->params()) info.query.emplace(std::string(p.key), std::string(p.value));
  info.verb = ascii_lowercase(std::string(method));

  const std::vector<std::string> parts = path_segments(info.path);
  // /api/v1/... (core) or /apis/{group}/{version}/...; anything shorter is discovery.
  std::size_t at = 0;
  if (parts.size() >= 3 && parts[0] == "api") {
    info.version = parts[1];
    at = 2;
  } else if (parts.size() >= 4 && parts[0] == "apis") {
    info.group = parts[1];
    info.version = parts[2];
    at = 3;
  } else {
    return info;
  }
  info.resource_request = true;
  std::vector<std::string> rest(parts.begin() + static_cast<std::ptrdiff_t>(at), parts.end());
  // namespaces/{ns}/{resource}...: a namespaced request. namespaces/{ns}[/status|/finalize]
  // is the Namespace object itself.
  if (rest.size() >= 2 && rest[0] == "namespaces" && !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
    if (rest.size() > 2) {
      info.namespace_name = rest[1];
      rest.erase(rest.begin(), rest.begin() + 2);
    }
  }
  if (rest.empty() || rest.size() > 3) return fail(error, "the server could not find the requested resource");
  info.resource = rest[0];
  if (rest.size() >= 2) info.name = rest[1];
  if (rest.size() == 3) info.subresource = rest[2];

  const std::string m = info.verb;
  if (m == "get" || m == "head") {
    bool watch = false;
    if (auto it = info.query.find("watch"); it != info.query.end()) watch = parse_go_bool(it->second).value_or(false);
    info.verb = watch ? "watch" : info.name.empty() ? "list" : "get";
  } else if (m == "post") {
    info.verb = "create";
  } else if (m == "put") {
    info.verb = "update";
  } else if (m == "patch") {
    info.verb = "patch";
  } else if (m == "delete") {
    info.verb = info.name.empty() ? "deletecollection" : "delete";
  }
  return info;
}

}  // namespace ironboot::kube
