#include "kube/json_ops.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>

namespace ironboot::kube {

namespace json = boost::json;

json::value merge_patch(const json::value& target, const json::value& patch) {
  if (!patch.is_object()) return patch;
  json::object result = target.is_object() ? target.get_object() : json::object{};
  for (const auto& [key, value] : patch.get_object()) {
    if (value.is_null()) {
      result.erase(key);
    } else {
      auto it = result.find(key);
      result[key] = merge_patch(it == result.end() ? json::value(nullptr) : it->value(), value);
    }
  }
  return result;
}

json::value merge_diff(const json::value& from, const json::value& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json::object patch;
  const auto& a = from.get_object();
  const auto& b = to.get_object();
  for (const auto& [key, value] : a) {
    if (!b.contains(key)) patch[key] = nullptr;
  }
  for (const auto& [key, value] : b) {
    auto it = a.find(key);
    if (it == a.end()) {
      patch[key] = value;
    } else if (it->value() != value) {
      if (it->value().is_object() && value.is_object()) {
        patch[key] = merge_diff(it->value(), value);
      } else {
        patch[key] = value;
      }
    }
  }
  return patch;
}

namespace {

// RFC 6901 reference tokens of a JSON pointer; nullopt when malformed.
std::optional<std::vector<std::string>> split_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') return std::nullopt;
  std::size_t pos = 1;
  while (true) {
    std::size_t next = pointer.find('/', pos);
    std::string_view raw = pointer.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~') {
        if (i + 1 >= raw.size()) return std::nullopt;
        if (raw[i + 1] == '0') token += '~';
        else if (raw[i + 1] == '1') token += '/';
        else return std::nullopt;
        ++i;
      } else {
        token += raw[i];
      }
    }
    tokens.push_back(std::move(token));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return tokens;
}

std::optional<std::size_t> array_index(const std::string& token, std::size_t size, bool allow_end) {
  if (allow_end && token == "-") return size;
  if (token.empty() || (token.size() > 1 && token[0] == '0')) return std::nullopt;
  std::size_t index = 0;
  auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
  if (ec != std::errc() || p != token.data() + token.size()) return std::nullopt;
  if (index > size || (!allow_end && index == size)) return std::nullopt;
  return index;
}

json::value* resolve(json::value& doc, const std::vector<std::string>& tokens, std::size_t count) {
  json::value* cur = &doc;
  for (std::size_t i = 0; i < count; ++i) {
    if (cur->is_object()) {
      auto it = cur->get_object().find(tokens[i]);
      if (it == cur->get_object().end()) return nullptr;
      cur = &it->value();
    } else if (cur->is_array()) {
      auto idx = array_index(tokens[i], cur->get_array().size(), false);
      if (!idx) return nullptr;
      cur = &cur->get_array()[*idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

std::optional<std::string> remove_at(json::value& doc, const std::vector<std::string>& path, json::value* removed) {
  if (path.empty()) return "cannot remove the whole document";
  json::value* parent = resolve(doc, path, path.size() - 1);
  if (!parent) return "path not found";
  const std::string& last = path.back();
  if (parent->is_object()) {
    auto it = parent->get_object().find(last);
    if (it == parent->get_object().end()) return "path not found";
    if (removed) *removed = it->value();
    parent->get_object().erase(it);
    return std::nullopt;
  }
  if (parent->is_array()) {
    auto& arr = parent->get_array();
    auto idx = array_index(last, arr.size(), false);
    if (!idx) return "array index out of range";
    if (removed) *removed = arr[*idx];
    arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(*idx));
    return std::nullopt;
  }
  return "path not found";
}

std::optional<std::string> add_at(json::value& doc, const std::vector<std::string>& path, json::value value) {
  if (path.empty()) {
    doc = std::move(value);
    return std::nullopt;
  }
  json::value* parent = resolve(doc, path, path.size() - 1);
  if (!parent) return "parent path not found";
  const std::string& last = path.back();
  if (parent->is_object()) {
    parent->get_object()[last] = std::move(value);
    return std::nullopt;
  }
  if (parent->is_array()) {
    auto& arr = parent->get_array();
    auto idx = array_index(last, arr.size(), true);
    if (!idx) return "array index out of range";
    arr.insert(arr.begin() + static_cast<std::ptrdiff_t>(*idx), std::move(value));
    return std::nullopt;
  }
  return "parent is not a container";
}

}  // namespace

std::optional<std::string> apply_json_patch(json::value& document, const json::value& ops) {
  if (!ops.is_array()) return "a JSON patch must be an array of operations";
  json::value work = document;
  std::size_t n = 0;
  for (const auto& op_value : ops.get_array()) {
    const std::string where = "operation " + std::to_string(n++) + ": ";
    if (!op_value.is_object()) return where + "not an object";
    const auto& op = op_value.get_object();
    const auto* op_name = op.if_contains("op");
    const auto* path_v = op.if_contains("path");
    if (!op_name || !op_name->is_string() || !path_v || !path_v->is_string()) return where + "missing op or path";
    auto path = split_pointer(path_v->get_string());
    if (!path) return where + "malformed path";
    const std::string name(op_name->get_string());
    const json::value* value = op.if_contains("value");
    std::optional<std::string> err;
    if (name == "add") {
      if (!value) return where + "missing value";
      err = add_at(work, *path, *value);
    } else if (name == "remove") {
      err = remove_at(work, *path, nullptr);
    } else if (name == "replace") {
      if (!value) return where + "missing value";
      json::value* target = resolve(work, *path, path->size());
      if (!target) err = "path not found";
      else *target = *value;
    } else if (name == "move" || name == "copy") {
      const auto* from_v = op.if_contains("from");
      if (!from_v || !from_v->is_string()) return where + "missing from";
      auto from = split_pointer(from_v->get_string());
      if (!from) return where + "malformed from";
      json::value moved;
      if (name == "move") {
        if (from->size() < path->size() && std::equal(from->begin(), from->end(), path->begin()))
          return where + "cannot move a value into itself";
        err = remove_at(work, *from, &moved);
      } else {
        json::value* src = resolve(work, *from, from->size());
        if (!src) err = "from path not found";
        else moved = *src;
      }
      if (!err) err = add_at(work, *path, std::move(moved));
    } else if (name == "test") {
      if (!value) return where + "missing value";
      json::value* target = resolve(work, *path, path->size());
      if (!target || *target != *value) err = "test failed";
    } else {
      return where + "unknown op '" + name + "'";
    }
    if (err) return where + *err + " (" + std::string(path_v->get_string()) + ")";
  }
  document = std::move(work);
  return std::nullopt;
}

namespace {

// The plain scalars that read as numbers, by hand instead of std::regex (which costs a
// regex walk per scalar on every YAML request body):
//   integer: [-+]?[0-9]+
//   float:   [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
std::size_t skip_digits(std::string_view s, std::size_t i) {
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i;
}

std::size_t skip_sign(std::string_view s, std::size_t i) {
  return i < s.size() && (s[i] == '-' || s[i] == '+') ? i + 1 : i;
}

bool is_integer_text(std::string_view s) {
  const std::size_t start = skip_sign(s, 0);
  return start < s.size() && skip_digits(s, start) == s.size();
}

bool is_float_text(std::string_view s) {
  std::size_t i = skip_sign(s, 0);
  if (i < s.size() && s[i] == '.') {
    const std::size_t end = skip_digits(s, i + 1);
    if (end == i + 1) return false;
    i = end;
  } else {
    const std::size_t end = skip_digits(s, i);
    if (end == i) return false;
    i = end;
    if (i < s.size() && s[i] == '.') i = skip_digits(s, i + 1);
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    const std::size_t digits = skip_sign(s, i + 1);
    const std::size_t end = skip_digits(s, digits);
    if (end == digits) return false;
    i = end;
  }
  return i == s.size();
}

json::value yaml_scalar(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return json::value(s);  // quoted: always a string
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (is_integer_text(s)) {
    std::int64_t v = 0;
    const char* b = s.data() + (s[0] == '+' ? 1 : 0);
    auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
  }
  if (is_float_text(s)) {
    try {
      return std::stod(s);
    } catch (...) {
    }
  }
  return json::value(s);
}

// What converting one document may produce. Aliases make yaml-cpp share nodes, so a small
// document can name a tree exponentially larger than itself ("billion laughs"): every node
// and scalar byte of the expansion is counted against the budget.
struct YamlBudget {
  std::size_t nodes_left;
  std::size_t bytes_left;
  void spend(std::size_t bytes) {
    if (nodes_left == 0 || bytes > bytes_left) {
      throw YAML::Exception(YAML::Mark::null_mark(), "document expands beyond its size budget (aliases?)");
    }
    --nodes_left;
    bytes_left -= bytes;
  }
};

json::value yaml_node(const YAML::Node& node, int depth, YamlBudget& budget) {
  if (depth > 64) throw YAML::Exception(YAML::Mark::null_mark(), "nesting too deep");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      budget.spend(0);
      return nullptr;
    case YAML::NodeType::Scalar:
      budget.spend(node.Scalar().size());
      return yaml_scalar(node);
    case YAML::NodeType::Sequence: {
      budget.spend(0);
      json::array arr;
      for (const auto& item : node) arr.push_back(yaml_node(item, depth + 1, budget));
      return arr;
    }
    case YAML::NodeType::Map: {
      budget.spend(0);
      json::object obj;
      for (const auto& kv : node) {
        std::string key = kv.first.as<std::string>();
        budget.spend(key.size());
        obj[key] = yaml_node(kv.second, depth + 1, budget);
      }
      return obj;
    }
  }
  return nullptr;
}

constexpr std::size_t kLongestImplicitKeyBytes = 128;

void emit_yaml(YAML::Emitter& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      out << YAML::BeginMap;
      for (const auto& [k, val] : v.get_object()) {
        out << YAML::Key;
        // A YAML reader refuses an implicit key longer than 1024 characters once escaped
        // (up to 6 per byte), so a long key takes the explicit "? key" form. yaml-cpp keeps
        // that form for the rest of the mapping, which reads back the same.
        if (k.size() > kLongestImplicitKeyBytes) out << YAML::LongKey;
        out << std::string(k) << YAML::Value;
        emit_yaml(out, val);
      }
      out << YAML::EndMap;
      break;
    case json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& item : v.get_array()) emit_yaml(out, item);
      out << YAML::EndSeq;
      break;
    case json::kind::string: {
      const std::string s(v.get_string());
      // Quote strings that would read back as another type.
      const bool plain_is_string = !s.empty() && yaml_scalar(YAML::Node(s)).is_string();
      if (plain_is_string) out << s;
      else out << YAML::DoubleQuoted << s;
      break;
    }
    case json::kind::bool_:
      out << (v.get_bool() ? "true" : "false");
      break;
    case json::kind::null:
      out << YAML::Null;
      break;
    default:
      out << json::serialize(v);
  }
}

}  // namespace

std::optional<json::value> yaml_to_json(std::string_view text, std::string* error) {
  try {
    // Room for any document written out in full (a node per byte, its bytes twice over),
    // not for an expansion.
    YamlBudget budget{text.size() + 1024, 2 * text.size() + 4096};
    return yaml_node(YAML::Load(std::string(text)), 0, budget);
  } catch (const YAML::Exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

std::string json_to_yaml(const json::value& value) {
  YAML::Emitter out;
  emit_yaml(out, value);
  return std::string(out.c_str()) + "\n";
}

std::optional<json::value> parse_json(std::string_view text, std::string* error) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    if (error) *error = ec.message();
    return std::nullopt;
  }
  return v;
}

std::size_t json_heap_bytes(const json::value& value) {
  switch (value.kind()) {
    case json::kind::string:
      return value.get_string().capacity() + 1;
    case json::kind::array: {
      const auto& a = value.get_array();
      std::size_t n = a.capacity() * sizeof(json::value);
      for (const auto& v : a) n += json_heap_bytes(v);
      return n;
    }
    case json::kind::object: {
      const auto& o = value.get_object();
      // The members and the hash index beside them.
      std::size_t n = o.capacity() * (sizeof(json::key_value_pair) + sizeof(std::uint32_t));
      for (const auto& [key, v] : o) n += key.size() + 1 + json_heap_bytes(v);
      return n;
    }
    default:
      return 0;
  }
}

}  // namespace ironboot::kube
