// The Kubernetes client the rest of ironboot uses, in every cluster mode: resource
// operations over a Transport, on metal.sidero.dev/v1alpha2 (the string-plural calls) or any
// group/version/namespace (ResourcePath, e.g. core/v1 Events). The Transport is real HTTPS
// (make_rest_transport: kubeconfig, in-cluster, or the embedded API) or, in tests, an
// in-process ApiHandler (make_in_process_transport). Callbacks run on the io_context thread.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace ironboot::kube {

struct ClusterCredentials;
class ApiHandler;
class Store;

struct HttpRequest {
  std::string method;
  std::string target;        // origin-form
  std::string content_type;  // for bodies
  std::string body;
  std::string accept = "application/json";
};

struct HttpReply {
  unsigned status = 0;  // 0: no HTTP answer (connect, TLS, timeout, broken stream)
  std::string body;
  std::string error;    // transport error text
  std::chrono::seconds retry_after{0};
};

// A running watch stream; cancel() ends it without calling its end handler.
class StreamHandle {
 public:
  virtual ~StreamHandle() = default;
  virtual void cancel() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(HttpRequest request, std::function<void(HttpReply)> done) = 0;
  // Streams a response line by line (watch). `on_end` gets the final status (200 when the
  // server ended the stream normally; non-2xx with the body; 0 on a transport error).
  virtual std::shared_ptr<StreamHandle> stream(HttpRequest request, std::function<void(std::string_view line)> on_line,
                                               std::function<void(HttpReply)> on_end) = 0;
};

// Real HTTPS to an API server. Throws std::runtime_error on unusable credentials (startup).
std::shared_ptr<Transport> make_rest_transport(boost::asio::io_context& io, const ClusterCredentials& credentials);
// An in-process API (the embedded handler without sockets): the fake for unit tests.
std::shared_ptr<Transport> make_in_process_transport(boost::asio::io_context& io, ApiHandler& handler, Store& store);

enum class PatchType { Merge, Json, Apply };

struct ApiReply {
  unsigned status = 0;
  std::string reason;   // Status reason ("NotFound", "Conflict", ...) or a transport error label
  std::string message;
  boost::json::value body;  // the decoded response
  std::chrono::seconds retry_after{0};

  bool ok() const { return status >= 200 && status < 300; }
  bool not_found() const { return status == 404; }
  bool conflict() const { return status == 409; }
  // Worth retrying unchanged: no answer, throttled, or a server-side failure.
  bool transient() const { return status == 0 || status == 429 || status >= 500 || status == 401; }
  const boost::json::object* object() const { return body.is_object() ? &body.as_object() : nullptr; }
};
using ReplyHandler = std::function<void(ApiReply)>;

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::size_t limit = 500;
  std::string continue_token;
};

struct WatchOptions {
  std::string resource_version;  // "" = replay every object as ADDED first
  std::string label_selector;
  bool bookmarks = true;
  std::chrono::seconds timeout{300};
};

struct WatchEvent {
  std::string type;  // ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
  boost::json::object object;
  // The object's JSON as received, when the line held nothing else (else empty); it points
  // into the stream's buffer, valid only while the event handler runs.
  std::string_view object_text;
};

// Where a resource's collection lives: "" group = the core API (/api/v1/...), otherwise
// /apis/<group>/<version>/...; an empty namespace means cluster-scoped.
struct ResourcePath {
  std::string group;
  std::string version;
  std::string resource;   // plural: "events", "servers"
  std::string namespace_;

  // metal.sidero.dev/v1alpha2 `resource` (cluster-scoped): what the string-plural calls mean.
  static ResourcePath metal(std::string resource);
  // "/api/v1/namespaces/default/events", "/apis/metal.sidero.dev/v1alpha2/servers".
  std::string collection() const;
  // collection() + "/" + the percent-encoded name.
  std::string item(std::string_view name) const;
};

class KubeClient {
 public:
  explicit KubeClient(std::shared_ptr<Transport> transport);

  // Any group/version/namespace; `status`: the /status subresource.
  void get(const ResourcePath& path, const std::string& name, ReplyHandler done);
  void list(const ResourcePath& path, const ListOptions& options, ReplyHandler done);
  void create(const ResourcePath& path, const boost::json::object& object, ReplyHandler done);
  void update(const ResourcePath& path, const boost::json::object& object, ReplyHandler done, bool status = false);
  void patch(const ResourcePath& path, const std::string& name, PatchType type, const boost::json::value& patch,
             ReplyHandler done, bool status = false, const std::string& field_manager = "ironboot");
  void remove(const ResourcePath& path, const std::string& name, ReplyHandler done);
  std::shared_ptr<StreamHandle> watch(const ResourcePath& path, const WatchOptions& options,
                                      std::function<void(WatchEvent)> on_event, std::function<void(ApiReply)> on_end);

  // metal.sidero.dev/v1alpha2: `resource` is the plural: "servers", "serverclasses", "environments".
  void get(const std::string& resource, const std::string& name, ReplyHandler done);
  void list(const std::string& resource, const ListOptions& options, ReplyHandler done);
  void create(const std::string& resource, const boost::json::object& object, ReplyHandler done);
  // PUT with metadata.resourceVersion (409 when stale). `status`: the /status subresource.
  void update(const std::string& resource, const boost::json::object& object, ReplyHandler done, bool status = false);
  void patch(const std::string& resource, const std::string& name, PatchType type, const boost::json::value& patch,
             ReplyHandler done, bool status = false, const std::string& field_manager = "ironboot");
  void remove(const std::string& resource, const std::string& name, ReplyHandler done);
  // Events until the stream ends; `on_end` receives the end (status 200 = ended normally).
  std::shared_ptr<StreamHandle> watch(const std::string& resource, const WatchOptions& options,
                                      std::function<void(WatchEvent)> on_event, std::function<void(ApiReply)> on_end);

  static ApiReply decode(HttpReply reply);

 private:
  std::shared_ptr<Transport> transport_;
};

}  // namespace ironboot::kube
