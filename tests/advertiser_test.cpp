// Advertising through mgmt (transport/mgmt_advertiser.h) against a scripted peer in place of
// the kernel, and what bm6-sim advertises (tools/sim/advertising.h), decoded back.
#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/advertisement.h"
#include "tests/seqpacket_peer.h"
#include "tools/sim/advertising.h"
#include "transport/advertising_data.h"
#include "transport/mgmt_advertiser.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;

std::uint16_t opcode_of(const Bytes& packet) { return mgmt::le16(packet.data()); }

std::size_t count_op(const std::vector<Bytes>& packets, std::uint16_t op) {
  return static_cast<std::size_t>(std::count_if(
      packets.begin(), packets.end(), [op](const Bytes& p) { return opcode_of(p) == op; }));
}

// The Command Status event the kernel sends for a failed command.
Bytes command_status(std::uint16_t index, std::uint16_t op, std::uint8_t status) {
  return {0x02,  0x00, static_cast<std::uint8_t>(index), static_cast<std::uint8_t>(index >> 8),
          0x03,  0x00, static_cast<std::uint8_t>(op),    static_cast<std::uint8_t>(op >> 8),
          status};
}

TEST(MgmtAdvertising, AddAdvertisingEncodesEveryField) {
  mgmt::AdvertisingInstance i{7,
                              mgmt::kAdvConnectable | mgmt::kAdvDiscoverable,
                              {0x02, 0x01, 0x06},
                              {0x04, 0x09, 'B', 'M', '6'},
                              0x0203};
  const auto p = mgmt::encode_add_advertising(0x0102, i);
  ASSERT_TRUE(p);
  const Bytes expected = {0x3e, 0x00, 0x02, 0x01, 19,   0x00,  // opcode, index, length
                          7,    0x03, 0x00, 0x00, 0x00,        // instance, flags
                          0x00, 0x00, 0x03, 0x02,              // duration, timeout
                          3,    5,                             // data lengths
                          0x02, 0x01, 0x06, 0x04, 0x09, 'B',  'M', '6'};
  EXPECT_EQ(*p, expected);
}

TEST(MgmtAdvertising, OversizedDataIsNotEncoded) {
  mgmt::AdvertisingInstance i{1, 0, Bytes(256, 0), {}};
  EXPECT_FALSE(mgmt::encode_add_advertising(0, i));
}

TEST(MgmtAdvertising, RemoveAdvertisingAndReplies) {
  EXPECT_EQ(mgmt::encode_remove_advertising(1, 2), (Bytes{0x3f, 0x00, 0x01, 0x00, 0x01, 0x00, 2}));
  const auto reply = mgmt::decode_command_reply(command_status(3, 0x003e, 0x0b));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->index, 3);
  EXPECT_EQ(reply->opcode, 0x003e);
  EXPECT_EQ(reply->status, 0x0b);
  // A Device Found event, and a truncated reply, are no replies.
  EXPECT_FALSE(mgmt::decode_command_reply(Bytes{0x12, 0x00, 0x00, 0x00, 0x03, 0x00, 1, 2, 3}));
  EXPECT_FALSE(mgmt::decode_command_reply(Bytes{0x01, 0x00, 0x00, 0x00, 0x09, 0x00, 1, 2, 3}));
}

struct Rig {
  EventLoop loop;
  test::SocketPair pair = test::seqpacket_pair();
  test::ScriptedPeer kernel{loop, std::move(pair.theirs)};
  std::vector<std::string> problems;
  std::uint8_t soc = 50;
  std::unique_ptr<MgmtAdvertiser> advertiser;

  explicit Rig(std::chrono::milliseconds refresh = 20ms) {
    advertiser = std::make_unique<MgmtAdvertiser>(
        loop, std::move(pair.ours), MgmtAdvertiser::Options{1, refresh},
        [this] {
          return std::vector<mgmt::AdvertisingInstance>{{1, 0, {0x02, 0xff, soc}, {}},
                                                        {2, 0, {0x02, 0xff, 0x00}, {}}};
        },
        [this](const std::string& p) { problems.push_back(p); });
  }
  void run_for(std::chrono::milliseconds t) {
    loop.run_until([] { return false; }, t);
  }
  const std::vector<Bytes>& sent() const { return kernel.received(); }
};

TEST(MgmtAdvertiser, AddsEveryInstanceThenReAddsThemWithFreshData) {
  Rig rig;
  rig.advertiser->start();
  // Both instances at once (a stalled test process may see a refresh after them too).
  rig.loop.run_until([&] { return rig.sent().size() >= 2; }, 2s);
  ASSERT_GE(rig.sent().size(), 2u);
  EXPECT_EQ(rig.sent()[0], *mgmt::encode_add_advertising(1, {1, 0, {0x02, 0xff, 50}, {}}));
  EXPECT_EQ(rig.sent()[1], *mgmt::encode_add_advertising(1, {2, 0, {0x02, 0xff, 0x00}, {}}));
  rig.soc = 51;
  // Two refreshes, waited for (a loaded machine fires a 20 ms timer late, never early).
  ASSERT_TRUE(
      rig.loop.run_until([&] { return count_op(rig.sent(), mgmt::kOpAddAdvertising) >= 6; }, 5s))
      << "re-added every 20 ms";
  EXPECT_EQ(count_op(rig.sent(), mgmt::kOpRemoveAdvertising), 0u);
  const auto last_first = std::find_if(rig.sent().rbegin(), rig.sent().rend(),
                                       [](const Bytes& p) { return p[6] == 1; });
  EXPECT_EQ(last_first->back(), 51) << "the data of the moment";
}

TEST(MgmtAdvertiser, StopRemovesTheInstancesAndAddsNothingMore) {
  Rig rig;
  rig.advertiser->start();
  rig.run_for(5ms);
  rig.advertiser->stop();
  rig.run_for(5ms);
  const std::size_t after_stop = rig.sent().size();
  ASSERT_GE(after_stop, 4u);
  EXPECT_EQ(rig.sent()[after_stop - 2], mgmt::encode_remove_advertising(1, 1));
  EXPECT_EQ(rig.sent()[after_stop - 1], mgmt::encode_remove_advertising(1, 2));
  rig.run_for(80ms);
  EXPECT_EQ(rig.sent().size(), after_stop) << "nothing while stopped";
  rig.advertiser->start();
  rig.run_for(5ms);
  EXPECT_EQ(opcode_of(rig.sent().back()), mgmt::kOpAddAdvertising);
}

TEST(MgmtAdvertiser, DestructionRemovesWhatWasAdded) {
  Rig rig(0ms);
  rig.advertiser->start();
  rig.run_for(5ms);
  rig.advertiser.reset();
  rig.run_for(5ms);
  EXPECT_EQ(count_op(rig.sent(), mgmt::kOpAddAdvertising), 2u) << "no refresh with refresh 0";
  EXPECT_EQ(count_op(rig.sent(), mgmt::kOpRemoveAdvertising), 2u);
}

TEST(MgmtAdvertiser, AFailureIsReportedOnceUntilAnAddSucceeds) {
  Rig rig;
  rig.kernel.set_responder(
      [](const Bytes& p) -> std::vector<Bytes> { return {command_status(1, opcode_of(p), 0x0b)}; });
  rig.advertiser->start();
  rig.run_for(70ms);
  ASSERT_EQ(rig.problems.size(), 1u);
  EXPECT_NE(rig.problems[0].find("rejected"), std::string::npos) << rig.problems[0];
  EXPECT_NE(rig.problems[0].find("hci1"), std::string::npos) << rig.problems[0];
  EXPECT_GE(rig.advertiser->stats().failures, 4u);
  // A success, then another failure: told again.
  rig.kernel.set_responder([](const Bytes& p) -> std::vector<Bytes> {
    return {{0x01, 0x00, 0x01, 0x00, 0x04, 0x00, static_cast<std::uint8_t>(opcode_of(p)), 0x00,
             0x00, p[6]}};
  });
  rig.run_for(30ms);
  rig.kernel.set_responder(
      [](const Bytes& p) -> std::vector<Bytes> { return {command_status(1, opcode_of(p), 0x0d)}; });
  rig.run_for(30ms);
  ASSERT_EQ(rig.problems.size(), 2u);
  EXPECT_NE(rig.problems[1].find("invalid parameters"), std::string::npos) << rig.problems[1];
}

TEST(MgmtAdvertiser, ASocketThatClosedIsReported) {
  Rig rig;
  rig.advertiser->start();
  rig.run_for(5ms);
  rig.kernel.hang_up();
  rig.advertiser->stop();  // writes to the closed peer at once: an error, no SIGPIPE
  rig.advertiser->start();
  rig.run_for(60ms);
  ASSERT_EQ(rig.problems.size(), 1u) << "once, though every refresh fails";
  // EPIPE, or ECONNRESET when the peer closed with a command of ours still unread (seen
  // under load: scripts/stress-tests).
  EXPECT_TRUE(rig.problems[0] == "Remove Advertising: Broken pipe" ||
              rig.problems[0] == "Remove Advertising: Connection reset by peer")
      << rig.problems[0];
  EXPECT_GE(rig.advertiser->stats().failures, 5u);
}

TEST(MgmtAdvertiser, NothingIsToldFromTheDestructor) {
  Rig rig(0ms);
  rig.advertiser->start();
  rig.run_for(5ms);
  rig.kernel.hang_up();
  rig.run_for(5ms);        // the advertiser sees the socket close
  rig.advertiser.reset();  // its removes fail: the handler may be gone by now
  EXPECT_TRUE(rig.problems.empty());
}

TEST(MgmtAdvertiser, RepliesForAnotherAdapterOrCommandAndBusyAreNotReported) {
  Rig rig;
  // Busy comes while a central's link is set up: the next refresh tries again.
  rig.kernel.set_responder([](const Bytes& p) -> std::vector<Bytes> {
    return {command_status(0, opcode_of(p), 0x0b), command_status(1, 0x0023, 0x0b),
            command_status(1, opcode_of(p), 0x0a)};
  });
  rig.advertiser->start();
  EXPECT_TRUE(rig.loop.run_until([&] { return rig.advertiser->stats().failures >= 4; }, 5s))
      << "the busy replies were read";
  EXPECT_TRUE(rig.problems.empty());
}

// --- what bm6-sim advertises ---

const BdAddr kAddress = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c};

TEST(SimAdvertising, Bm6SendsTheEncryptedReadingAndTheIBeacon) {
  FamilyCodec codec(Family::kBm6);
  const Reading r{1351, 2, 100, State::kCharging};
  const auto instances = sim::advertising_instances(codec, Family::kBm6, r, kAddress);
  ASSERT_EQ(instances.size(), 2u);
  for (const auto& i : instances) {
    EXPECT_LE(i.adv_data.size() + 3, mgmt::kMaxLegacyData) << "with the Flags the kernel adds";
    EXPECT_EQ(i.flags, mgmt::kAdvConnectable | mgmt::kAdvDiscoverable) << "the identity address";
    EXPECT_EQ(i.timeout_s, sim::kAdvertisingTimeoutS) << "gone soon after a SIGKILL";
    EXPECT_EQ(ad::parse(i.scan_rsp).name, "BM6");
  }
  EXPECT_EQ(ad::parse(instances[0].adv_data).uuids16, std::vector<std::uint16_t>{0xfff0});
  const auto fields = ad::manufacturer_data(instances[0].adv_data);
  ASSERT_EQ(fields.size(), 1u);
  const AdDecode d = decode_advertisement(codec, kAddress, fields[0]);
  ASSERT_TRUE(std::holds_alternative<AdvertisedReading>(d));
  const auto& a = std::get<AdvertisedReading>(d);
  EXPECT_EQ(a.centivolts, 1351);
  EXPECT_EQ(a.soc_percent, 100);
  EXPECT_EQ(a.state, State::kCharging);
  EXPECT_EQ(a.byte10, 2);  // the simulator's temperature, where some decoders read one
  // Another device's address is not this data's.
  EXPECT_EQ(decode_advertisement(codec, {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3d}, fields[0]),
            AdDecode(AdRejection::kAddressMismatch));
  const auto beacon = ad::manufacturer_data(instances[1].adv_data);
  ASSERT_EQ(beacon.size(), 1u);
  const BeaconDecode b = decode_ibeacon(beacon[0]);
  ASSERT_TRUE(std::holds_alternative<BeaconReading>(b));
  EXPECT_EQ(std::get<BeaconReading>(b).soc_percent, 100);
}

TEST(SimAdvertising, Bm2SendsItsLayoutUnderItsKeyAndNoBeacon) {
  FamilyCodec codec(Family::kBm2);
  const auto instances =
      sim::advertising_instances(codec, Family::kBm2, {1271, {}, 87, State::kFloating}, kAddress);
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(ad::parse(instances[0].scan_rsp).name, "BM2");
  const auto fields = ad::manufacturer_data(instances[0].adv_data);
  ASSERT_EQ(fields.size(), 1u);
  const AdDecode d = decode_advertisement(codec, kAddress, fields[0]);
  ASSERT_TRUE(std::holds_alternative<AdvertisedReading>(d));
  EXPECT_EQ(std::get<AdvertisedReading>(d).centivolts, 1271);
  EXPECT_EQ(std::get<AdvertisedReading>(d).soc_percent, 87);
  FamilyCodec bm6(Family::kBm6);
  EXPECT_EQ(decode_advertisement(bm6, kAddress, fields[0]),
            AdDecode(AdRejection::kAddressMismatch));
}

TEST(SimAdvertising, StopsWhileACentralIsConnected) {
  EventLoop loop;
  auto pair = test::seqpacket_pair();
  test::ScriptedPeer kernel(loop, std::move(pair.theirs));
  sim::SimDevice device;
  std::vector<std::string> problems;
  sim::SimAdvertiser advertiser(loop, std::move(pair.ours), {0, kAddress}, device, 20ms,
                                [&](const std::string& p) { problems.push_back(p); });
  loop.run_until([] { return false; }, 30ms);
  EXPECT_TRUE(kernel.received().empty()) << "nothing before start()";
  advertiser.start();
  // Both instances, then refreshed (waited for, not timed: a loaded machine is slow).
  ASSERT_TRUE(loop.run_until(
      [&] { return count_op(kernel.received(), mgmt::kOpAddAdvertising) >= 4; }, 5s));
  advertiser.central_connected();
  ASSERT_TRUE(loop.run_until(
      [&] { return count_op(kernel.received(), mgmt::kOpRemoveAdvertising) >= 2; }, 5s));
  loop.run_until([] { return false; }, 5ms);
  const std::size_t at_connect = kernel.received().size();
  EXPECT_EQ(count_op(kernel.received(), mgmt::kOpRemoveAdvertising), 2u);
  loop.run_until([] { return false; }, 60ms);
  EXPECT_EQ(kernel.received().size(), at_connect) << "silent while connected";
  advertiser.start();  // a late start() while connected changes nothing
  loop.run_until([] { return false; }, 30ms);
  EXPECT_EQ(kernel.received().size(), at_connect);
  advertiser.central_disconnected();
  EXPECT_TRUE(loop.run_until(
      [&] {
        return kernel.received().size() > at_connect &&
               opcode_of(kernel.received().back()) == mgmt::kOpAddAdvertising;
      },
      5s))
      << "advertising again";
  EXPECT_TRUE(problems.empty());
}

}  // namespace
}  // namespace bm6
