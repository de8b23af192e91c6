// Accept backoff, connection slots, the per-connection Deadline and the Listener.
#include "http/connections.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "http/session_skeleton.hpp"

namespace ironboot::http {
namespace {

using std::chrono::milliseconds;

TEST(AcceptBackoff, DoublesToOneSecondAndResetsOnSuccess) {
  AcceptBackoff b;
  std::vector<long> delays;
  for (int i = 0; i < 9; ++i) delays.push_back(b.failed().count());
  EXPECT_EQ(delays, (std::vector<long>{10, 20, 40, 80, 160, 320, 640, 1000, 1000}));
  b.succeeded();
  EXPECT_EQ(b.failed(), milliseconds(10));
  EXPECT_EQ(b.failed(), milliseconds(20));
}

TEST(ConnectionRegistry, SlotsCountFollowTheGaugeAndOutliveTheirOwner) {
  Gauge gauge;
  auto registry = ConnectionRegistry::create(&gauge);
  std::optional<ConnectionRegistry::Slot> a(registry->acquire());
  {
    ConnectionRegistry::Slot b = registry->acquire();
    EXPECT_EQ(registry->size(), 2u);
    EXPECT_EQ(gauge.value(), 2);
    ConnectionRegistry::Slot moved(std::move(b));  // one connection, still one slot
    EXPECT_EQ(registry->size(), 2u);
  }
  EXPECT_EQ(registry->size(), 1u);
  EXPECT_EQ(gauge.value(), 1);
  std::weak_ptr<ConnectionRegistry> weak = registry;
  registry.reset();
  EXPECT_FALSE(weak.expired());  // the remaining slot keeps it
  a.reset();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(gauge.value(), 0);
}

TEST(ConnectionRegistry, CountsSlotsPerClient) {
  auto registry = ConnectionRegistry::create();
  std::optional<ConnectionRegistry::Slot> a1(registry->acquire("10.0.0.1"));
  std::optional<ConnectionRegistry::Slot> a2(registry->acquire("10.0.0.1"));
  ConnectionRegistry::Slot b = registry->acquire("10.0.0.2");
  ConnectionRegistry::Slot anonymous = registry->acquire();
  EXPECT_EQ(registry->count_for("10.0.0.1"), 2u);
  EXPECT_EQ(registry->count_for("10.0.0.2"), 1u);
  EXPECT_EQ(registry->count_for("10.0.0.3"), 0u);
  EXPECT_EQ(registry->size(), 4u);
  a1.reset();
  EXPECT_EQ(registry->count_for("10.0.0.1"), 1u);
  a2.reset();
  EXPECT_EQ(registry->count_for("10.0.0.1"), 0u);
  EXPECT_EQ(registry->size(), 2u);
}

TEST(ConnectionRegistry, DrainAllRunsEveryHook) {
  auto registry = ConnectionRegistry::create();
  int drained = 0;
  ConnectionRegistry::Slot a = registry->acquire();
  ConnectionRegistry::Slot b = registry->acquire();
  ConnectionRegistry::Slot c = registry->acquire();  // no hook: left alone
  a.on_drain([&] { ++drained; });
  b.on_drain([&] { drained += 10; });
  registry->drain_all();
  EXPECT_EQ(drained, 11);
  EXPECT_EQ(registry->size(), 3u);  // draining asks; the sessions end by themselves
}

TEST(Deadline, ExpiresOnceArmedAndNotWhenDisarmedOrMovedLater) {
  boost::asio::io_context io;
  std::vector<std::string> expired;
  Deadline d(io.get_executor(), [&](const char* phase) { expired.emplace_back(phase); });
  d.arm(milliseconds(20), "request");
  io.run_for(milliseconds(60));
  EXPECT_EQ(expired, std::vector<std::string>{"request"});
  EXPECT_TRUE(d.expired());

  Deadline later(io.get_executor(), [&](const char* phase) { expired.emplace_back(phase); });
  later.arm(milliseconds(20), "idle");
  later.arm(milliseconds(150), "response");  // moved later: nothing at 20 ms
  io.restart();
  io.run_for(milliseconds(80));
  EXPECT_EQ(expired.size(), 1u);
  later.arm(milliseconds(10), "request");  // moved earlier again
  io.restart();
  io.run_for(milliseconds(60));
  EXPECT_EQ(expired, (std::vector<std::string>{"request", "request"}));

  Deadline off(io.get_executor(), [&](const char* phase) { expired.emplace_back(phase); });
  off.arm(milliseconds(10), "idle");
  off.disarm();
  io.restart();
  io.run_for(milliseconds(40));
  EXPECT_EQ(expired.size(), 2u);
  EXPECT_FALSE(off.expired());
}

TEST(Deadline, DestroyedBeforeItExpiresNeverCallsBack) {
  boost::asio::io_context io;
  bool called = false;
  {
    Deadline d(io.get_executor(), [&](const char*) { called = true; });
    d.arm(milliseconds(10), "idle");
  }
  io.run_for(milliseconds(40));
  EXPECT_FALSE(called);
}

TEST(Listener, AcceptsUntilClosed) {
  using tcp = boost::asio::ip::tcp;
  boost::asio::io_context io;
  Listener listener(io, logger("http"));
  ASSERT_FALSE(listener.listen(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)));
  ASSERT_TRUE(listener.is_open());
  ASSERT_NE(listener.port(), 0);
  std::vector<std::string> peers;
  listener.start([&](tcp::socket socket) {
    boost::system::error_code ec;
    peers.push_back(format_peer(socket.remote_endpoint(ec)));
  });
  const tcp::endpoint server(boost::asio::ip::make_address("127.0.0.1"), listener.port());
  tcp::socket first(io), second(io);
  first.connect(server);
  second.connect(server);
  for (int i = 0; i < 100 && peers.size() < 2; ++i) io.run_for(milliseconds(5));
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0].rfind("127.0.0.1:", 0), 0u) << peers[0];
  listener.close();
  EXPECT_FALSE(listener.is_open());
  io.restart();
  io.run_for(milliseconds(20));  // the loop ends: nothing left to run
  EXPECT_TRUE(io.stopped());
}

TEST(FormatPeer, Forms) {
  using boost::asio::ip::make_address;
  using tcp = boost::asio::ip::tcp;
  EXPECT_EQ(format_peer(tcp::endpoint(make_address("10.0.0.5"), 49152)), "10.0.0.5:49152");
  EXPECT_EQ(format_peer(tcp::endpoint(make_address("::ffff:10.0.0.5"), 1)), "10.0.0.5:1");
  EXPECT_EQ(format_peer(tcp::endpoint(make_address("fd00::5"), 80)), "[fd00::5]:80");
}

}  // namespace
}  // namespace ironboot::http
