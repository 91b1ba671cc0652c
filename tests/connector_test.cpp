#include "transport/connector.h"

#include <gtest/gtest.h>

#include "tools/sim/bm6_peripheral.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;

TEST(Address, Validation) {
  EXPECT_EQ(validate_address("unix:/run/bm6-sim/van.sock"), "");
  EXPECT_EQ(validate_address("AA:BB:CC:DD:EE:FF"), "");
  EXPECT_EQ(validate_address("a4:c1:38:0b:5e:01"), "");
  EXPECT_NE(validate_address("unix:"), "");
  EXPECT_NE(validate_address("unix:/" + std::string(120, 'x')), "");
  EXPECT_NE(validate_address("AA:BB:CC:DD:EE"), "");
  EXPECT_NE(validate_address("AA-BB-CC-DD-EE-FF"), "");
  EXPECT_NE(validate_address("AA:BB:CC:DD:EE:FG"), "");
  EXPECT_NE(validate_address(""), "");
  EXPECT_NE(validate_address("van").find("neither a Bluetooth address"), std::string::npos);
}

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
  auto c = make_connector(loop, "unix:/nonexistent/bm6.sock", err);
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
  auto c = make_connector(loop, "unix:" + path, err);
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

TEST(Connector, BluetoothAddressIsRefusedAtConnectTimeWithAReason) {
  EventLoop loop;
  std::string err;
  auto c = make_connector(loop, "AA:BB:CC:DD:EE:FF", err);
  ASSERT_TRUE(c) << err;
  const auto o = attempt(loop, *c);
  EXPECT_FALSE(o.connected);
  EXPECT_NE(o.error.find("unix:"), std::string::npos) << o.error;
  EXPECT_FALSE(make_connector(loop, "bogus", err));
  EXPECT_NE(err, "");
}

}  // namespace
}  // namespace bm6
