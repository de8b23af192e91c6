// A cluster context over the in-process API (the embedded handler and store, no sockets) for
// the tests of the discovery service's parts, as tests/unit/kube/client_test.cpp uses it.
// core/v1 Event writes are answered by EventCapture, which keeps them for the tests to read.
#pragma once

#include "kube/api_handler.hpp"
#include "kube/client.hpp"
#include "kube/json_ops.hpp"
#include "kube/cluster_context.hpp"
#include "kube/resource_type.hpp"
#include "kube/store.hpp"
#include "kube/objects.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ironboot::discovery::testing {

// Answers POST / PATCH of /api/v1/namespaces/<ns>/events like the API (201 / 200 with the
// object; a PATCH merges into the Event of that name) and passes every other request on.
class EventCapture : public kube::Transport {
 public:
  EventCapture(boost::asio::io_context& io, std::shared_ptr<kube::Transport> inner) : io_(io), inner_(std::move(inner)) {}
  std::vector<boost::json::object> events;  // in creation order, with their patches applied
  std::size_t patches = 0;

  void send(kube::HttpRequest r, std::function<void(kube::HttpReply)> done) override {
    const std::string_view target(r.target);
    const auto path = target.substr(0, target.find('?'));
    if (path.rfind("/api/v1/namespaces/", 0) != 0 || path.find("/events") == std::string_view::npos)
      return inner_->send(std::move(r), std::move(done));
    kube::HttpReply reply{404, R"({"kind":"Status","code":404,"reason":"NotFound"})", "", {}};
    auto body = boost::json::parse(r.body);
    if (r.method == "POST") {
      events.push_back(body.as_object());
      reply = {201, r.body, "", {}};
    } else if (r.method == "PATCH") {
      const std::string name(path.substr(path.rfind('/') + 1));
      for (auto& e : events) {
        if (std::string_view(e.at("metadata").at("name").as_string()) != name) continue;
        e = kube::merge_patch(e, body).as_object();
        ++patches;
        reply = {200, boost::json::serialize(e), "", {}};
      }
    }
    boost::asio::post(io_, [done = std::move(done), reply] { done(reply); });
  }
  std::shared_ptr<kube::StreamHandle> stream(kube::HttpRequest r, std::function<void(std::string_view)> on_line,
                                             std::function<void(kube::HttpReply)> on_end) override {
    return inner_->stream(std::move(r), std::move(on_line), std::move(on_end));
  }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<kube::Transport> inner_;
};

class InProcessCluster : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  kube::Store store;
  kube::ApiHandler handler{store, [] { return std::chrono::system_clock::now(); }, kube::random_uid};
  std::shared_ptr<EventCapture> api_events = std::make_shared<EventCapture>(io, kube::make_in_process_transport(io, handler, store));
  kube::ClusterContext cluster{io, api_events};

  void SetUp() override {
    cluster.start();
    ASSERT_TRUE(run_until([&] { return cluster.synced(); }));
  }
  void TearDown() override { cluster.stop(); }

  // Runs the loop until `pred` holds or `limit` passes; returns pred().
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
    return pred();
  }
  void run_for(std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
  }

  kube::ApiReply call(const std::function<void(kube::ReplyHandler)>& op) {
    std::optional<kube::ApiReply> out;
    op([&](kube::ApiReply r) { out = std::move(r); });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out.value_or(kube::ApiReply{});
  }
  // Creates `kind` named `name` with `spec` (and `status` through the status subresource).
  void create(const std::string& resource, const std::string& kind, const std::string& name, boost::json::object spec,
              std::optional<boost::json::object> status = std::nullopt) {
    const boost::json::object obj{{"apiVersion", kube::kApiVersion},
                                  {"kind", kind},
                                  {"metadata", boost::json::object{{"name", name}}},
                                  {"spec", std::move(spec)}};
    auto r = call([&](auto done) { cluster.client().create(resource, obj, done); });
    ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
    if (status) {
      r = call([&](auto done) {
        cluster.client().patch(resource, name, kube::PatchType::Merge, boost::json::object{{"status", *status}}, done,
                               true);
      });
      ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
    }
  }
  void merge(const std::string& resource, const std::string& name, const boost::json::object& patch) {
    auto r = call([&](auto done) { cluster.client().patch(resource, name, kube::PatchType::Merge, patch, done); });
    ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  }

  // The cached object (null when the informer has not seen it).
  static const boost::json::object* in(const kube::Informer& cache, const std::string& name) {
    const auto p = cache.get(name);
    return p ? p.get() : nullptr;
  }
  // The Events recorded about `object` (by name) with `reason`, once written.
  std::vector<boost::json::object> events_for(const std::string& object, const std::string& reason) const {
    std::vector<boost::json::object> out;
    for (const auto& e : api_events->events)
      if (e.at("involvedObject").at("name").as_string() == object && e.at("reason").as_string() == reason) out.push_back(e);
    return out;
  }
  bool has_event(const std::string& object, const std::string& reason) const { return !events_for(object, reason).empty(); }
  // The reasons of every Event about `object`, in creation order.
  std::vector<std::string> reasons_for(const std::string& object) const {
    std::vector<std::string> out;
    for (const auto& e : api_events->events)
      if (e.at("involvedObject").at("name").as_string() == object) out.emplace_back(e.at("reason").as_string());
    return out;
  }

  // True when the cached object has condition `type` with status True (false when absent).
  static bool condition(const kube::Informer& cache, const std::string& name, const char* type) {
    const auto* o = in(cache, name);
    return o && objects::condition_is_true(*o, type);
  }
};

}  // namespace ironboot::discovery::testing
