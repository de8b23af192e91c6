// A cluster context over the in-process API (the embedded handler and store, no sockets) for
// the tests of the discovery service's parts, as tests/unit/kube/client_test.cpp uses it.
#pragma once

#include "kube/api_handler.hpp"
#include "kube/client.hpp"
#include "kube/cluster_context.hpp"
#include "kube/resource_type.hpp"
#include "kube/store.hpp"
#include "kube/objects.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace ironboot::discovery::testing {

class InProcessCluster : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  kube::Store store;
  kube::ApiHandler handler{store, [] { return std::chrono::system_clock::now(); }, kube::random_uid};
  kube::ClusterContext cluster{io, kube::make_in_process_transport(io, handler, store)};

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
  // True when the cached object has condition `type` with status True (false when absent).
  static bool condition(const kube::Informer& cache, const std::string& name, const char* type) {
    const auto* o = in(cache, name);
    return o && objects::condition_is_true(*o, type);
  }
};

}  // namespace ironboot::discovery::testing
