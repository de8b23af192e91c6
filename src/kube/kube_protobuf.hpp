// Kubernetes' protobuf request encoding (Content-Type application/vnd.kubernetes.protobuf),
// what kubectl's typed clients send for built-in kinds: the 4-byte magic "k8s\0", then a
// runtime.Unknown {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType}
// whose raw bytes are the object's own message (k8s.io/api generated.proto). Decoded by a
// descriptor table per (apiVersion, kind) into the JSON object kube-apiserver would accept for
// the same request. Pure: no I/O, never throws; every length and varint is bounds-checked.
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ironboot::kube {

// Larger bodies are refused before decoding (the API server's own body limit).
inline constexpr std::size_t kMaxProtobufBody = 8 * 1024 * 1024;

enum class ProtobufError {
  malformed,         // bad magic, truncated data, a wrong wire type, bad UTF-8, too large
  unsupported_kind,  // a well-formed envelope naming a kind without a descriptor
};

// The object, with apiVersion and kind set; nullopt with `error` (and `why`, when given) set
// otherwise. A typeMeta that leaves apiVersion or kind empty takes `default_api_version` /
// `default_kind` (the type the request's URL names), as kube-apiserver's protobuf serializer does.
std::optional<boost::json::object> decode_kube_protobuf(std::string_view body, std::string* error,
                                                        std::string_view default_api_version = {},
                                                        std::string_view default_kind = {},
                                                        ProtobufError* why = nullptr);

// True for a Content-Type naming the protobuf encoding (parameters allowed).
bool is_kube_protobuf(std::string_view content_type);

}  // namespace ironboot::kube
