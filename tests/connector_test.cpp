#include "transport/connector.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "tools/sim/bm6_peripheral.h"
#include "transport/l2cap_connector.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;

// Addresses are parsed by transport/address.h: tests/address_test.cpp.

struct Outcome {
  bool done = false;
  bool connected = false;
  LinkError error;
};

Outcome attempt(EventLoop& loop, Connector& c) {
  Outcome o;
  c.connect([&](UniqueFd fd, const LinkError& e) {
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
  EXPECT_EQ(o.error.kind, LinkErrorKind::kUnreachable) << o.error.detail;
  EXPECT_EQ(o.error.os_errno, ENOENT);
}

// What is at the path decides the kind: a socket nobody listens on refuses, a file is not a
// peer at all.
TEST(UnixConnector, WhatIsAtThePathIsTheKind) {
  EventLoop loop;
  const std::string base = "/tmp/bm6-connector-kind-" + std::to_string(::getpid());
  const std::string dead = base + ".sock", file = base + ".txt";
  {
    UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", dead.c_str());
    ::unlink(dead.c_str());
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
  }  // closed without listening: the path stays, nobody takes a connect
  { UniqueFd f(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
  std::string err;
  auto to_dead = make_connector(loop, {.address = DeviceAddress::unix_socket(dead)}, nullptr, err);
  auto to_file = make_connector(loop, {.address = DeviceAddress::unix_socket(file)}, nullptr, err);
  ASSERT_TRUE(to_dead && to_file) << err;
  const auto refused = attempt(loop, *to_dead);
  EXPECT_EQ(refused.error.kind, LinkErrorKind::kRefused) << refused.error.detail;
  EXPECT_EQ(refused.error.os_errno, ECONNREFUSED);
  const auto wrong = attempt(loop, *to_file);
  EXPECT_EQ(wrong.error.kind, LinkErrorKind::kWrongAddress) << wrong.error.detail;
  ::unlink(dead.c_str());
  ::unlink(file.c_str());
}

// A Bluetooth connect's errno is its kind: what the plugin's log and bm6ctl's exit status
// decide on.
TEST(L2capConnector, ErrnoToKind) {
  const struct {
    int err;
    LinkErrorKind kind;
  } cases[] = {
      {ETIMEDOUT, LinkErrorKind::kUnreachable},
      {EHOSTDOWN, LinkErrorKind::kUnreachable},
      {EHOSTUNREACH, LinkErrorKind::kUnreachable},
      {ECONNRESET, LinkErrorKind::kUnreachable},
      {EBUSY, LinkErrorKind::kBusy},
      {EACCES, LinkErrorKind::kPermission},
      {EPERM, LinkErrorKind::kPermission},
      {ENETDOWN, LinkErrorKind::kAdapter},
      {ECONNREFUSED, LinkErrorKind::kAdapter},
      {ENODEV, LinkErrorKind::kAdapter},
      {EAFNOSUPPORT, LinkErrorKind::kAdapter},
      {EMFILE, LinkErrorKind::kResource},
      {EIO, LinkErrorKind::kOther},
  };
  for (const auto& c : cases) {
    const LinkError e = describe_bluetooth_errno(c.err, "hci0", "AA:BB:CC:DD:EE:FF");
    EXPECT_EQ(e.kind, c.kind) << c.err << ": " << e.detail;
    EXPECT_EQ(e.os_errno, c.err);
    EXPECT_FALSE(e.detail.empty());
  }
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
  EXPECT_TRUE(o.connected) << o.error.detail;
  EXPECT_FALSE(o.error);
  bool fired = false;
  c->connect([&](UniqueFd, const LinkError&) { fired = true; });
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
  EXPECT_EQ(o.error.kind, LinkErrorKind::kAdapter)
      << o.error.detail;  // no kernel support or no hci7
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
  LinkError error;
  const auto started = std::chrono::steady_clock::now();
  connect.start(
      UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)), &sin, sizeof sin,
      300ms, [](int err) { return link_error(LinkErrorKind::kUnreachable, "", err); },
      [&](UniqueFd fd, const LinkError& e) {
        done = true;
        error = e;
        EXPECT_FALSE(fd);
      });
  ASSERT_TRUE(loop.run_until([&] { return done; }, 3s));
  EXPECT_EQ(error.kind, LinkErrorKind::kUnreachable);
  EXPECT_EQ(error.os_errno, ETIMEDOUT);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 290ms);
  EXPECT_EQ(loop.watched_fds(), 0u);
}

}  // namespace
}  // namespace bm6
