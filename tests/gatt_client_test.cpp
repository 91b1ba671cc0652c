// The GATT client and the BM6 link against the simulator over real sockets, and against
// scripted peers that break the protocol.
#include "transport/gatt_client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "device/bm6_link.h"
#include "tests/scripted_bm6.h"
#include "tests/seqpacket_peer.h"
#include "tools/sim/bm6_peripheral.h"
#include "transport/connector.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;

std::string temp_dir() {
  char tmpl[] = "/tmp/bm6-test-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (!dir) throw std::runtime_error("mkdtemp failed");
  return dir;
}

UniqueFd connect_unix(EventLoop& loop, const std::string& path, std::string* error = nullptr) {
  std::string err;
  auto connector =
      make_connector(loop, {.address = DeviceAddress::unix_socket(path)}, nullptr, err);
  EXPECT_TRUE(connector) << err;
  UniqueFd result;
  bool done = false;
  connector->connect([&](UniqueFd fd, const LinkError& e) {
    result = std::move(fd);
    err = e.detail;
    done = true;
  });
  loop.run_until([&] { return done; }, 2s);
  if (error) *error = err;
  return result;
}

struct LinkProbe {
  std::vector<Reading> readings;
  bool streaming = false;
  bool closed = false;
  DeviceFailure why;
  std::string reason;  // why.detail, for failure messages
  Bm6Link::Handlers handlers() {
    return {
        [this] { streaming = true; },
        [this](const Reading& r, std::chrono::system_clock::time_point) { readings.push_back(r); },
        [this](const DeviceFailure& f) {
          closed = true;
          why = f;
          reason = f.detail;
        }};
  }
};

class SimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override { dir = temp_dir(); }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string dir;
  EventLoop loop;
  Bm6Codec codec;
};

TEST_F(SimulatorTest, LinkReadsDecodedReadingsFromSimulator) {
  sim::SimDevice device;
  device.reading = {1287, -7, 64, State::kCharging};
  device.period = 50ms;
  sim::Bm6SimServer server(loop, dir + "/van.sock", device);
  auto fd = connect_unix(loop, server.path());
  ASSERT_TRUE(fd);
  LinkProbe probe;
  Bm6Link link(loop, std::move(fd), {}, probe.handlers());
  ASSERT_TRUE(loop.run_until([&] { return probe.readings.size() >= 3; }, 5s)) << probe.reason;
  EXPECT_TRUE(probe.streaming);
  EXPECT_EQ(link.phase(), Bm6Link::Phase::kStreaming);
  for (const auto& r : probe.readings) EXPECT_EQ(r, device.reading);
  // The acknowledgement that precedes the stream is dropped and counted, never delivered.
  EXPECT_EQ(link.stats().rejected[static_cast<int>(FrameRejection::kAcknowledgement)], 1u);
  EXPECT_EQ(link.stats().commands_sent, 1u);
  EXPECT_EQ(link.bearer().mtu(), 23);
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_FALSE(probe.closed);
}

TEST_F(SimulatorTest, NegotiatesLargerMtuWhenTheServerOffersIt) {
  sim::SimDevice device;
  device.mtu = 247;
  device.period = 50ms;
  sim::Bm6SimServer server(loop, dir + "/mtu.sock", device);
  LinkProbe probe;
  Bm6Link link(loop, connect_unix(loop, server.path()), {}, probe.handlers());
  ASSERT_TRUE(loop.run_until([&] { return !probe.readings.empty(); }, 5s)) << probe.reason;
  EXPECT_EQ(link.bearer().mtu(), 247);
}

TEST_F(SimulatorTest, SecondCentralIsTurnedAway) {
  sim::SimDevice device;
  sim::Bm6SimServer server(loop, dir + "/one.sock", device);
  LinkProbe first, second;
  Bm6Link a(loop, connect_unix(loop, server.path()), {}, first.handlers());
  ASSERT_TRUE(loop.run_until([&] { return first.streaming; }, 5s));
  Bm6Link b(loop, connect_unix(loop, server.path()), {}, second.handlers());
  ASSERT_TRUE(loop.run_until([&] { return second.closed; }, 5s));
  EXPECT_EQ(server.turned_away(), 1u);
  EXPECT_FALSE(first.closed);
}

TEST_F(SimulatorTest, ServiceChangedTriggersRediscoveryAndStreamResumes) {
  sim::SimDevice device;
  device.period = 30ms;
  sim::Bm6SimServer server(loop, dir + "/sc.sock", device);
  LinkProbe probe;
  Bm6Link link(loop, connect_unix(loop, server.path()), {}, probe.handlers());
  ASSERT_TRUE(loop.run_until([&] { return !probe.readings.empty(); }, 5s));
  ASSERT_NE(server.peripheral(), nullptr);
  server.peripheral()->indicate_service_changed();
  ASSERT_TRUE(loop.run_until([&] { return link.stats().rediscoveries == 1; }, 2s));
  const auto before = probe.readings.size();
  ASSERT_TRUE(loop.run_until([&] { return probe.readings.size() > before + 2; }, 5s));
  EXPECT_EQ(link.stats().commands_sent, 2u);
  EXPECT_FALSE(probe.closed);
}

// Every ATT request a first connection makes, up to and including the command: see the
// table in device/bm6_link.cpp. Was 11 when every primary service and the GATT service's
// characteristics were discovered.
TEST_F(SimulatorTest, FirstConnectionCostsSevenRequests) {
  sim::SimDevice device;  // MTU 23, as a BM6
  device.period = 50ms;
  sim::Bm6SimServer server(loop, dir + "/count.sock", device);
  LinkProbe probe;
  Bm6Link link(loop, connect_unix(loop, server.path()), {}, probe.handlers());
  ASSERT_TRUE(loop.run_until([&] { return !probe.readings.empty(); }, 5s)) << probe.reason;
  ASSERT_NE(server.peripheral(), nullptr);
  EXPECT_EQ(server.peripheral()->stats().setup_requests, 7u);
  EXPECT_EQ(server.peripheral()->stats().requests, 7u);  // and none since
  EXPECT_EQ(link.bearer().stats().pdus_out, 7u);
}

TEST_F(SimulatorTest, RediscoveryAfterServiceChangedCostsSixRequests) {
  sim::SimDevice device;
  device.period = 30ms;
  sim::Bm6SimServer server(loop, dir + "/sc-count.sock", device);
  LinkProbe probe;
  Bm6Link link(loop, connect_unix(loop, server.path()), {}, probe.handlers());
  ASSERT_TRUE(loop.run_until([&] { return !probe.readings.empty(); }, 5s));
  server.peripheral()->indicate_service_changed();
  ASSERT_TRUE(loop.run_until([&] { return server.peripheral()->stats().commands == 2; }, 2s));
  EXPECT_EQ(link.stats().rediscoveries, 1u);
  // FFF0 by UUID, its characteristics (two pages), FFF4's descriptors, CCCD, command.
  EXPECT_EQ(server.peripheral()->stats().requests, 7u + 6u);
}

TEST_F(SimulatorTest, StalledStreamGetsTheCommandAgain) {
  sim::SimDevice device;
  device.period = 10s;  // after the ack and first frame, nothing for a long time
  sim::Bm6SimServer server(loop, dir + "/stall.sock", device);
  LinkProbe probe;
  Bm6Link::Options options;
  options.stream_timeout = 200ms;
  Bm6Link link(loop, connect_unix(loop, server.path()), options, probe.handlers());
  ASSERT_TRUE(loop.run_until([&] { return link.stats().commands_sent >= 3; }, 5s));
  EXPECT_FALSE(probe.closed);
}

TEST_F(SimulatorTest, SilentDeviceIsAskedThreeTimesThenDropped) {
  sim::SimDevice device;
  device.streams = false;
  sim::Bm6SimServer server(loop, dir + "/silent.sock", device);
  LinkProbe probe;
  Bm6Link::Options options;
  options.stream_timeout = 100ms;
  options.family = Family::kBm6;  // configured: no detection, one request per timeout
  Bm6Link link(loop, connect_unix(loop, server.path()), options, probe.handlers());
  ASSERT_TRUE(loop.run_until([&] { return probe.closed; }, 5s));
  EXPECT_TRUE(probe.streaming);
  EXPECT_TRUE(probe.readings.empty());
  EXPECT_EQ(link.stats().commands_sent, 3u);
  EXPECT_EQ(probe.why.kind, FailureKind::kSilent) << probe.reason;
  EXPECT_NE(probe.reason.find("no reading for 3 x 100 ms"), std::string::npos) << probe.reason;
}

// Runs one discovery procedure to its end and returns what it found.
template <typename T, typename Start>
std::vector<T> discovered(EventLoop& loop, Start start) {
  std::vector<T> result;
  bool done = false;
  start([&](const LinkError& err, std::vector<T> found) {
    EXPECT_FALSE(err) << err.detail;
    result = std::move(found);
    done = true;
  });
  EXPECT_TRUE(loop.run_until([&] { return done; }, 2s));
  return result;
}

TEST_F(SimulatorTest, GattDiscoveryPaginatesAndFindsEveryUuid) {
  sim::SimDevice device;  // MTU 23: at most three 16-bit services per response
  sim::Bm6SimServer server(loop, dir + "/gatt.sock", device);
  AttBearer bearer(loop, connect_unix(loop, server.path()));
  GattClient gatt(bearer);
  const auto services = discovered<GattService>(
      loop, [&](auto done) { gatt.discover_primary_services(std::move(done)); });
  ASSERT_EQ(services.size(), 4u);
  EXPECT_EQ(services[0].uuid, att::Uuid(0x1800));
  EXPECT_EQ(services[1].uuid, att::kGattService);
  EXPECT_EQ(services[2].uuid, *att::Uuid::parse("f000ffc0-0451-4000-b000-000000000000"));
  EXPECT_EQ(services[3].uuid, kBm6Service);
  EXPECT_EQ(services[3].range.end, 0xffff);
  for (std::size_t i = 1; i < services.size(); ++i)
    EXPECT_EQ(services[i].range.start, services[i - 1].range.end + 1);

  const auto chars = discovered<GattCharacteristic>(
      loop, [&](auto done) { gatt.discover_characteristics(services[3], std::move(done)); });
  ASSERT_EQ(chars.size(), 5u);
  const auto db = sim::make_bm6_database();
  EXPECT_EQ(chars[2].uuid, kBm6Command);
  EXPECT_EQ(chars[2].value_handle, db.command);
  EXPECT_EQ(chars[3].uuid, kBm6Data);
  EXPECT_EQ(chars[3].value_handle, db.data);
  EXPECT_EQ(chars[3].end_handle, chars[4].decl_handle - 1);

  const auto descriptors = discovered<GattDescriptor>(
      loop, [&](auto done) { gatt.discover_descriptors(chars[3], std::move(done)); });
  ASSERT_EQ(descriptors.size(), 2u);
  EXPECT_EQ(descriptors[0].uuid, att::kCharacteristicUserDescription);
  EXPECT_EQ(descriptors[1].uuid, att::kClientCharacteristicConfig);
  EXPECT_EQ(descriptors[1].handle, db.data_cccd);
}

TEST_F(SimulatorTest, PrimaryServiceByUuidFindsEveryInstanceOrTheFirst) {
  sim::SimDevice device;
  sim::Bm6SimServer server(loop, dir + "/by-uuid.sock", device);
  AttBearer bearer(loop, connect_unix(loop, server.path()));
  GattClient gatt(bearer);
  const auto db = sim::make_bm6_database();
  const auto all = discovered<GattService>(loop, [&](auto done) {
    gatt.discover_primary_service_by_uuid(kBm6Service, std::move(done));
  });
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].uuid, kBm6Service);
  EXPECT_EQ(all[0].range.end, 0xffff);  // the last service: no second request
  const auto gatt_service = discovered<GattService>(loop, [&](auto done) {
    gatt.discover_primary_service_by_uuid(att::kGattService, std::move(done), true);
  });
  ASSERT_EQ(gatt_service.size(), 1u);
  EXPECT_EQ(gatt_service[0].range.start + 2, db.service_changed);
  const auto none = discovered<GattService>(loop, [&](auto done) {
    gatt.discover_primary_service_by_uuid(att::Uuid(0x180f), std::move(done));
  });
  EXPECT_TRUE(none.empty());
  // One request each: FFF0 ends at 0xffff, 1801 is asked for its first instance only, and
  // 180F is not there.
  EXPECT_EQ(server.peripheral()->stats().requests, 3u);
}

TEST_F(SimulatorTest, SimulatorBinaryServesSeveralDevices) {
  const std::string a = dir + "/a.sock", b = dir + "/b.sock";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(BM6_SIM_PATH, "bm6-sim", "--period", "0.05", "--voltage", "12.61", "--soc", "71",
            "--socket", a.c_str(), "--voltage", "13.05", "--temperature", "-3", "--state",
            "charging", "--socket", b.c_str(), nullptr);
    ::_exit(127);
  }
  // The sockets appear once they accept (bm6-sim renames them into place); up to 10 s on a
  // loaded machine.
  for (int i = 0; i < 1000 && !(std::filesystem::exists(a) && std::filesystem::exists(b)); ++i)
    ::usleep(10000);
  LinkProbe pa, pb;
  Bm6Link la(loop, connect_unix(loop, a), {}, pa.handlers());
  Bm6Link lb(loop, connect_unix(loop, b), {}, pb.handlers());
  const bool got = loop.run_until([&] { return !pa.readings.empty() && !pb.readings.empty(); }, 5s);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(got) << pa.reason << " / " << pb.reason;
  EXPECT_EQ(pa.readings[0], (Reading{1261, 23, 71, State::kNormal}));
  EXPECT_EQ(pb.readings[0], (Reading{1305, -3, 71, State::kCharging}));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(std::filesystem::exists(a)) << "bm6-sim left its socket behind";
}

TEST(SimDevice, CycleSwingsTheValuesAroundTheConfiguredOnes) {
  sim::SimDevice d;
  d.reading = {1300, 20, 50, State::kNormal};
  EXPECT_EQ(sim::reading_at(d, 123s), d.reading);  // no cycle: constant
  d.cycle = 100s;
  const auto quarter = sim::reading_at(d, 25s), three_quarters = sim::reading_at(d, 75s);
  EXPECT_EQ(quarter.centivolts, 1340);
  EXPECT_EQ(quarter.soc_percent, 65);
  EXPECT_EQ(three_quarters.centivolts, 1260);
  EXPECT_EQ(three_quarters.soc_percent, 35);
  EXPECT_EQ(sim::reading_at(d, 10s).state, State::kCharging);  // rising
  EXPECT_EQ(sim::reading_at(d, 60s).state, State::kNormal);    // falling
  EXPECT_EQ(quarter.temperature_c, 20);
}

// --- scripted peers that misbehave ---

using test::cat;
using test::minimal_bm6;
using test::u16;

class ScriptedLinkTest : public ::testing::Test {
 protected:
  // Runs a link against a peer that answers MTU and then uses `respond` for the rest.
  void run(test::ScriptedPeer::Responder respond, std::function<bool()> done = nullptr) {
    auto pair = test::seqpacket_pair();
    peer = std::make_unique<test::ScriptedPeer>(loop, std::move(pair.theirs),
                                                [respond](const Bytes& pdu) -> std::vector<Bytes> {
                                                  if (pdu[0] == att::kExchangeMtuReq)
                                                    return {{att::kExchangeMtuRsp, 23, 0}};
                                                  return respond(pdu);
                                                });
    link =
        std::make_unique<Bm6Link>(loop, std::move(pair.ours), Bm6Link::Options{}, probe.handlers());
    if (!done) done = [&] { return probe.closed; };
    loop.run_until([&] { return probe.closed || done(); }, 2s);
    loop.run_until([] { return false; }, 20ms);  // anything that follows
  }
  EventLoop loop;
  Bm6Codec codec;
  LinkProbe probe;
  std::unique_ptr<test::ScriptedPeer> peer;
  std::unique_ptr<Bm6Link> link;
};

TEST_F(ScriptedLinkTest, ServiceHandlesThatDoNotIncreaseCloseTheLink) {
  int calls = 0;
  run([&](const Bytes& pdu) -> std::vector<Bytes> {
    if (pdu[0] != att::kFindByTypeValueReq) return {};
    ++calls;
    // FFF0 at 9..12, then again at 5..8 in the same answer: handles going backwards.
    return {cat({{att::kFindByTypeValueRsp}, u16(9), u16(12), u16(5), u16(8)})};
  });
  ASSERT_TRUE(probe.closed);
  EXPECT_EQ(probe.why.cause.kind, LinkErrorKind::kProtocol) << probe.reason;
  EXPECT_NE(probe.reason.find("do not increase"), std::string::npos) << probe.reason;
  EXPECT_EQ(calls, 1);
}

TEST_F(ScriptedLinkTest, ServiceThatEndsBeforeItStartsClosesTheLink) {
  run([&](const Bytes& pdu) -> std::vector<Bytes> {
    if (pdu[0] == att::kFindByTypeValueReq)
      return {cat({{att::kFindByTypeValueRsp}, u16(9), u16(4)})};
    return {};
  });
  ASSERT_TRUE(probe.closed);
  EXPECT_EQ(probe.why.cause.kind, LinkErrorKind::kProtocol) << probe.reason;
  EXPECT_NE(probe.reason.find("do not increase"), std::string::npos) << probe.reason;
}

TEST_F(ScriptedLinkTest, MalformedFindByTypeValueResponseClosesTheLink) {
  run([&](const Bytes& pdu) -> std::vector<Bytes> {
    if (pdu[0] == att::kFindByTypeValueReq) return {cat({{att::kFindByTypeValueRsp}, u16(9)})};
    return {};
  });
  ASSERT_TRUE(probe.closed);
  EXPECT_EQ(probe.why.cause.kind, LinkErrorKind::kProtocol) << probe.reason;
  EXPECT_NE(probe.reason.find("malformed Find By Type Value"), std::string::npos) << probe.reason;
}

TEST_F(ScriptedLinkTest, CharacteristicOutsideItsServiceClosesTheLink) {
  run([&](const Bytes& pdu) -> std::vector<Bytes> {
    if (pdu[0] == att::kFindByTypeValueReq)
      return {cat({{att::kFindByTypeValueRsp}, u16(0x10), u16(0xffff)})};
    if (pdu[0] == att::kReadByTypeReq)  // declaration at 0x08, before the service's start
      return {
          cat({{att::kReadByTypeRsp, 7}, u16(0x08), {att::kPropWrite}, u16(0x09), u16(0xfff3)})};
    return {};
  });
  ASSERT_TRUE(probe.closed);
  EXPECT_EQ(probe.why.cause.kind, LinkErrorKind::kProtocol) << probe.reason;
  EXPECT_NE(probe.reason.find("outside its service"), std::string::npos) << probe.reason;
}

TEST_F(ScriptedLinkTest, DescriptorsThatRepeatCloseTheLink) {
  run([&](const Bytes& pdu) -> std::vector<Bytes> {
    if (pdu[0] == att::kFindInformationReq)  // the same page, whatever was asked: never ends
      return {cat({{att::kFindInformationRsp, 1}, u16(6), u16(0x2901)})};
    return minimal_bm6(pdu, att::kPropWrite);
  });
  ASSERT_TRUE(probe.closed);
  EXPECT_EQ(probe.why.cause.kind, LinkErrorKind::kProtocol) << probe.reason;
  EXPECT_NE(probe.reason.find("descriptor handle 6 is out of order"), std::string::npos)
      << probe.reason;
}

TEST_F(ScriptedLinkTest, DeviceWithoutBm6ServiceIsNamed) {
  run([&](const Bytes& pdu) -> std::vector<Bytes> {
    // Only a battery service (180F): FFF0 is not found.
    if (pdu[0] == att::kFindByTypeValueReq) {
      EXPECT_EQ(pdu, (Bytes{att::kFindByTypeValueReq, 1, 0, 0xff, 0xff, 0x00, 0x28, 0xf0, 0xff}));
      return {cat({{att::kErrorRsp, att::kFindByTypeValueReq}, u16(1), {att::kAttributeNotFound}})};
    }
    return {};
  });
  ASSERT_TRUE(probe.closed);
  EXPECT_EQ(probe.why.kind, FailureKind::kProtocol) << probe.reason;
  EXPECT_EQ(probe.why.cause.kind, LinkErrorKind::kNone) << "the link's own failure";
  EXPECT_NE(probe.reason.find("no BM6 service"), std::string::npos) << probe.reason;
}

TEST_F(ScriptedLinkTest, WriteWithoutResponseOnlyCommandUsesWriteCommand) {
  Bm6Codec codec_for_peer;
  run(
      [&](const Bytes& pdu) -> std::vector<Bytes> {
        auto out = minimal_bm6(pdu, att::kPropWriteWithoutResponse);
        if (pdu[0] == att::kWriteCmd) {
          // Answer the command with a frame on another handle, then a real one.
          const Block frame =
              codec_for_peer.encrypt(encode_live_frame({1222, 5, 50, Bm6State::kLow}));
          out.push_back(cat({{att::kHandleValueNotification}, u16(9), {1, 2, 3}}));
          out.push_back(
              cat({{att::kHandleValueNotification}, u16(5), Bytes(frame.begin(), frame.end())}));
        }
        return out;
      },
      [&] { return !probe.readings.empty(); });
  EXPECT_FALSE(probe.closed) << probe.reason;
  ASSERT_EQ(probe.readings.size(), 1u);
  EXPECT_EQ(probe.readings[0], (Reading{1222, 5, 50, State::kLow}));
  EXPECT_EQ(link->stats().other_notifications, 1u);
  const Block command = codec.encrypt(live_data_request());
  EXPECT_EQ(peer->received().back(),
            cat({{att::kWriteCmd}, u16(3), Bytes(command.begin(), command.end())}));
}

// The CCCD write is refused.
TEST_F(ScriptedLinkTest, RefusedCccdWriteIsReportedWithTheAttError) {
  run([&](const Bytes& pdu) -> std::vector<Bytes> {
    if (pdu[0] == att::kWriteReq)
      return {cat({{att::kErrorRsp, att::kWriteReq}, u16(7), {att::kWriteNotPermitted}})};
    return minimal_bm6(pdu, att::kPropWrite);
  });
  ASSERT_TRUE(probe.closed);
  EXPECT_EQ(probe.why.kind, FailureKind::kProtocol) << probe.reason;
  EXPECT_EQ(probe.why.cause.kind, LinkErrorKind::kAttError);
  EXPECT_EQ(probe.why.cause.att_error, att::kWriteNotPermitted);
  EXPECT_NE(probe.reason.find("enabling notifications"), std::string::npos) << probe.reason;
  EXPECT_NE(probe.reason.find("Write Not Permitted"), std::string::npos) << probe.reason;
  // The CCCD came after a user description: the write went to handle 7, not 6.
  EXPECT_EQ(peer->received().back(), (Bytes{att::kWriteReq, 7, 0, 1, 0}));
}

TEST_F(ScriptedLinkTest, IndicationsThatAreNotAServiceChangeAreIgnored) {
  // Set up and the command written (the family is still being detected: no frame comes).
  auto command_written = [&] {
    for (const auto& pdu : peer->received())
      if (pdu[0] == att::kWriteReq && att::get_le16(&pdu[1]) == 3) return true;
    return false;
  };
  run([&](const Bytes& pdu) { return minimal_bm6(pdu, att::kPropWrite); },
      [&] { return peer && command_written(); });
  ASSERT_TRUE(command_written()) << probe.reason;
  peer->send(cat({{att::kHandleValueIndication}, u16(9), {1}}));              // not a range
  peer->send(cat({{att::kHandleValueIndication}, u16(9), u16(8), u16(2)}));   // backwards
  peer->send(cat({{att::kHandleValueIndication}, u16(9), u16(0), u16(20)}));  // from 0
  loop.run_until([] { return false; }, 100ms);
  EXPECT_EQ(link->stats().rediscoveries, 0u);
  EXPECT_FALSE(probe.closed) << probe.reason;
  peer->send(cat({{att::kHandleValueIndication}, u16(9), u16(1), u16(0xffff)}));
  EXPECT_TRUE(loop.run_until([&] { return link->stats().rediscoveries == 1; }, 1s));
}

}  // namespace
}  // namespace bm6
