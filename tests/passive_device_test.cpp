// PassiveDevice behind a real AdvScanner on a fake kernel: the notes' public advertisement
// decoded into the slot, wrong-address data never stored, the iBeacon only when the encrypted
// data is absent, the family found by the address check, silence said once and the return.
#include "device/passive_device.h"

#include <gtest/gtest.h>

#include "mgmt_fake.h"
#include "protocol/advertisement.h"
#include "tests/device_test_support.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::Events;
using test::FakeMgmt;
namespace mgmt = test::mgmt;

constexpr int kIndex = 0;
const BdAddr kAddr = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c};  // the notes' BM6
// Its public advertisement: company id 10346 (6a 28), then 14 bytes.
const Bytes kPublicVector = {0x6a, 0x28, 0x1d, 0x95, 0xea, 0x13, 0x2b, 0xed,
                             0x41, 0xfe, 0xf0, 0xcc, 0xf8, 0x9c, 0xa9, 0x4a};

Bytes ad_field(std::uint8_t type, const Bytes& data) {
  Bytes f = {static_cast<std::uint8_t>(data.size() + 1), type};
  f.insert(f.end(), data.begin(), data.end());
  return f;
}
Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
const Bytes kFlags = ad_field(0x01, {0x06});

Bytes encrypted(Family family, const AdvertisedReading& r, const BdAddr& inside) {
  FamilyCodec codec(family);
  const auto block = encode_advertisement(codec, r, inside);
  EXPECT_TRUE(block);
  return Bytes(block->begin(), block->end());
}

void spin(EventLoop& loop) {
  for (int i = 0; i < 5; ++i) loop.run_once(5ms);
}

struct Fixture {
  explicit Fixture(DeviceOptions o = {}) {
    o.name = "van";
    o.address = DeviceAddress::bluetooth(*parse_bdaddr("50:54:7B:80:2C:3C"));
    o.passive = true;
    if (o.read_interval == DeviceOptions{}.read_interval) o.read_interval = 1000ms;
    device = std::make_unique<PassiveDevice>(loop, o, scanner, slot, events.handler());
    device->start();
    scanner.start();
    spin(loop);
    kernel.info(kIndex, true);
    spin(loop);
  }
  void advertise(const Bytes& ad, std::int8_t rssi = -67, const BdAddr& from = kAddr) {
    kernel.device_found(kIndex, from, rssi, ad);
    spin(loop);
  }
  std::optional<TimedReading> take() { return slot->take(std::chrono::system_clock::now() - 1h); }

  EventLoop loop;
  FakeMgmt kernel;
  Events events;
  AdvScanner scanner{loop, kIndex, nullptr, kernel.opener()};
  std::shared_ptr<ReadingSlot> slot = std::make_shared<ReadingSlot>();
  std::unique_ptr<PassiveDevice> device;
};

TEST(PassiveDevice, DecodesThePublicVectorWithTheAdvertisementsTimeAndRssi) {
  Fixture f;
  const auto before = std::chrono::system_clock::now();
  f.advertise(concat({kFlags, ad_field(0xff, kPublicVector)}), -67);
  const auto r = f.take();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reading.centivolts, 1351);
  EXPECT_EQ(r->reading.soc_percent, 100);
  EXPECT_EQ(r->reading.state, State::kCharging);
  // Byte 10 (2 here) is not a confirmed temperature: none without PassiveTemperature.
  EXPECT_FALSE(r->reading.temperature_c);
  EXPECT_EQ(r->rssi_dbm, -67);
  EXPECT_TRUE(r->voltage_known);
  EXPECT_TRUE(r->state_known);
  EXPECT_GE(r->received, before);
  EXPECT_LE(r->received, std::chrono::system_clock::now());
  EXPECT_EQ(f.device->counters().readings, 1u);
  EXPECT_EQ(f.slot->frames_dropped.load(), 0u);
  EXPECT_EQ(f.device->model(), Family::kBm6);  // found by the address check (Model auto)
  EXPECT_EQ(f.events.count(DeviceEvent::kModelDetected), 1);
  EXPECT_EQ(f.events.count(DeviceEvent::kFirstReading), 1);
  EXPECT_FALSE(f.take());  // never twice
}

TEST(PassiveDevice, ByteTenIsTheTemperatureOnlyWhenTheUserOptsIn) {
  DeviceOptions o;
  o.passive_temperature = true;
  Fixture f(o);
  f.advertise(concat({kFlags, ad_field(0xff, kPublicVector)}));
  auto r = f.take();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reading.temperature_c, 2);  // byte 10 of the notes' public vector
  EXPECT_EQ(r->reading.centivolts, 1351);
  // 0x80 and up is no reading even then (a negative coding is not known).
  AdvertisedReading high{1300, 50, State::kNormal, std::uint8_t{0x80}};
  f.advertise(ad_field(0xff, encrypted(Family::kBm6, high, kAddr)));
  r = f.take();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reading.centivolts, 1300);
  EXPECT_FALSE(r->reading.temperature_c);
}

TEST(PassiveDevice, AWrongAddressAdvertisementIsNeverStored) {
  // Data encrypted for another BM6 (or another key), sent from this device's address.
  Fixture f;
  const BdAddr other = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3d};
  AdvertisedReading fake{1200, 50, State::kNormal, 20};
  f.advertise(concat({kFlags, ad_field(0xff, encrypted(Family::kBm6, fake, other))}));
  f.advertise(concat({kFlags, ad_field(0xff, encrypted(Family::kBm2, fake, other))}));
  // Random bytes of the right length: another vendor's data.
  f.advertise(ad_field(0xff, Bytes(16, 0xa5)));
  EXPECT_FALSE(f.take());
  EXPECT_EQ(f.slot->frames_dropped.load(), 3u);
  EXPECT_EQ(f.device->counters().dropped, 3u);
  EXPECT_EQ(f.device->counters().readings, 0u);
  EXPECT_EQ(f.events.count(DeviceEvent::kFirstReading), 0);
  EXPECT_FALSE(f.device->model());
}

TEST(PassiveDevice, AnotherDevicesAdvertisementNeverReachesIt) {
  Fixture f;
  const BdAddr other = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
  AdvertisedReading r{1200, 50, State::kNormal, 20};
  // Valid for the other device, from the other device: the scanner does not hand it over.
  f.advertise(ad_field(0xff, encrypted(Family::kBm6, r, other)), -50, other);
  EXPECT_FALSE(f.take());
  EXPECT_EQ(f.device->counters().advertisements, 0u);
}

TEST(PassiveDevice, AdvertisementsQueuedTogetherAreTakenWithOneReceiveCallAndAllStored) {
  Fixture f;
  // Seven more monitors on the same scanner, each with its own slot.
  std::vector<BdAddr> addresses = {kAddr};
  std::vector<std::shared_ptr<ReadingSlot>> slots = {f.slot};
  std::vector<std::unique_ptr<PassiveDevice>> more;
  for (std::uint8_t i = 1; i < 8; ++i) {
    DeviceOptions o;
    o.name = "van" + std::to_string(i);
    addresses.push_back({0x50, 0x54, 0x7b, 0x80, 0x2d, i});
    o.address = DeviceAddress::bluetooth(addresses.back());
    o.passive = true;
    o.read_interval = 1000ms;
    slots.push_back(std::make_shared<ReadingSlot>());
    more.push_back(std::make_unique<PassiveDevice>(f.loop, o, f.scanner, slots.back(), nullptr));
    more.back()->start();
  }
  spin(f.loop);
  f.kernel.commands();
  const auto stats = f.scanner.stats();
  // Nine events queued before the scanner looks: eight readings and, among them, one Device
  // Found larger than a receive buffer (4096 bytes), which arrives cut.
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const AdvertisedReading r{static_cast<std::uint16_t>(1200 + i), 80, State::kNormal, 20};
    const std::int8_t rssi = static_cast<std::int8_t>(-60 - static_cast<int>(i));
    f.kernel.device_found(
        kIndex, addresses[i], rssi,
        concat({kFlags, ad_field(0xff, encrypted(Family::kBm6, r, addresses[i]))}));
    if (i == 3) f.kernel.device_found(kIndex, addresses[0], -50, Bytes(5000, 0x02));
  }
  f.loop.run_once(5ms);  // one wake-up
  EXPECT_EQ(f.scanner.stats().receives - stats.receives, 1u);
  EXPECT_EQ(f.scanner.stats().events - stats.events, 9u);
  EXPECT_EQ(f.scanner.stats().malformed - stats.malformed, 1u);  // the cut one, not parsed
  EXPECT_EQ(f.scanner.stats().delivered - stats.delivered, 8u);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const auto r = slots[i]->take(std::chrono::system_clock::now() - 1h);
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->reading.centivolts, 1200 + i);
    EXPECT_EQ(r->rssi_dbm, -60 - static_cast<int>(i));
    EXPECT_EQ(slots[i]->frames_dropped.load(), 0u);
  }
  EXPECT_EQ(f.device->counters().advertisements, 1u);  // the cut one never reached it
}

TEST(PassiveDevice, DataInAScanResponseAfterOtherFieldsIsRead) {
  Fixture f;
  const Bytes name = ad_field(0x09, {'B', 'M', '6'});
  const Bytes uuids = ad_field(0x03, {0xf0, 0xff});
  f.advertise(concat({kFlags, uuids, name, ad_field(0xff, kPublicVector)}));
  const auto r = f.take();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reading.centivolts, 1351);
  // A scan response with only the name: heard, nothing stored, nothing dropped.
  f.advertise(name);
  EXPECT_FALSE(f.take());
  EXPECT_EQ(f.slot->frames_dropped.load(), 0u);
}

TEST(PassiveDevice, TheIBeaconChargeOnlyWhenNoEncryptedReadingCame) {
  DeviceOptions o;
  o.read_interval = 200ms;
  Fixture f(o);
  const Bytes beacon = ad_field(0xff, encode_ibeacon(64));
  f.advertise(concat({kFlags, beacon}));
  auto r = f.take();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reading.soc_percent, 64);
  EXPECT_FALSE(r->voltage_known);
  EXPECT_FALSE(r->state_known);
  EXPECT_FALSE(r->reading.temperature_c);
  // An encrypted reading, then the beacon within the passive timeout: the full reading stays.
  f.advertise(ad_field(0xff, kPublicVector));
  f.advertise(concat({kFlags, beacon}));
  r = f.take();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->voltage_known);
  EXPECT_EQ(r->reading.soc_percent, 100);
  EXPECT_EQ(f.device->counters().beacon_readings, 1u);
  // Another vendor's iBeacon at this address is not a reading.
  auto other = encode_ibeacon(64);
  other[5] ^= 1;  // the UUID
  f.advertise(ad_field(0xff, other));
  EXPECT_EQ(f.slot->frames_dropped.load(), 1u);
}

TEST(PassiveDevice, ABm2IsFoundByItsKeyAndHasNoStateOrTemperature) {
  Fixture f;
  AdvertisedReading r{1271, 87, std::nullopt, std::nullopt};
  f.advertise(ad_field(0xff, encrypted(Family::kBm2, r, kAddr)));
  const auto got = f.take();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->reading.centivolts, 1271);
  EXPECT_EQ(got->reading.soc_percent, 87);
  EXPECT_FALSE(got->state_known);
  EXPECT_FALSE(got->reading.temperature_c);
  EXPECT_EQ(f.device->model(), Family::kBm2);
}

TEST(PassiveDevice, AConfiguredModelTriesOnlyItsKey) {
  DeviceOptions o;
  o.model = Family::kBm7;
  Fixture f(o);
  f.advertise(ad_field(0xff, kPublicVector));  // a BM6's
  EXPECT_FALSE(f.take());
  EXPECT_EQ(f.slot->frames_dropped.load(), 1u);
  AdvertisedReading r{1194, 23, State::kLow, 7};
  f.advertise(ad_field(0xff, encrypted(Family::kBm7, r, kAddr)));
  const auto got = f.take();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->reading.centivolts, 1194);
  EXPECT_EQ(f.events.count(DeviceEvent::kModelDetected), 0);
}

TEST(PassiveDevice, SilenceIsSaidOnceAndTheReturnOnce) {
  DeviceOptions o;
  o.passive_timeout = 600ms;  // ten times the gaps below: a stalled test process is no silence
  Fixture f(o);
  f.advertise(ad_field(0xff, kPublicVector));
  ASSERT_EQ(f.events.count(DeviceEvent::kFirstReading), 1);
  // Readings keep it from going silent.
  for (int i = 0; i < 4; ++i) {
    f.loop.run_until([] { return false; }, 60ms);
    f.advertise(ad_field(0xff, kPublicVector));
  }
  EXPECT_EQ(f.events.count(DeviceEvent::kSilent), 0);
  f.loop.run_until([&] { return f.events.count(DeviceEvent::kSilent) > 0; }, 5s);
  ASSERT_EQ(f.events.count(DeviceEvent::kSilent), 1);
  EXPECT_EQ(f.events.seen.back().failure.kind, FailureKind::kUnreachable)
      << f.events.seen.back().detail;
  EXPECT_NE(f.events.seen.back().detail.find("0.6 s"), std::string::npos)
      << f.events.seen.back().detail;
  // Silent: no timer, so nothing wakes the loop; said once however long it lasts.
  EXPECT_EQ(f.loop.pending_timers(), 0u);
  f.loop.run_until([] { return false; }, 400ms);
  EXPECT_EQ(f.events.count(DeviceEvent::kSilent), 1);
  f.advertise(ad_field(0xff, kPublicVector));
  EXPECT_EQ(f.events.count(DeviceEvent::kFirstReading), 2);
  EXPECT_FALSE(f.device->silent());
  // Heard, but only data that is not a reading: the silence says so.
  f.advertise(ad_field(0xff, Bytes(16, 0x42)));
  f.loop.run_until([&] { return f.events.count(DeviceEvent::kSilent) > 1; }, 5s);
  ASSERT_EQ(f.events.count(DeviceEvent::kSilent), 2);
  EXPECT_EQ(f.events.seen.back().failure.kind, FailureKind::kProtocol)
      << f.events.seen.back().detail;
}

TEST(PassiveDevice, NeverHeardIsSilenceToo) {
  DeviceOptions o;
  o.passive_timeout = 100ms;
  Fixture f(o);
  f.loop.run_until([&] { return f.events.count(DeviceEvent::kSilent) > 0; }, 2s);
  EXPECT_EQ(f.events.count(DeviceEvent::kSilent), 1);
  EXPECT_EQ(f.device->timeout(), 100ms);
}

TEST(PassiveDevice, TheDefaultTimeoutIsThreeReadIntervals) {
  DeviceOptions o;
  o.read_interval = 7000ms;
  Fixture f(o);
  EXPECT_EQ(f.device->timeout(), 21000ms);
}

TEST(PassiveDevice, StopUnsubscribesAndRemovesTheEntry) {
  Fixture f;
  f.kernel.commands();
  f.device->stop();
  const auto sent = f.kernel.commands();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].opcode, mgmt::kRemoveDevice);
  f.advertise(ad_field(0xff, kPublicVector));
  EXPECT_FALSE(f.take());
  EXPECT_EQ(f.loop.pending_timers(), 0u);
}

TEST(PassiveDevice, ANonBluetoothAddressIsRefused) {
  EventLoop loop;
  FakeMgmt kernel;
  AdvScanner scanner(loop, 0, nullptr, kernel.opener());
  DeviceOptions o;
  o.address = DeviceAddress::unix_socket("/tmp/x.sock");
  EXPECT_THROW(PassiveDevice(loop, o, scanner, std::make_shared<ReadingSlot>(), nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace bm6
