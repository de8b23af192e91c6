// The client, informer and write queue against the in-process API (real semantics, no
// sockets) and against a scripted transport for failures the API itself never produces.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <deque>

#include "kube/api_handler.hpp"
#include "kube/client.hpp"
#include "kube/informer.hpp"
#include "kube/write_queue.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

json::object server(const std::string& name, bool accepted = false) {
  return json::object{{"apiVersion", kApiVersion}, {"kind", "Server"}, {"metadata", json::object{{"name", name}}},
                      {"spec", json::object{{"accepted", accepted}}}};
}

template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return pred();
}

class InProcess : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  Store store;
  ApiHandler handler{store, [] { return std::chrono::system_clock::now(); }, random_uid};
  KubeClient client{make_in_process_transport(io, handler, store)};

  ApiReply sync(std::function<void(ReplyHandler)> op) {
    std::optional<ApiReply> out;
    op([&](ApiReply r) { out = std::move(r); });
    EXPECT_TRUE(run_until(io, [&] { return out.has_value(); }));
    return out.value_or(ApiReply{});
  }
};

TEST_F(InProcess, CrudAndConflicts) {
  auto r = sync([&](auto done) { client.create("servers", server("a"), done); });
  ASSERT_EQ(r.status, 201u) << r.message;
  auto got = sync([&](auto done) { client.get("servers", "a", done); });
  ASSERT_TRUE(got.ok());
  json::object stale = *got.object();
  json::object next = stale;
  next["spec"].as_object()["hostname"] = "h1";
  EXPECT_TRUE(sync([&](auto done) { client.update("servers", next, done); }).ok());
  stale["spec"].as_object()["hostname"] = "h2";
  auto conflict = sync([&](auto done) { client.update("servers", stale, done); });
  EXPECT_TRUE(conflict.conflict());
  EXPECT_EQ(conflict.reason, "Conflict");
  auto p = sync([&](auto done) { client.patch("servers", "a", PatchType::Merge, json::parse(R"({"spec":{"accepted":true}})"), done); });
  EXPECT_EQ(p.object()->at("spec").at("accepted"), true);
  p = sync([&](auto done) {
    client.patch("servers", "a", PatchType::Json, json::parse(R"([{"op":"replace","path":"/spec/hostname","value":"j"}])"), done);
  });
  EXPECT_EQ(p.object()->at("spec").at("hostname"), "j");
  p = sync([&](auto done) { client.patch("servers", "a", PatchType::Merge, json::parse(R"({"status":{"power":"on"}})"), done, true); });
  EXPECT_EQ(p.object()->at("status").at("power"), "on");
  auto missing = sync([&](auto done) { client.get("servers", "zzz", done); });
  EXPECT_TRUE(missing.not_found());
  EXPECT_EQ(missing.reason, "NotFound");
  EXPECT_TRUE(sync([&](auto done) { client.remove("servers", "a", done); }).ok());
  EXPECT_TRUE(sync([&](auto done) { client.get("servers", "a", done); }).not_found());
}

TEST_F(InProcess, InformerSyncsAndFollowsChanges) {
  for (const char* n : {"a", "b", "c"}) sync([&](auto done) { client.create("servers", server(n), done); });
  Informer inf(io, client, "servers");
  std::vector<std::string> log;
  inf.add_handler([&](const ObjectPtr& old, const ObjectPtr& now) {
    const auto& o = now ? *now : *old;
    log.push_back(std::string(!old ? "add " : !now ? "del " : "upd ") + std::string(o.at("metadata").at("name").as_string()));
  });
  EXPECT_FALSE(inf.synced());
  inf.start();
  ASSERT_TRUE(run_until(io, [&] { return inf.synced(); }));
  EXPECT_EQ(inf.size(), 3u);
  EXPECT_EQ(inf.get("a")->at("kind"), "Server");
  sync([&](auto done) { client.patch("servers", "b", PatchType::Merge, json::parse(R"({"spec":{"accepted":true}})"), done); });
  sync([&](auto done) { client.remove("servers", "c", done); });
  sync([&](auto done) { client.create("servers", server("d"), done); });
  ASSERT_TRUE(run_until(io, [&] { return log.size() == 6; }));
  EXPECT_EQ(log, (std::vector<std::string>{"add a", "add b", "add c", "upd b", "del c", "add d"}));
  EXPECT_EQ(inf.get("b")->at("spec").at("accepted"), true);
  EXPECT_EQ(inf.get("c"), nullptr);
  EXPECT_EQ(inf.resource_version(), std::to_string(store.resource_version()));
}

TEST_F(InProcess, WriteQueueReappliesAfterConflict) {
  sync([&](auto done) { client.create("servers", server("a"), done); });
  WriteQueue q(io, client);
  int calls = 0;
  std::optional<ApiReply> result;
  q.enqueue("servers", "a",
            [&](const json::object* cur) -> std::optional<json::object> {
              ++calls;
              if (calls == 1) {
                // Someone else writes between our read and our update.
                handler.handle(ApiRequest{"PATCH", "/apis/metal.sidero.dev/v1alpha2/servers/a", "",
                                          "application/merge-patch+json", R"({"metadata":{"labels":{"other":"x"}}})"});
              }
              json::object next = *cur;
              next["spec"].as_object()["hostname"] = "mine";
              return next;
            },
            [&](const ApiReply& r) { result = r; });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_TRUE(result->ok());
  EXPECT_EQ(calls, 2);
  auto obj = store.get("servers", "a");
  EXPECT_EQ(obj->at("spec").at("hostname"), "mine");
  EXPECT_EQ(obj->at("metadata").at("labels").at("other"), "x") << "the other writer's change survives";
  // merge() creates a missing object and is a no-op when nothing changes.
  std::optional<ApiReply> created;
  q.merge("servers", "new", json::object{{"spec", json::object{{"accepted", false}}}}, false, [&](const ApiReply& r) { created = r; });
  ASSERT_TRUE(run_until(io, [&] { return created.has_value(); }));
  EXPECT_EQ(created->status, 201u);
  const auto rv = store.resource_version();
  created.reset();
  q.merge("servers", "new", json::object{{"spec", json::object{{"accepted", false}}}}, false, [&](const ApiReply& r) { created = r; });
  ASSERT_TRUE(run_until(io, [&] { return created.has_value(); }));
  EXPECT_EQ(store.resource_version(), rv);
}

// A transport whose answers the test scripts; requests are recorded.
class ScriptedTransport : public Transport {
 public:
  explicit ScriptedTransport(boost::asio::io_context& io) : io_(io) {}
  struct StreamScript {
    std::vector<std::string> lines;
    HttpReply end;
  };
  std::deque<HttpReply> replies;
  std::deque<StreamScript> streams;
  std::vector<std::string> targets;

  void send(HttpRequest r, std::function<void(HttpReply)> done) override {
    targets.push_back(r.method + " " + r.target);
    HttpReply reply = replies.empty() ? HttpReply{0, "", "no script", {}} : replies.front();
    if (!replies.empty()) replies.pop_front();
    boost::asio::post(io_, [done, reply] { done(reply); });
  }
  struct Handle : StreamHandle {
    bool cancelled = false;
    void cancel() override { cancelled = true; }
  };
  std::shared_ptr<StreamHandle> stream(HttpRequest r, std::function<void(std::string_view)> on_line,
                                       std::function<void(HttpReply)> on_end) override {
    targets.push_back("WATCH " + r.target);
    auto h = std::make_shared<Handle>();
    if (streams.empty()) return h;  // stays open forever
    auto s = streams.front();
    streams.pop_front();
    boost::asio::post(io_, [h, s, on_line, on_end] {
      for (const auto& l : s.lines) {
        if (h->cancelled) return;
        on_line(l);
      }
      if (!h->cancelled) on_end(s.end);
    });
    return h;
  }

 private:
  boost::asio::io_context& io_;
};

std::string list_body(const std::string& rv, const std::vector<std::string>& names) {
  json::array items;
  for (const auto& n : names) items.push_back(json::object{{"metadata", json::object{{"name", n}, {"resourceVersion", rv}}}});
  return json::serialize(json::object{{"kind", "ServerList"}, {"apiVersion", kApiVersion},
                                      {"metadata", json::object{{"resourceVersion", rv}}}, {"items", items}});
}

// In embedded mode the informers keep the store's texts instead of copies of their own:
// each shared text is one more owner of the stored version, for listed and watched versions.
TEST_F(InProcess, InformerSharesTheStoresTexts) {
  ASSERT_EQ(sync([&](auto done) { client.create("servers", server("a"), done); }).status, 201u);
  auto owners = [&] { return static_cast<long>(store.find("servers", "a")->owners()) - 1; };
  Informer copying(io, client, "servers");
  copying.start();
  ASSERT_TRUE(run_until(io, [&] { return copying.synced(); }));
  const long listed = owners();
  auto sharing = std::make_unique<Informer>(io, client, "servers");
  sharing->set_text_source([&](const std::string& resource, const std::string& name) -> Informer::SharedText {
    StoredPtr stored = store.find(resource, name);
    return stored ? shared_json(std::move(stored)) : nullptr;
  });
  sharing->start();
  ASSERT_TRUE(run_until(io, [&] { return sharing->synced(); }));
  EXPECT_EQ(owners(), listed + 1);
  ASSERT_TRUE(sync([&](auto done) {
                client.patch("servers", "a", PatchType::Merge, json::object{{"spec", json::object{{"hostname", "h"}}}}, done);
              }).ok());
  const std::string rv = std::to_string(store.resource_version());
  ASSERT_TRUE(run_until(io, [&] { return sharing->resource_version() == rv && copying.resource_version() == rv; }));
  EXPECT_EQ(sharing->get("a")->at("spec").at("hostname"), "h");
  const long watched = owners();
  sharing.reset();
  EXPECT_EQ(owners(), watched - 1) << "the watched version was shared too";
}

// A change of one object keeps the trees get() parsed for the others (a storm's agents read
// their own Servers while other Servers change); the changed object's tree is new.
TEST_F(InProcess, InformerKeepsOtherObjectsTreesAcrossAChange) {
  for (const char* name : {"a", "b"}) ASSERT_EQ(sync([&](auto done) { client.create("servers", server(name), done); }).status, 201u);
  Informer inf(io, client, "servers");
  inf.start();
  ASSERT_TRUE(run_until(io, [&] { return inf.synced(); }));
  const ObjectPtr a = inf.get("a"), b = inf.get("b");
  auto hostname = [&](const char* name, const char* value) {
    ASSERT_TRUE(sync([&](auto done) {
                  client.patch("servers", name, PatchType::Merge, json::object{{"spec", json::object{{"hostname", value}}}}, done);
                }).ok());
    const std::string rv = std::to_string(store.resource_version());
    ASSERT_TRUE(run_until(io, [&] { return inf.resource_version() == rv; }));
  };
  hostname("b", "hb");
  EXPECT_EQ(inf.get("a").get(), a.get()) << "a's tree was parsed again after b changed";
  EXPECT_NE(inf.get("b").get(), b.get());
  EXPECT_EQ(inf.get("b")->at("spec").at("hostname"), "hb");
  hostname("a", "ha");
  EXPECT_EQ(inf.get("a")->at("spec").at("hostname"), "ha");
}

std::string event(const char* type, const std::string& name, const std::string& rv) {
  return json::serialize(json::object{{"type", type}, {"object", json::object{{"kind", "Server"}, {"metadata", json::object{{"name", name}, {"resourceVersion", rv}}}}}});
}

TEST(Informer, ResumesRelistsAndBacksOff) {
  boost::asio::io_context io;
  auto t = std::make_shared<ScriptedTransport>(io);
  KubeClient client(t);
  t->replies.push_back({200, list_body("10", {"a"}), "", {}});
  // 1: an event and a bookmark, then a normal end -> resume from the bookmark's RV.
  t->streams.push_back({{event("ADDED", "b", "11"), R"({"type":"BOOKMARK","object":{"kind":"Server","metadata":{"resourceVersion":"15"}}})"},
                        {200, "", "", {}}});
  // 2: broken mid-stream (half an event) -> backoff, watch again from 15.
  t->streams.push_back({{R"({"type":"ADDED","object":{"metad)"}, {0, "", "stream broken", {}}});
  // 3: too old as an ERROR event -> relist.
  t->streams.push_back({{R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})"}, {200, "", "", {}}});
  t->replies.push_back({200, list_body("40", {"a", "c"}), "", {}});
  // 4: too old as HTTP 410 -> relist again.
  t->streams.push_back({{}, {410, R"({"kind":"Status","code":410,"reason":"Expired"})", "", {}}});
  t->replies.push_back({200, list_body("50", {"c"}), "", {}});
  Informer inf(io, client, "servers");
  inf.min_backoff = std::chrono::milliseconds(1);
  std::vector<std::string> deleted;
  inf.add_handler([&](const ObjectPtr& old, const ObjectPtr& now) {
    if (!now) deleted.emplace_back(old->at("metadata").at("name").as_string());
  });
  inf.start();
  ASSERT_TRUE(run_until(io, [&] { return inf.relists() == 3 && inf.resource_version() == "50"; }));
  std::vector<std::string> expected = {
      "GET /apis/metal.sidero.dev/v1alpha2/servers?limit=500",
      "WATCH /apis/metal.sidero.dev/v1alpha2/servers?watch=true&timeoutSeconds=300&resourceVersion=10&allowWatchBookmarks=true",
      "WATCH /apis/metal.sidero.dev/v1alpha2/servers?watch=true&timeoutSeconds=300&resourceVersion=15&allowWatchBookmarks=true",
      "WATCH /apis/metal.sidero.dev/v1alpha2/servers?watch=true&timeoutSeconds=300&resourceVersion=15&allowWatchBookmarks=true",
      "GET /apis/metal.sidero.dev/v1alpha2/servers?limit=500",
      "WATCH /apis/metal.sidero.dev/v1alpha2/servers?watch=true&timeoutSeconds=300&resourceVersion=40&allowWatchBookmarks=true",
      "GET /apis/metal.sidero.dev/v1alpha2/servers?limit=500",
      "WATCH /apis/metal.sidero.dev/v1alpha2/servers?watch=true&timeoutSeconds=300&resourceVersion=50&allowWatchBookmarks=true"};
  ASSERT_TRUE(run_until(io, [&] { return t->targets.size() >= expected.size(); }));
  EXPECT_EQ(t->targets, expected);
  // The relists replaced the cache: b vanished at the first relist, a at the second.
  EXPECT_EQ(deleted, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(inf.size(), 1u);
}

TEST(WriteQueue, RetriesTransientFailuresWithRetryAfter) {
  boost::asio::io_context io;
  auto t = std::make_shared<ScriptedTransport>(io);
  KubeClient client(t);
  WriteQueue q(io, client);
  q.min_backoff = std::chrono::milliseconds(1);
  const std::string current = json::serialize(json::object{
      {"apiVersion", kApiVersion}, {"kind", "Server"}, {"metadata", json::object{{"name", "a"}, {"resourceVersion", "7"}}},
      {"spec", json::object{{"accepted", false}}}});
  t->replies.push_back({0, "", "connection refused", {}});                           // GET: API down
  t->replies.push_back({503, R"({"kind":"Status","code":503})", "", {}});           // GET: unavailable
  t->replies.push_back({429, R"({"kind":"Status","code":429})", "", std::chrono::seconds(1)});  // throttled
  t->replies.push_back({200, current, "", {}});                                     // GET
  t->replies.push_back({200, current, "", {}});                                     // PUT
  std::optional<ApiReply> result;
  const auto start = std::chrono::steady_clock::now();
  q.merge("servers", "a", json::object{{"spec", json::object{{"accepted", true}}}}, false, [&](const ApiReply& r) { result = r; });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_TRUE(result->ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1)) << "Retry-After honoured";
  EXPECT_EQ(q.retries(), 3u);
  ASSERT_EQ(t->targets.size(), 5u);
  EXPECT_EQ(t->targets[4], "PUT /apis/metal.sidero.dev/v1alpha2/servers/a?fieldManager=ironboot");
  EXPECT_EQ(q.pending(), 0u);
}

std::string server_text(const std::string& name, const std::string& rv, bool accepted = false) {
  json::object o = server(name, accepted);
  o["metadata"].as_object()["resourceVersion"] = rv;
  return json::serialize(o);
}

// With a cache that knows the object, a write is one PUT with the cached resourceVersion (no
// GET first); a 409 reads the object and applies the write again; the next write of the same
// object while the queue holds it is based on the API's answer, not the cache.
TEST(WriteQueue, WritesFromTheCacheWithoutReadingFirst) {
  boost::asio::io_context io;
  auto t = std::make_shared<ScriptedTransport>(io);
  KubeClient client(t);
  WriteQueue q(io, client);
  auto cached = std::make_shared<const json::object>(json::parse(server_text("a", "7")).as_object());
  q.set_cache([&](const std::string& resource, const std::string& name) -> WriteQueue::Known {
    if (resource == "servers" && name == "a") return ObjectPtr(cached);
    if (resource == "servers" && name == "gone") return ObjectPtr();  // known absent
    return std::nullopt;
  });
  t->replies.push_back({200, server_text("a", "8", true), "", {}});  // PUT
  std::optional<ApiReply> first;
  q.merge("servers", "a", json::object{{"spec", json::object{{"accepted", true}}}}, false, [&](const ApiReply& r) { first = r; });
  ASSERT_TRUE(run_until(io, [&] { return first.has_value(); }));
  EXPECT_TRUE(first->ok());
  ASSERT_EQ(t->targets, (std::vector<std::string>{"PUT /apis/metal.sidero.dev/v1alpha2/servers/a?fieldManager=ironboot"}));
  EXPECT_EQ(q.reads(), 0u);

  // A stale cache: 409, then GET and PUT again with the read version.
  t->targets.clear();
  t->replies.push_back({409, R"({"kind":"Status","code":409,"reason":"Conflict"})", "", {}});
  t->replies.push_back({200, server_text("a", "12"), "", {}});
  t->replies.push_back({200, server_text("a", "13"), "", {}});
  // Queued behind it: based on the answer to the write before it (rv 13), no read.
  t->replies.push_back({200, server_text("a", "14"), "", {}});
  int done = 0;
  q.merge("servers", "a", json::object{{"spec", json::object{{"hostname", "x"}}}}, false, [&](const ApiReply& r) {
    EXPECT_TRUE(r.ok());
    ++done;
  });
  q.merge("servers", "a", json::object{{"spec", json::object{{"hostname", "x"}}}}, true, [&](const ApiReply& r) {
    EXPECT_TRUE(r.ok());
    ++done;
  });
  ASSERT_TRUE(run_until(io, [&] { return done == 2; }));
  EXPECT_EQ(t->targets, (std::vector<std::string>{"PUT /apis/metal.sidero.dev/v1alpha2/servers/a?fieldManager=ironboot",
                                                  "GET /apis/metal.sidero.dev/v1alpha2/servers/a",
                                                  "PUT /apis/metal.sidero.dev/v1alpha2/servers/a?fieldManager=ironboot",
                                                  "PUT /apis/metal.sidero.dev/v1alpha2/servers/a/status?fieldManager=ironboot"}));
  EXPECT_EQ(q.reads(), 1u);

  // Known absent: created straight away.
  t->targets.clear();
  t->replies.push_back({201, server_text("gone", "20"), "", {}});
  std::optional<ApiReply> created;
  q.merge("servers", "gone", json::object{{"spec", json::object{{"accepted", false}}}}, false, [&](const ApiReply& r) { created = r; });
  ASSERT_TRUE(run_until(io, [&] { return created.has_value(); }));
  EXPECT_EQ(t->targets, (std::vector<std::string>{"POST /apis/metal.sidero.dev/v1alpha2/servers?fieldManager=ironboot"}));
  // A no-op by the cache's word is confirmed by a read (the cache may lag): here the object
  // really differs, so the write goes out.
  t->targets.clear();
  t->replies.push_back({200, server_text("a", "30", false), "", {}});
  t->replies.push_back({200, server_text("a", "31", true), "", {}});
  cached = std::make_shared<const json::object>(json::parse(server_text("a", "9", true)).as_object());
  std::optional<ApiReply> confirmed;
  q.merge("servers", "a", json::object{{"spec", json::object{{"accepted", true}}}}, false, [&](const ApiReply& r) { confirmed = r; });
  ASSERT_TRUE(run_until(io, [&] { return confirmed.has_value(); }));
  EXPECT_EQ(t->targets, (std::vector<std::string>{"GET /apis/metal.sidero.dev/v1alpha2/servers/a",
                                                  "PUT /apis/metal.sidero.dev/v1alpha2/servers/a?fieldManager=ironboot"}));
}

// During an outage the queue sends one request per backoff (not one per object), and when the
// API is back the writes go out oldest first.
TEST(WriteQueue, OutageProbesOnceAndDrainsOldestFirst) {
  boost::asio::io_context io;
  auto t = std::make_shared<ScriptedTransport>(io);
  KubeClient client(t);
  WriteQueue q(io, client);
  q.set_cache([](const std::string&, const std::string& name) -> WriteQueue::Known {
    return ObjectPtr(std::make_shared<const json::object>(json::parse(server_text(name, "3")).as_object()));
  });
  q.min_backoff = std::chrono::milliseconds(20);
  q.max_backoff = std::chrono::milliseconds(40);
  // The first burst (all four) and three probes fail.
  for (int i = 0; i < 7; ++i) t->replies.push_back({0, "", "connection refused", {}});
  std::vector<std::string> landed;
  const std::vector<std::string> names{"m1", "m2", "m3", "m4"};
  for (const auto& name : names) {
    q.merge("servers", name, json::object{{"spec", json::object{{"accepted", true}}}}, false,
            [&landed, name](const ApiReply& r) {
              if (r.ok()) landed.push_back(name);
            });
  }
  ASSERT_TRUE(run_until(io, [&] { return q.retries() == 7; }));
  const std::string put = "PUT /apis/metal.sidero.dev/v1alpha2/servers/";
  const std::string tail = "?fieldManager=ironboot";
  std::vector<std::string> expected;
  for (const auto& n : names) expected.push_back(put + n + tail);
  for (int i = 0; i < 3; ++i) expected.push_back(put + "m1" + tail);  // the oldest probes alone
  EXPECT_EQ(t->targets, expected);
  // Writes made meanwhile merge into the waiting ones: nothing more is queued.
  const auto pending = q.pending();
  q.merge("servers", "m3", json::object{{"spec", json::object{{"hostname", "h"}}}});
  EXPECT_EQ(q.pending(), pending);
  for (const auto& n : names) t->replies.push_back({200, server_text(n, "5", true), "", {}});
  ASSERT_TRUE(run_until(io, [&] { return landed.size() == 4; }));
  EXPECT_EQ(landed, names);
  for (const auto& n : names) expected.push_back(put + n + tail);
  EXPECT_EQ(t->targets, expected);
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(q.bytes(), 0u);
}

// Memory is bounded: writes beyond the budget are refused with 503 QueueFull, superseding
// writes of one object do not grow it, and what is held is counted.
TEST(WriteQueue, RefusesWritesBeyondItsMemoryBudget) {
  boost::asio::io_context io;
  auto t = std::make_shared<ScriptedTransport>(io);  // no replies: the API never answers
  KubeClient client(t);
  WriteQueue q(io, client);
  q.min_backoff = std::chrono::milliseconds(1000);
  q.max_bytes = 64 * 1024;
  auto facts = [](const json::object* cur) -> std::optional<json::object> { return cur ? *cur : server("x"); };
  int refused = 0;
  auto count_refused = [&](const ApiReply& r) {
    if (r.status == 503 && r.reason == "QueueFull") ++refused;
  };
  // One object, many boots: the pending facts write is replaced, the budget is not spent.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.enqueue_superseding("servers", "one", "facts", facts, {}, false, 5000));
  EXPECT_LE(q.pending(), 2u);
  EXPECT_LT(q.bytes(), 2 * 5000u + 1024);
  // Many objects: refused once the budget is spent, and the count stops there.
  int accepted = 0;
  for (int i = 0; i < 100; ++i)
    accepted += q.enqueue_superseding("servers", "m" + std::to_string(i), "facts", facts, count_refused, false, 5000);
  EXPECT_LT(accepted, 12);
  EXPECT_GT(accepted, 5);
  EXPECT_LE(q.bytes(), q.max_bytes);
  EXPECT_EQ(q.peak_bytes(), q.bytes());
  EXPECT_FALSE(q.has_room(5000));
  EXPECT_EQ(q.refused(), static_cast<std::uint64_t>(100 - accepted));
  ASSERT_TRUE(run_until(io, [&] { return refused == 100 - accepted; }));
}

}  // namespace
}  // namespace ironboot::kube
