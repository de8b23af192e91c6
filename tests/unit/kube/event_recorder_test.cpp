// The Event recorder against a fake transport that records every request: what a create and
// a count bump look like on the wire, aggregation, the per-object rate limit, the bounded
// queue during an outage, and refused writes (an API without Events) dropped, not retried.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "common/time.hpp"
#include "kube/client.hpp"
#include "kube/event_recorder.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class RecordingTransport : public Transport {
 public:
  explicit RecordingTransport(boost::asio::io_context& io) : io_(io) {}
  std::vector<HttpRequest> requests;
  // Default: the API accepts and echoes the body.
  std::function<HttpReply(const HttpRequest&)> answer = [](const HttpRequest& r) {
    return HttpReply{r.method == "POST" ? 201u : 200u, r.body, "", {}};
  };

  void send(HttpRequest r, std::function<void(HttpReply)> done) override {
    requests.push_back(r);
    HttpReply reply = answer(r);
    boost::asio::post(io_, [done, reply] { done(reply); });
  }
  struct Handle : StreamHandle {
    void cancel() override {}
  };
  std::shared_ptr<StreamHandle> stream(HttpRequest, std::function<void(std::string_view)>,
                                       std::function<void(HttpReply)>) override {
    return std::make_shared<Handle>();
  }

 private:
  boost::asio::io_context& io_;
};

json::object server(const std::string& name, const std::string& uid) {
  return json::object{{"apiVersion", "metal.sidero.dev/v1alpha2"},
                      {"kind", "Server"},
                      {"metadata", json::object{{"name", name}, {"uid", uid}, {"resourceVersion", "7"}}}};
}

class Recorder : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  std::shared_ptr<RecordingTransport> api = std::make_shared<RecordingTransport>(io);
  KubeClient client{api};
  std::chrono::system_clock::time_point now{std::chrono::seconds(1764633600)};  // 2025-12-02T00:00:00Z
  std::unique_ptr<EventRecorder> recorder;

  void SetUp() override { make({}); }
  void make(EventRecorderOptions options) {
    options.host = "pxe-1";
    options.now = [this] { return now; };
    if (options.retry_delay == 10000ms) options.retry_delay = 1ms;
    recorder = std::make_unique<EventRecorder>(io, client, std::move(options));
  }
  void record(const json::object& object, std::string_view reason, std::string_view message,
              EventType type = EventType::Normal) {
    recorder->record(ObjectRef::of(object), type, reason, message, "ironboot.dev/discovery");
  }
  void drain() {
    for (int i = 0; i < 200; ++i) {
      io.restart();
      io.run_for(2ms);
      if (recorder->queued() == 0) break;
    }
    io.restart();
    io.poll();
  }
  json::object body(std::size_t i) const { return json::parse(api->requests.at(i).body).as_object(); }
  std::string target(std::size_t i) const { return api->requests.at(i).method + " " + api->requests.at(i).target; }
};

TEST(ResourcePathTest, CollectionUrls) {
  EXPECT_EQ((ResourcePath{"", "v1", "events", "default"}.collection()), "/api/v1/namespaces/default/events");
  EXPECT_EQ((ResourcePath{"events.k8s.io", "v1", "events", "kube-system"}.collection()),
            "/apis/events.k8s.io/v1/namespaces/kube-system/events");
  EXPECT_EQ((ResourcePath{"", "v1", "namespaces", ""}.item("a b")), "/api/v1/namespaces/a%20b");
  EXPECT_EQ(ResourcePath::metal("servers").collection(), "/apis/metal.sidero.dev/v1alpha2/servers");
}

TEST(EventNames, LikeClientGo) {
  EXPECT_EQ(event_name("s1", 0x187d0b2a9c3e1f00ull), "s1.187d0b2a9c3e1f00");
  EXPECT_EQ(event_name(std::string(300, 'a'), 1).size(), 253u);
  EXPECT_EQ(sanitize_event_message("fetch http://user:s3cret@host:80/k failed"), "fetch http://redacted@host:80/k failed");
  EXPECT_EQ(sanitize_event_message("file:///srv/k and http://h/p?x=@"), "file:///srv/k and http://h/p?x=@");
  EXPECT_EQ(sanitize_event_message(std::string(2000, 'x')).size(), 1024u);
}

TEST_F(Recorder, CreateIsACoreV1EventInDefaultForAClusterScopedObject) {
  record(server("4c4c4544-0001", "uid-1"), "Registered", "first register, boot MAC 52:54:00:12:34:56");
  EXPECT_TRUE(api->requests.empty()) << "record() must only enqueue";
  drain();
  ASSERT_EQ(api->requests.size(), 1u);
  EXPECT_EQ(target(0), "POST /api/v1/namespaces/default/events?fieldManager=ironboot");
  EXPECT_EQ(api->requests[0].content_type, "application/json");
  const auto e = body(0);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  EXPECT_EQ(e.at("apiVersion"), "v1");
  EXPECT_EQ(e.at("kind"), "Event");
  EXPECT_EQ(e.at("metadata").at("name").as_string(), event_name("4c4c4544-0001", static_cast<std::uint64_t>(nanos)));
  EXPECT_EQ(e.at("metadata").at("namespace"), "default");
  const auto& involved = e.at("involvedObject").as_object();
  EXPECT_EQ(involved.at("apiVersion"), "metal.sidero.dev/v1alpha2");
  EXPECT_EQ(involved.at("kind"), "Server");
  EXPECT_EQ(involved.at("name"), "4c4c4544-0001");
  EXPECT_EQ(involved.at("uid"), "uid-1");
  EXPECT_EQ(involved.at("resourceVersion"), "7");
  EXPECT_FALSE(involved.contains("namespace"));
  EXPECT_EQ(e.at("reason"), "Registered");
  EXPECT_EQ(e.at("message"), "first register, boot MAC 52:54:00:12:34:56");
  EXPECT_EQ(e.at("type"), "Normal");
  EXPECT_EQ(e.at("source"), (json::object{{"component", "ironboot"}, {"host", "pxe-1"}}));
  EXPECT_EQ(e.at("firstTimestamp"), "2025-12-02T00:00:00Z");
  EXPECT_EQ(e.at("lastTimestamp"), "2025-12-02T00:00:00Z");
  EXPECT_EQ(e.at("count"), 1);
  EXPECT_TRUE(e.at("eventTime").is_null());
  EXPECT_EQ(e.at("reportingComponent"), "ironboot.dev/discovery");
  EXPECT_EQ(e.at("reportingInstance"), "pxe-1");
  EXPECT_EQ(recorder->stats().created, 1u);
}

TEST_F(Recorder, NamespacedObjectKeepsItsNamespace) {
  json::object pod = server("p", "uid-p");
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  pod["metadata"].as_object()["namespace"] = "kube-system";
  record(pod, "Tested", "m", EventType::Warning);
  drain();
  ASSERT_EQ(api->requests.size(), 1u);
  EXPECT_EQ(target(0), "POST /api/v1/namespaces/kube-system/events?fieldManager=ironboot");
  EXPECT_EQ(body(0).at("involvedObject").at("namespace"), "kube-system");
  EXPECT_EQ(body(0).at("type"), "Warning");
}

TEST_F(Recorder, SameEventWithinTenMinutesBumpsCountThenANewEvent) {
  const auto srv = server("s1", "uid-1");
  record(srv, "BootEnvironment", "environment talos served");
  drain();
  now += 2min;
  record(srv, "BootEnvironment", "environment talos served");
  drain();
  ASSERT_EQ(api->requests.size(), 2u);
  const std::string name(body(0).at("metadata").at("name").as_string());
  EXPECT_EQ(target(1), "PATCH /api/v1/namespaces/default/events/" + name + "?fieldManager=ironboot");
  EXPECT_EQ(api->requests[1].content_type, "application/merge-patch+json");
  EXPECT_EQ(body(1), (json::object{{"count", 2}, {"lastTimestamp", "2025-12-02T00:02:00Z"},
                                   {"message", "environment talos served"}}));
  // A different message is a different event.
  record(srv, "BootEnvironment", "environment flatcar served");
  drain();
  ASSERT_EQ(api->requests.size(), 3u);
  EXPECT_EQ(api->requests[2].method, "POST");
  // More than 10 minutes after the last one: a new Event, count 1.
  now += 10min + 1s;
  record(srv, "BootEnvironment", "environment talos served");
  drain();
  ASSERT_EQ(api->requests.size(), 4u);
  EXPECT_EQ(api->requests[3].method, "POST");
  EXPECT_NE(body(3).at("metadata").at("name").as_string(), name);
  EXPECT_EQ(body(3).at("count"), 1);
  EXPECT_EQ(body(3).at("firstTimestamp"), "2025-12-02T00:12:01Z");
}

TEST_F(Recorder, BumpOfAnEventThatIsGoneCreatesItWhole) {
  const auto srv = server("s1", "uid-1");
  record(srv, "BootFromDisk", "method ipxe-exit");
  drain();
  api->answer = [](const HttpRequest& r) {
    if (r.method == "PATCH") return HttpReply{404, R"({"kind":"Status","code":404,"reason":"NotFound"})", "", {}};
    return HttpReply{201, r.body, "", {}};
  };
  now += 1min;
  record(srv, "BootFromDisk", "method ipxe-exit");
  drain();
  ASSERT_EQ(api->requests.size(), 3u);
  EXPECT_EQ(api->requests[1].method, "PATCH");
  EXPECT_EQ(target(2), "POST /api/v1/namespaces/default/events?fieldManager=ironboot");
  EXPECT_EQ(body(2).at("count"), 2);
  EXPECT_EQ(body(2).at("metadata").at("name"), body(0).at("metadata").at("name"));
}

TEST_F(Recorder, RateLimitedPerObjectLikeClientGoSpamFilter) {
  const auto a = server("a", "uid-a");
  for (int i = 0; i < 30; ++i) record(a, "Reason" + std::to_string(i), "m");
  record(server("b", "uid-b"), "Reason", "m");  // another object has its own bucket
  drain();
  EXPECT_EQ(api->requests.size(), 26u);
  EXPECT_EQ(recorder->stats().rate_limited, 5u);
  // One token per 5 minutes.
  now += 5min;
  record(a, "Later1", "m");
  record(a, "Later2", "m");
  drain();
  EXPECT_EQ(api->requests.size(), 27u);
  EXPECT_EQ(recorder->stats().rate_limited, 6u);
}

TEST_F(Recorder, ABootLoopIsOneEventWhoseCountKeepsEveryOccurrence) {
  const auto srv = server("s1", "uid-1");
  for (int i = 0; i < 2000; ++i) {
    record(srv, "BootEnvironment", "environment talos served");
    now += 1s;
    if (i % 100 == 0) drain();
  }
  drain();
  std::size_t creates = 0;
  for (const auto& r : api->requests) creates += r.method == "POST";
  EXPECT_EQ(creates, 1u);
  EXPECT_LE(api->requests.size(), 25u + 2000 / 300 + 1);
  // The last write carries the count of every boot recorded up to it.
  const auto last = body(api->requests.size() - 1);
  EXPECT_GT(last.at("count").as_int64(), 1500);
}

TEST_F(Recorder, OutageQueuesBoundedDropsOldestAndGivesUp) {
  EventRecorderOptions o;
  o.max_queued = 5;
  o.max_attempts = 3;
  make(o);
  api->answer = [](const HttpRequest&) { return HttpReply{0, "", "connection refused", {}}; };
  for (int i = 0; i < 20; ++i) record(server("s" + std::to_string(i), "u"), "Registered", "m");
  EXPECT_EQ(recorder->queued(), 5u);
  EXPECT_EQ(recorder->stats().queue_dropped, 15u);
  drain();
  EXPECT_EQ(recorder->queued(), 0u);
  EXPECT_EQ(recorder->stats().abandoned, 5u);
  ASSERT_EQ(api->requests.size(), 15u);  // 5 writes, 3 attempts each, oldest survivors first
  EXPECT_EQ(body(0).at("involvedObject").at("name"), "s15");
  // The API is back: new Events are written.
  api->answer = [](const HttpRequest& r) { return HttpReply{201, r.body, "", {}}; };
  record(server("s1", "u"), "Accepted", "m");
  drain();
  EXPECT_EQ(recorder->stats().created, 1u);
}

TEST_F(Recorder, RepeatsDuringAnOutageUpdateTheWaitingWrite) {
  api->answer = [](const HttpRequest&) { return HttpReply{503, R"({"kind":"Status","code":503})", "", {}}; };
  const auto srv = server("s1", "uid-1");
  for (int i = 0; i < 10; ++i) {
    record(srv, "BootFromDisk", "method ipxe-exit");
    now += 1s;
  }
  EXPECT_EQ(recorder->queued(), 1u);
  api->answer = [](const HttpRequest& r) { return HttpReply{201, r.body, "", {}}; };
  drain();
  ASSERT_EQ(api->requests.size(), 1u);
  EXPECT_EQ(body(0).at("count"), 10);
  EXPECT_EQ(body(0).at("lastTimestamp"), "2025-12-02T00:00:09Z");
}

TEST_F(Recorder, RefusedWriteIsDroppedNotRetried) {
  // The embedded API before it serves Events answers 404.
  api->answer = [](const HttpRequest&) {
    return HttpReply{404, R"({"kind":"Status","code":404,"reason":"NotFound","message":"not found"})", "", {}};
  };
  record(server("s1", "u"), "Registered", "m");
  record(server("s2", "u"), "Registered", "m");
  drain();
  EXPECT_EQ(api->requests.size(), 2u);
  EXPECT_EQ(recorder->stats().rejected, 2u);
  EXPECT_EQ(recorder->queued(), 0u);
}

TEST_F(Recorder, StopDropsTheQueueAndRecordsNothingMore) {
  api->answer = [](const HttpRequest&) { return HttpReply{0, "", "down", {}}; };
  record(server("s1", "u"), "Registered", "m");
  drain();
  recorder->stop();
  EXPECT_EQ(recorder->queued(), 0u);
  record(server("s2", "u"), "Registered", "m");
  EXPECT_EQ(recorder->queued(), 0u);
}

}  // namespace
}  // namespace ironboot::kube
