#include "transport/connector.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tools/sim/bm6_peripheral.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;

// Addresses are parsed by transport/address.h: tests/address_test.cpp.

struct Outcome {
  bool done = false;
  bool connected = false;
  std::string error;
};

Outcome attempt(EventLoop& loop, Connector& c) {
  Outcome o;
  c.connect([&](UniqueFd fd, const std::string& e) {
    o.done = true;
    o.connected = static_cast<bool>(fd);
    o.error = e;
  });
  EXPECT_FALSE(o.done) << "result must come through the loop, not from connect()";
  loop.run_until([&] { return o.done; }, 2s);
  return o;
}

TEST(UnixConnector, MissingSocketSaysSo) {
  EventLoop loop;
  std::string err;
  auto c = make_connector(loop, {.address = DeviceAddress::unix_socket("/nonexistent/bm6.sock")},
                          nullptr, err);
  ASSERT_TRUE(c);
  const auto o = attempt(loop, *c);
  ASSERT_TRUE(o.done);
  EXPECT_FALSE(o.connected);
  EXPECT_NE(o.error.find("no simulator socket at /nonexistent/bm6.sock"), std::string::npos)
      << o.error;
}

TEST(UnixConnector, ConnectsAndCancelSuppressesTheCallback) {
  EventLoop loop;
  const std::string path = "/tmp/bm6-connector-" + std::to_string(::getpid()) + ".sock";
  sim::Bm6SimServer server(loop, path, {});
  std::string err;
  auto c = make_connector(loop, {.address = DeviceAddress::unix_socket(path)}, nullptr, err);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->address(), "unix:" + path);
  const auto o = attempt(loop, *c);
  EXPECT_TRUE(o.connected) << o.error;
  bool fired = false;
  c->connect([&](UniqueFd, const std::string&) { fired = true; });
  c->cancel();
  loop.run_until([] { return false; }, 50ms);
  EXPECT_FALSE(fired);
}

TEST(Connector, BluetoothWithoutKernelSupportOrAdapterSaysSo) {
  // This machine's kernel may have no AF_BLUETOOTH at all (the CI machines do not): either
  // way the attempt ends through the loop with a sentence a user can act on, not a crash.
  EventLoop loop;
  Adapters adapters(loop);
  std::string err;
  auto c = make_connector(
      loop,
      {DeviceAddress::bluetooth({0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}), AdapterId::hci(7), 200ms},
      &adapters, err);
  ASSERT_TRUE(c) << err;
  const auto o = attempt(loop, *c);
  ASSERT_TRUE(o.done);
  EXPECT_FALSE(o.connected);
  const bool no_kernel = o.error.find("no Bluetooth support") != std::string::npos;
  const bool no_adapter = o.error.find("there is no Bluetooth adapter hci7") != std::string::npos;
  EXPECT_TRUE(no_kernel || no_adapter) << o.error;
  // A Bluetooth connector needs the loop's adapters.
  EXPECT_FALSE(make_connector(
      loop, {.address = DeviceAddress::bluetooth({0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff})}, nullptr,
      err));
  EXPECT_NE(err, "");
}

TEST(Adapter, OneConnectPerAdapterInOrder) {
  EventLoop loop;
  Adapters adapters(loop);
  Adapter& hci0 = adapters.get(0);
  EXPECT_EQ(&adapters.get(0), &hci0);
  std::vector<int> granted;
  const auto a = hci0.acquire_connect([&] { granted.push_back(1); });
  const auto b = hci0.acquire_connect([&] { granted.push_back(2); });
  const auto c = hci0.acquire_connect([&] { granted.push_back(3); });
  adapters.get(1).acquire_connect([&] { granted.push_back(10); });  // another: not held up
  loop.run_until([] { return false; }, 20ms);
  EXPECT_EQ(granted, (std::vector<int>{1, 10}));
  hci0.release_connect(b);  // gives up while waiting
  hci0.release_connect(a);
  loop.run_until([] { return false; }, 20ms);
  EXPECT_EQ(granted, (std::vector<int>{1, 10, 3}));
  hci0.release_connect(c);
}

TEST(SocketConnect, TimeoutClosesAHangingAttempt) {
  // A TCP listener on loopback whose accept queue is full drops further SYNs, so the next
  // connect hangs in EINPROGRESS: the timeout must end it.
  EventLoop loop;
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  socklen_t len = sizeof sin;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  ASSERT_EQ(::listen(listener.get(), 0), 0);
  std::vector<UniqueFd> fillers;
  for (int i = 0; i < 4; ++i) {
    UniqueFd f(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ::connect(f.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    fillers.push_back(std::move(f));
  }
  loop.run_until([] { return false; }, 50ms);
  SocketConnect connect(loop);
  bool done = false;
  std::string error;
  const auto started = std::chrono::steady_clock::now();
  connect.start(
      UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)), &sin, sizeof sin,
      300ms, [](int err) { return std::string(err == ETIMEDOUT ? "timed out" : "other"); },
      [&](UniqueFd fd, const std::string& e) {
        done = true;
        error = e;
        EXPECT_FALSE(fd);
      });
  ASSERT_TRUE(loop.run_until([&] { return done; }, 3s));
  EXPECT_EQ(error, "timed out");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 290ms);
  EXPECT_EQ(loop.watched_fds(), 0u);
}

}  // namespace
}  // namespace bm6
