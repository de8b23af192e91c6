#include "bmc/redfish_codec.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "common/text.hpp"

namespace ironboot::bmc::redfish {

namespace json = boost::json;

namespace {

// Parses a bounded document into an object; "" error on success.
std::string parse_object(std::string_view body, json::value& out) {
  if (body.size() > kMaxDocumentBytes) return "document of " + std::to_string(body.size()) + " bytes is too large";
  json::parse_options options;
  options.max_depth = 32;
  boost::system::error_code ec;
  out = json::parse(body, ec, {}, options);
  if (ec) return "not JSON: " + ec.message();
  if (!out.is_object()) return "not a JSON object";
  return {};
}

bool clean_text(std::string_view s) {
  if (s.size() > kMaxStringBytes) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// A string member, "" when absent, not a string, too long or holding control characters.
std::string text(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  const auto& s = it->value().get_string();
  std::string_view v(s.data(), s.size());
  return clean_text(v) ? std::string(v) : std::string();
}

// Free text (messages) may be long or carry newlines: kept, bounded, control bytes blanked.
std::string message_text(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  const auto& s = it->value().get_string();
  std::string out(s.data(), std::min<std::size_t>(s.size(), kMaxStringBytes));
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

const json::object* object_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

// {"@odata.id": "/path"} -> its path ("" when absent or not a path).
std::string link_of(const json::object& o, std::string_view key) {
  const auto* link = object_at(o, key);
  return link ? uri_path(text(*link, "@odata.id")) : std::string();
}

std::vector<std::string> string_list(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return out;
  for (const auto& v : it->value().get_array()) {
    if (out.size() >= kMaxListItems) break;
    if (!v.is_string()) continue;
    std::string_view s(v.get_string().data(), v.get_string().size());
    if (!s.empty() && clean_text(s)) out.emplace_back(s);
  }
  return out;
}

std::vector<RedfishMessage> messages_of(const json::object& o, std::string_view key) {
  std::vector<RedfishMessage> out;
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return out;
  for (const auto& v : it->value().get_array()) {
    if (out.size() >= kMaxListItems) break;
    if (!v.is_object()) continue;
    const auto& m = v.get_object();
    out.push_back({text(m, "MessageId"), message_text(m, "Message"), string_list(m, "RelatedProperties")});
  }
  return out;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
    if (iequals(haystack.substr(i, needle.size()), needle)) return true;
  return false;
}

}  // namespace

std::string uri_path(std::string_view reference) {
  if (reference.empty() || !clean_text(reference)) return {};
  if (reference.front() == '/') {
    if (reference.size() > 1 && reference[1] == '/') return {};  // network-path reference
    // Only what is a valid request target: no spaces, non-ASCII bytes percent-encoded.
    auto origin = boost::urls::parse_origin_form(reference.substr(0, reference.find('#')));
    return origin ? std::string(origin->encoded_path()) : std::string();
  }
  auto url = boost::urls::parse_absolute_uri(reference);
  if (!url) return {};
  if (!iequals(url->scheme(), "https") && !iequals(url->scheme(), "http")) return {};
  std::string path(url->encoded_path());
  return path.empty() || path.front() != '/' ? std::string() : path;
}

PowerState power_state_of(std::string_view s) {
  if (s == "On" || s == "PoweringOn") return PowerState::On;
  if (s == "Off" || s == "PoweringOff") return PowerState::Off;
  return PowerState::Unknown;
}

Parsed<ServiceRoot> parse_service_root(std::string_view body) {
  json::value v;
  if (auto err = parse_object(body, v); !err.empty()) return Parsed<ServiceRoot>::failure("service root: " + err);
  const auto& o = v.get_object();
  ServiceRoot root;
  root.systems_path = link_of(o, "Systems");
  root.redfish_version = text(o, "RedfishVersion");
  if (const auto* links = object_at(o, "Links")) root.sessions_path = link_of(*links, "Sessions");
  if (root.sessions_path.empty() && !link_of(o, "SessionService").empty()) {
    // Links.Sessions is mandatory since 1.0; an old service names only the SessionService.
    root.sessions_path = link_of(o, "SessionService") + "/Sessions";
    if (root.sessions_path.starts_with("//")) root.sessions_path.erase(0, 1);
  }
  if (root.systems_path.empty() && o.find("@odata.id") == o.end() && o.find("RedfishVersion") == o.end())
    return Parsed<ServiceRoot>::failure("service root: neither @odata.id nor RedfishVersion: not a Redfish service");
  return {root, {}};
}

Parsed<std::vector<std::string>> parse_systems_collection(std::string_view body) {
  json::value v;
  if (auto err = parse_object(body, v); !err.empty())
    return Parsed<std::vector<std::string>>::failure("Systems collection: " + err);
  const auto& o = v.get_object();
  std::vector<std::string> members;
  if (auto it = o.find("Members"); it != o.end() && it->value().is_array()) {
    for (const auto& m : it->value().get_array()) {
      if (members.size() >= kMaxListItems) break;
      if (!m.is_object()) continue;
      auto path = uri_path(text(m.get_object(), "@odata.id"));
      if (!path.empty()) members.push_back(std::move(path));
    }
  }
  if (members.empty()) return Parsed<std::vector<std::string>>::failure("Systems collection has no members");
  return {std::move(members), {}};
}

Parsed<ComputerSystem> parse_computer_system(std::string_view body) {
  json::value v;
  if (auto err = parse_object(body, v); !err.empty()) return Parsed<ComputerSystem>::failure("ComputerSystem: " + err);
  const auto& o = v.get_object();
  ComputerSystem sys;
  sys.power_state = text(o, "PowerState");
  sys.power = power_state_of(sys.power_state);
  sys.etag = text(o, "@odata.etag");
  if (const auto* boot = object_at(o, "Boot")) {
    auto& b = sys.boot;
    b.present = true;
    b.target = text(*boot, "BootSourceOverrideTarget");
    b.enabled = text(*boot, "BootSourceOverrideEnabled");
    b.has_mode = boot->find("BootSourceOverrideMode") != boot->end();
    b.mode = text(*boot, "BootSourceOverrideMode");
    b.target_allowed = string_list(*boot, "BootSourceOverrideTarget@Redfish.AllowableValues");
    b.enabled_allowed = string_list(*boot, "BootSourceOverrideEnabled@Redfish.AllowableValues");
    b.mode_allowed = string_list(*boot, "BootSourceOverrideMode@Redfish.AllowableValues");
  }
  if (const auto* actions = object_at(o, "Actions")) {
    if (const auto* reset = object_at(*actions, "#ComputerSystem.Reset")) {
      sys.reset.target = uri_path(text(*reset, "target"));
      sys.reset.allowed = string_list(*reset, "ResetType@Redfish.AllowableValues");
    }
  }
  if (sys.power_state.empty() && !sys.boot.present && sys.reset.target.empty())
    return Parsed<ComputerSystem>::failure("ComputerSystem has neither PowerState, Boot nor a Reset action");
  return {std::move(sys), {}};
}

RedfishError parse_error(std::string_view body) {
  RedfishError e;
  json::value v;
  if (!parse_object(body, v).empty()) {
    std::string_view head = body.substr(0, std::min<std::size_t>(body.size(), 200));
    e.message = std::string(trim(head));
    for (auto& c : e.message)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return e;
  }
  const auto& o = v.get_object();
  if (const auto* err = object_at(o, "error")) {
    e.code = text(*err, "code");
    e.message = message_text(*err, "message");
    e.extended = messages_of(*err, "@Message.ExtendedInfo");
  }
  if (e.extended.empty()) e.extended = messages_of(o, "@Message.ExtendedInfo");
  return e;
}

std::string RedfishError::summary() const {
  std::string out;
  auto add = [&](const std::string& part) {
    if (part.empty()) return;
    if (!out.empty()) out += "; ";
    out += part;
  };
  if (!code.empty() || !message.empty()) add(code.empty() ? message : message.empty() ? code : code + ": " + message);
  for (const auto& m : extended) {
    std::string part = m.message_id.empty() ? m.message : m.message.empty() ? m.message_id : m.message_id + ": " + m.message;
    if (!m.related_properties.empty()) {
      part += " (";
      for (std::size_t i = 0; i < m.related_properties.size(); ++i) part += (i ? ", " : "") + m.related_properties[i];
      part += ")";
    }
    add(part);
    if (out.size() > 400) break;
  }
  if (out.size() > 400) out = out.substr(0, 397) + "...";
  return out;
}

bool RedfishError::concerns(std::string_view property) const {
  for (const auto& m : extended) {
    for (const auto& p : m.related_properties) {
      std::string_view name(p);
      if (auto slash = name.rfind('/'); slash != std::string_view::npos) name = name.substr(slash + 1);
      if (name == property) return true;
    }
    if (contains_ci(m.message, property)) return true;
  }
  return contains_ci(message, property);
}

bool Task::failed() const { return state == "Exception" || state == "Killed" || state == "Cancelled"; }
bool Task::done() const { return state == "Completed" || failed(); }

Parsed<Task> parse_task(std::string_view body) {
  json::value v;
  if (auto err = parse_object(body, v); !err.empty()) return Parsed<Task>::failure("Task: " + err);
  const auto& o = v.get_object();
  Task t;
  t.state = text(o, "TaskState");
  if (t.state.empty()) return Parsed<Task>::failure("Task without TaskState");
  t.messages = messages_of(o, "Messages");
  return {std::move(t), {}};
}

Parsed<Session> parse_session_created(std::string_view token_header, std::string_view location_header,
                                      std::string_view body) {
  Session s;
  token_header = trim(token_header);
  if (token_header.empty()) return Parsed<Session>::failure("session created without an X-Auth-Token header");
  if (!clean_text(token_header) || token_header.find(' ') != std::string_view::npos)
    return Parsed<Session>::failure("X-Auth-Token is not a header-safe token");
  s.token = std::string(token_header);
  s.path = uri_path(trim(location_header));
  if (s.path.empty()) {
    json::value v;
    if (parse_object(body, v).empty()) s.path = uri_path(text(v.get_object(), "@odata.id"));
  }
  if (s.path.empty()) return Parsed<Session>::failure("session created without a Location or @odata.id to log out with");
  return {std::move(s), {}};
}

bool is_session_limit(int status, const RedfishError& error) {
  if (status == 503) return true;
  for (const auto& m : error.extended)
    if (m.message_id.find("SessionLimitExceeded") != std::string::npos) return true;
  const auto limit_text = [](std::string_view t) { return contains_ci(t, "maximum number of") && contains_ci(t, "session"); };
  if (limit_text(error.message)) return true;
  for (const auto& m : error.extended)
    if (limit_text(m.message)) return true;
  return false;
}

}  // namespace ironboot::bmc::redfish
