#include "kube/kube_protobuf.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>

#include "common/base64.hpp"
#include "common/time.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

// ---- Descriptors: the fields of k8s.io/api's generated.proto this API reads ----

enum class Type : std::uint8_t {
  string,      // JSON string, omitted when empty (Go's omitempty on a non-pointer)
  boolean,     // emitted whenever present: every bool read here is a *bool in Go
  int64,       // omitted when zero unless `presence`
  message,     // JSON object, emitted whenever present; repeated: an array of objects
  string_map,  // map<string,string>: entries {1 key, 2 value}
  bytes_map,   // map<string,bytes>: values base64
  time,        // metav1.Time {1 seconds, 2 nanos}: RFC 3339, omitted when zero
};

struct MessageDesc;

struct FieldDesc {
  std::uint32_t number;
  const char* name;
  Type type;
  bool repeated = false;
  bool presence = false;  // a pointer in Go: emitted even when zero
  const MessageDesc* message = nullptr;
};

struct MessageDesc {
  const char* name;
  const FieldDesc* fields;
  std::size_t count;
};

template <std::size_t N>
constexpr MessageDesc describe(const char* name, const FieldDesc (&fields)[N]) {
  return MessageDesc{name, fields, N};
}

constexpr FieldDesc kOwnerReferenceFields[] = {
    {5, "apiVersion", Type::string}, {1, "kind", Type::string}, {3, "name", Type::string}, {4, "uid", Type::string},
    {6, "controller", Type::boolean}, {7, "blockOwnerDeletion", Type::boolean},
};
constexpr MessageDesc kOwnerReference = describe("OwnerReference", kOwnerReferenceFields);

// 17 managedFields (and the removed 15 clusterName) are left to the unknown-field skip.
constexpr FieldDesc kObjectMetaFields[] = {
    {1, "name", Type::string},
    {2, "generateName", Type::string},
    {3, "namespace", Type::string},
    {4, "selfLink", Type::string},
    {5, "uid", Type::string},
    {6, "resourceVersion", Type::string},
    {7, "generation", Type::int64},
    {8, "creationTimestamp", Type::time},
    {9, "deletionTimestamp", Type::time},
    {10, "deletionGracePeriodSeconds", Type::int64, false, true},
    {11, "labels", Type::string_map},
    {12, "annotations", Type::string_map},
    {13, "ownerReferences", Type::message, true, false, &kOwnerReference},
    {14, "finalizers", Type::string, true},
};
constexpr MessageDesc kObjectMeta = describe("ObjectMeta", kObjectMetaFields);

constexpr FieldDesc kSecretFields[] = {
    {1, "metadata", Type::message, false, false, &kObjectMeta}, {2, "data", Type::bytes_map},
    {3, "type", Type::string}, {4, "stringData", Type::string_map}, {5, "immutable", Type::boolean},
};
constexpr MessageDesc kSecret = describe("Secret", kSecretFields);

constexpr FieldDesc kConfigMapFields[] = {
    {1, "metadata", Type::message, false, false, &kObjectMeta}, {2, "data", Type::string_map},
    {3, "binaryData", Type::bytes_map}, {4, "immutable", Type::boolean},
};
constexpr MessageDesc kConfigMap = describe("ConfigMap", kConfigMapFields);

constexpr FieldDesc kNamespaceSpecFields[] = {{1, "finalizers", Type::string, true}};
constexpr MessageDesc kNamespaceSpec = describe("NamespaceSpec", kNamespaceSpecFields);
constexpr FieldDesc kNamespaceStatusFields[] = {{1, "phase", Type::string}};
constexpr MessageDesc kNamespaceStatus = describe("NamespaceStatus", kNamespaceStatusFields);
constexpr FieldDesc kNamespaceFields[] = {
    {1, "metadata", Type::message, false, false, &kObjectMeta},
    {2, "spec", Type::message, false, false, &kNamespaceSpec},
    {3, "status", Type::message, false, false, &kNamespaceStatus},
};
constexpr MessageDesc kNamespace = describe("Namespace", kNamespaceFields);

// authorization/v1. A review's status is the server's answer: skipped like any unknown field.
constexpr FieldDesc kResourceAttributesFields[] = {
    {1, "namespace", Type::string}, {2, "verb", Type::string}, {3, "group", Type::string},
    {4, "version", Type::string},   {5, "resource", Type::string}, {6, "subresource", Type::string},
    {7, "name", Type::string},
};
constexpr MessageDesc kResourceAttributes = describe("ResourceAttributes", kResourceAttributesFields);
constexpr FieldDesc kNonResourceAttributesFields[] = {{1, "path", Type::string}, {2, "verb", Type::string}};
constexpr MessageDesc kNonResourceAttributes = describe("NonResourceAttributes", kNonResourceAttributesFields);
constexpr FieldDesc kAccessReviewSpecFields[] = {
    {1, "resourceAttributes", Type::message, false, false, &kResourceAttributes},
    {2, "nonResourceAttributes", Type::message, false, false, &kNonResourceAttributes},
};
constexpr MessageDesc kAccessReviewSpec = describe("SelfSubjectAccessReviewSpec", kAccessReviewSpecFields);
constexpr FieldDesc kAccessReviewFields[] = {
    {1, "metadata", Type::message, false, false, &kObjectMeta},
    {2, "spec", Type::message, false, false, &kAccessReviewSpec},
};
constexpr MessageDesc kAccessReview = describe("SelfSubjectAccessReview", kAccessReviewFields);
constexpr FieldDesc kRulesReviewSpecFields[] = {{1, "namespace", Type::string}};
constexpr MessageDesc kRulesReviewSpec = describe("SelfSubjectRulesReviewSpec", kRulesReviewSpecFields);
constexpr FieldDesc kRulesReviewFields[] = {
    {1, "metadata", Type::message, false, false, &kObjectMeta},
    {2, "spec", Type::message, false, false, &kRulesReviewSpec},
};
constexpr MessageDesc kRulesReview = describe("SelfSubjectRulesReview", kRulesReviewFields);

struct KindDesc {
  std::string_view api_version;
  std::string_view kind;
  const MessageDesc* message;
};

constexpr KindDesc kKinds[] = {
    {"v1", "Secret", &kSecret},
    {"v1", "ConfigMap", &kConfigMap},
    {"v1", "Namespace", &kNamespace},
    {"authorization.k8s.io/v1", "SelfSubjectAccessReview", &kAccessReview},
    {"authorization.k8s.io/v1", "SelfSubjectRulesReview", &kRulesReview},
};

// Nesting the decoder may recurse to: the envelope is depth 0, the object 1. Map entries and
// Times are messages one level below their field. Unknown fields are skipped, never descended.
constexpr int kMaxDepth = 8;

constexpr int depth_of(const MessageDesc& m) {
  int deepest = 0;
  for (std::size_t i = 0; i < m.count; ++i) {
    const FieldDesc& f = m.fields[i];
    int d = 0;
    if (f.type == Type::message) d = depth_of(*f.message);
    else if (f.type == Type::string_map || f.type == Type::bytes_map || f.type == Type::time) d = 1;
    if (d > deepest) deepest = d;
  }
  return deepest + 1;
}

constexpr bool within_depth() {
  for (const KindDesc& k : kKinds)
    if (1 + depth_of(*k.message) > kMaxDepth) return false;
  return true;
}
static_assert(within_depth(), "a descriptor nests deeper than the decoder's depth limit");

// The seconds a system_clock time_point holds (libstdc++: nanoseconds, years 1678..2262),
// within metav1.Time's years 0001..9999; format_rfc3339 takes a time_point.
constexpr std::int64_t kClockSeconds =
    std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count() - 1;
constexpr std::int64_t kMinSeconds = std::max<std::int64_t>(-62135596800, -kClockSeconds);
constexpr std::int64_t kMaxSeconds = std::min<std::int64_t>(253402300799, kClockSeconds);

// ---- Wire format ----

constexpr std::uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr std::uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

class Decoder {
 public:
  std::string error;

  // Decodes `msg` by `desc` into `out`, merging into what is there (protobuf's rule for a
  // message field that occurs twice). False with `error` set when malformed.
  bool message(std::string_view msg, const MessageDesc& desc, json::object& out, int depth) {
    if (depth > kMaxDepth) return fail(desc, 0, "nested too deeply");
    std::size_t pos = 0;
    while (pos < msg.size()) {
      std::uint64_t key = 0;
      if (!varint(msg, pos, key)) return fail(desc, 0, "truncated or overlong field key");
      const std::uint64_t number = key >> 3;
      const auto wire = static_cast<std::uint32_t>(key & 7);
      if (number == 0 || number > 0x1fffffff) return fail(desc, 0, "invalid field number");
      const FieldDesc* field = find(desc, static_cast<std::uint32_t>(number));
      if (!field) {
        if (!skip(msg, pos, wire)) return fail(desc, static_cast<std::uint32_t>(number), skip_error(wire));
        continue;
      }
      if (!this->field(msg, pos, wire, desc, *field, out, depth)) return false;
    }
    return true;
  }

  static bool varint(std::string_view msg, std::size_t& pos, std::uint64_t& v) {
    v = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos >= msg.size()) return false;
      const auto b = static_cast<unsigned char>(msg[pos++]);
      if (i == 9 && b > 1) return false;  // past 64 bits
      v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) return true;
    }
    return false;
  }

  static bool length_delimited(std::string_view msg, std::size_t& pos, std::string_view& bytes) {
    std::uint64_t len = 0;
    if (!varint(msg, pos, len) || len > msg.size() - pos) return false;
    bytes = msg.substr(pos, static_cast<std::size_t>(len));
    pos += static_cast<std::size_t>(len);
    return true;
  }

  static bool skip(std::string_view msg, std::size_t& pos, std::uint32_t wire) {
    std::uint64_t v = 0;
    std::string_view bytes;
    switch (wire) {
      case kVarint: return varint(msg, pos, v);
      case kLengthDelimited: return length_delimited(msg, pos, bytes);
      case kFixed64:
      case kFixed32: {
        const std::size_t n = wire == kFixed64 ? 8 : 4;
        if (msg.size() - pos < n) return false;
        pos += n;
        return true;
      }
      default: return false;  // groups (3, 4) and the undefined 6, 7
    }
  }

  static std::string skip_error(std::uint32_t wire) {
    if (wire == 3 || wire == 4) return "groups are not supported";
    if (wire == 6 || wire == 7) return "invalid wire type " + std::to_string(wire);
    return "truncated";
  }

  bool fail(const MessageDesc& desc, std::uint32_t number, const std::string& what) {
    if (error.empty()) {
      error = std::string("protobuf: ") + desc.name;
      if (const FieldDesc* f = number ? find(desc, number) : nullptr) error += std::string(".") + f->name;
      else if (number) error += " field " + std::to_string(number);
      error += ": " + what;
    }
    return false;
  }

 private:
  static const FieldDesc* find(const MessageDesc& desc, std::uint32_t number) {
    for (std::size_t i = 0; i < desc.count; ++i)
      if (desc.fields[i].number == number) return &desc.fields[i];
    return nullptr;
  }

  static std::uint32_t wire_of(Type t) {
    return (t == Type::boolean || t == Type::int64) ? kVarint : kLengthDelimited;
  }

  bool field(std::string_view msg, std::size_t& pos, std::uint32_t wire, const MessageDesc& desc, const FieldDesc& f,
             json::object& out, int depth) {
    if (wire != wire_of(f.type))
      return fail(desc, f.number, "wrong wire type " + std::to_string(wire));
    if (wire == kVarint) {
      std::uint64_t v = 0;
      if (!varint(msg, pos, v)) return fail(desc, f.number, "truncated varint");
      if (f.type == Type::boolean) out[f.name] = v != 0;
      else if (v != 0 || f.presence) out[f.name] = static_cast<std::int64_t>(v);
      else out.erase(f.name);
      return true;
    }
    std::string_view bytes;
    if (!length_delimited(msg, pos, bytes)) return fail(desc, f.number, "length past the end of the data");
    switch (f.type) {
      case Type::string:
        if (!valid_utf8(bytes)) return fail(desc, f.number, "invalid UTF-8");
        if (f.repeated) array_of(out, f.name).emplace_back(json::string(bytes));
        else if (!bytes.empty()) out[f.name] = bytes;
        else out.erase(f.name);
        return true;
      case Type::message: {
        json::object* target = nullptr;
        if (f.repeated) {
          target = &array_of(out, f.name).emplace_back(json::object{}).as_object();
        } else {
          json::value& slot = out[f.name];
          if (!slot.is_object()) slot = json::object{};
          target = &slot.as_object();
        }
        return message(bytes, *f.message, *target, depth + 1);
      }
      case Type::string_map:
      case Type::bytes_map: return map_entry(bytes, desc, f, out, depth + 1);
      case Type::time: return time(bytes, desc, f, out, depth + 1);
      default: return fail(desc, f.number, "unexpected field type");
    }
  }

  static json::array& array_of(json::object& out, const char* name) {
    json::value& slot = out[name];
    if (!slot.is_array()) slot = json::array{};
    return slot.as_array();
  }

  // A map entry {1 key, 2 value}; a missing key or value is "" (as Go's generated code has it).
  bool map_entry(std::string_view entry, const MessageDesc& desc, const FieldDesc& f, json::object& out, int depth) {
    if (depth > kMaxDepth) return fail(desc, f.number, "nested too deeply");
    std::string_view key, value;
    std::size_t pos = 0;
    while (pos < entry.size()) {
      std::uint64_t tag = 0;
      if (!varint(entry, pos, tag)) return fail(desc, f.number, "truncated map entry");
      const auto wire = static_cast<std::uint32_t>(tag & 7);
      const std::uint64_t number = tag >> 3;
      if ((number == 1 || number == 2) && wire == kLengthDelimited) {
        if (!length_delimited(entry, pos, number == 1 ? key : value))
          return fail(desc, f.number, "map entry length past the end of the data");
      } else if (number == 0 || number == 1 || number == 2) {
        return fail(desc, f.number, "invalid map entry field");
      } else if (!skip(entry, pos, wire)) {
        return fail(desc, f.number, "map entry: " + skip_error(wire));
      }
    }
    if (!valid_utf8(key)) return fail(desc, f.number, "invalid UTF-8 in a key");
    json::object& map = object_of(out, f.name);
    if (f.type == Type::bytes_map) {
      map[key] = base64_encode(value);
    } else {
      if (!valid_utf8(value)) return fail(desc, f.number, "invalid UTF-8 in a value");
      map[key] = value;
    }
    return true;
  }

  static json::object& object_of(json::object& out, const char* name) {
    json::value& slot = out[name];
    if (!slot.is_object()) slot = json::object{};
    return slot.as_object();
  }

  // metav1.Time {1 seconds int64, 2 nanos int32}: RFC 3339 at second precision, as its JSON.
  bool time(std::string_view msg, const MessageDesc& desc, const FieldDesc& f, json::object& out, int depth) {
    if (depth > kMaxDepth) return fail(desc, f.number, "nested too deeply");
    std::int64_t seconds = 0;
    std::int64_t nanos = 0;
    std::size_t pos = 0;
    while (pos < msg.size()) {
      std::uint64_t tag = 0, v = 0;
      if (!varint(msg, pos, tag)) return fail(desc, f.number, "truncated Time");
      const auto wire = static_cast<std::uint32_t>(tag & 7);
      const std::uint64_t number = tag >> 3;
      if (number == 1 || number == 2) {
        if (wire != kVarint || !varint(msg, pos, v)) return fail(desc, f.number, "malformed Time");
        if (number == 1) seconds = static_cast<std::int64_t>(v);
        else nanos = static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
      } else if (number == 0 || !skip(msg, pos, wire)) {
        return fail(desc, f.number, "malformed Time");
      }
    }
    if (seconds == 0 && nanos == 0) {
      out.erase(f.name);
      return true;
    }
    if (seconds < kMinSeconds || seconds > kMaxSeconds || nanos < 0 || nanos > 999999999)
      return fail(desc, f.number, "Time out of range");
    out[f.name] = format_rfc3339(std::chrono::system_clock::time_point{} + std::chrono::seconds{seconds});
    return true;
  }
};

constexpr FieldDesc kTypeMetaFields[] = {{1, "apiVersion", Type::string}, {2, "kind", Type::string}};
constexpr MessageDesc kTypeMeta = describe("TypeMeta", kTypeMetaFields);

std::string_view str_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

}  // namespace

bool is_kube_protobuf(std::string_view content_type) {
  constexpr std::string_view kType = "application/vnd.kubernetes.protobuf";
  if (content_type.substr(0, kType.size()) != kType) return false;
  const std::string_view rest = content_type.substr(kType.size());
  return rest.empty() || rest.front() == ';' || rest.front() == ' ';
}

std::optional<json::object> decode_kube_protobuf(std::string_view body, std::string* error,
                                                 std::string_view default_api_version, std::string_view default_kind,
                                                 ProtobufError* why) {
  auto failed = [&](ProtobufError kind, std::string message) -> std::optional<json::object> {
    if (error) *error = std::move(message);
    if (why) *why = kind;
    return std::nullopt;
  };
  static constexpr std::string_view kMagic{"k8s\0", 4};
  if (body.size() > kMaxProtobufBody)
    return failed(ProtobufError::malformed, "protobuf: the body is larger than " + std::to_string(kMaxProtobufBody) + " bytes");
  if (body.substr(0, kMagic.size()) != kMagic)
    return failed(ProtobufError::malformed, "protobuf: the body does not start with the \"k8s\\x00\" prefix");
  // runtime.Unknown: 1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType (both unused).
  const std::string_view unknown = body.substr(kMagic.size());
  std::string_view raw;
  json::object type_meta;
  Decoder decoder;
  for (std::size_t pos = 0; pos < unknown.size();) {
    std::uint64_t key = 0;
    if (!Decoder::varint(unknown, pos, key))
      return failed(ProtobufError::malformed, "protobuf: Unknown: truncated or overlong field key");
    const std::uint64_t number = key >> 3;
    const auto wire = static_cast<std::uint32_t>(key & 7);
    if (number == 0) return failed(ProtobufError::malformed, "protobuf: Unknown: invalid field number");
    if (number > 4) {
      if (!Decoder::skip(unknown, pos, wire))
        return failed(ProtobufError::malformed, "protobuf: Unknown field " + std::to_string(number) + ": " +
                                                    Decoder::skip_error(wire));
      continue;
    }
    std::string_view bytes;
    if (wire != kLengthDelimited)
      return failed(ProtobufError::malformed, "protobuf: Unknown field " + std::to_string(number) +
                                                  ": wrong wire type " + std::to_string(wire));
    if (!Decoder::length_delimited(unknown, pos, bytes))
      return failed(ProtobufError::malformed,
                    "protobuf: Unknown field " + std::to_string(number) + ": length past the end of the data");
    if (number == 1 && !decoder.message(bytes, kTypeMeta, type_meta, 1))
      return failed(ProtobufError::malformed, decoder.error);
    if (number == 2) raw = bytes;
  }
  std::string api_version(str_of(type_meta, "apiVersion"));
  std::string kind(str_of(type_meta, "kind"));
  if (api_version.empty()) api_version = default_api_version;
  if (kind.empty()) kind = default_kind;
  if (kind.empty()) return failed(ProtobufError::malformed, "Object 'Kind' is missing in the protobuf envelope");
  const MessageDesc* desc = nullptr;
  for (const KindDesc& k : kKinds)
    if (k.api_version == api_version && k.kind == kind) desc = k.message;
  if (!desc)
    return failed(ProtobufError::unsupported_kind,
                  "protobuf is not supported for " + api_version + " " + kind + "; send JSON");
  json::object obj{{"apiVersion", api_version}, {"kind", kind}};
  if (!decoder.message(raw, *desc, obj, 1)) return failed(ProtobufError::malformed, decoder.error);
  // A raw message cannot carry apiVersion/kind fields of its own: the typeMeta names them.
  obj["apiVersion"] = api_version;
  obj["kind"] = kind;
  return obj;
}

}  // namespace ironboot::kube
