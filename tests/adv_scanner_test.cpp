// AdvScanner against a fake kernel (mgmt events over a SOCK_SEQPACKET pair): the commands
// it sends, when it registers again, what it delivers and what it drops.
#include "transport/adv_scanner.h"

#include <gtest/gtest.h>

#include <chrono>

#include "mgmt_fake.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::Command;
using test::FakeMgmt;
namespace mgmt = test::mgmt;

constexpr int kIndex = 1;
const BdAddr kDev = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c};
const BdAddr kOther = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
const Bytes kAd = {0x02, 0x01, 0x06, 0x05, 0xff, 0x6a, 0x28, 0x1d, 0x95};

struct Said {
  std::vector<std::pair<AdvScanner::Status, std::string>> lines;
  AdvScanner::StatusHandler handler() {
    return [this](AdvScanner::Status s, const std::string& d) { lines.emplace_back(s, d); };
  }
  int count(AdvScanner::Status s) const {
    int n = 0;
    for (const auto& l : lines) n += l.first == s;
    return n;
  }
};

std::vector<std::uint16_t> opcodes(const std::vector<Command>& cs) {
  std::vector<std::uint16_t> out;
  for (const auto& c : cs) out.push_back(c.opcode);
  return out;
}

void spin(EventLoop& loop) {
  for (int i = 0; i < 5; ++i) loop.run_once(10ms);
}

struct Fixture {
  EventLoop loop;
  FakeMgmt kernel;
  Said said;
  AdvScanner scanner{loop, kIndex, said.handler(), kernel.opener()};
  std::vector<AdvReport> reports;
  std::vector<Bytes> data;

  AdvScanner::SubscriptionId subscribe(const BdAddr& a) {
    return scanner.subscribe(a, false, [this](const AdvReport& r) {
      reports.push_back(r);
      data.emplace_back(r.data.begin(), r.data.end());
    });
  }
  // Start, answer Read Info (powered) and the monitor commands; returns what was sent.
  std::vector<Command> bring_up() {
    scanner.start();
    spin(loop);
    auto sent = kernel.commands();
    kernel.info(kIndex, true);
    spin(loop);
    auto more = kernel.commands();
    sent.insert(sent.end(), more.begin(), more.end());
    kernel.complete(kIndex, mgmt::kReadMonitorFeatures, 0, Bytes(11, 0));
    spin(loop);
    more = kernel.commands();
    sent.insert(sent.end(), more.begin(), more.end());
    kernel.complete(kIndex, mgmt::kAddPatternsMonitor, 0, {0x07, 0x00});
    spin(loop);
    return sent;
  }
};

TEST(AdvScanner, RegistersEachAddressForBackgroundScanAndOneMonitor) {
  Fixture f;
  f.subscribe(kDev);
  const auto sent = f.bring_up();
  ASSERT_EQ(opcodes(sent),
            (std::vector<std::uint16_t>{mgmt::kReadInfo, mgmt::kAddDevice,
                                        mgmt::kReadMonitorFeatures, mgmt::kAddPatternsMonitor}));
  for (const auto& c : sent) EXPECT_EQ(c.index, kIndex);
  // Add Device: the address least significant byte first, LE public, action 0 (report).
  EXPECT_EQ(sent[1].params, (Bytes{0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x01, 0x00}));
  // One pattern, valid for the kernel (offset + length within 31 bytes).
  ASSERT_EQ(sent[3].params.size(), 35u);
  EXPECT_EQ(sent[3].params[0], 1);
  EXPECT_LE(sent[3].params[2] + sent[3].params[3], 31);
  EXPECT_TRUE(f.scanner.monitor_registered());
  EXPECT_TRUE(f.scanner.adapter_up());
  EXPECT_EQ(f.said.count(AdvScanner::Status::kScanning), 1);
  EXPECT_EQ(f.said.count(AdvScanner::Status::kError), 0);
  // Never discovery: it would stop bluetoothd's (Start Discovery is 0x0023).
  for (const auto& c : sent) EXPECT_NE(c.opcode, 0x0023);
}

TEST(AdvScanner, ASubscriptionWhileUpIsRegisteredAtOnce) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  f.subscribe(kOther);
  const auto sent = f.kernel.commands();
  ASSERT_EQ(opcodes(sent), (std::vector<std::uint16_t>{mgmt::kAddDevice}));
  EXPECT_EQ(sent[0].params[0], 0x66);
}

TEST(AdvScanner, DeliversReportsOfSubscribedAddressesOnly) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  f.kernel.device_found(kIndex, kDev, -71, kAd);
  f.kernel.device_found(kIndex, kOther, -50, kAd);     // nobody asked for it
  f.kernel.device_found(kIndex + 1, kDev, -50, kAd);   // another adapter's
  Bytes monitor = {0x07, 0x00};                        // Adv Monitor Device Found: handle first
  const auto found = FakeMgmt::found(kDev, 127, kAd);  // 127: no RSSI
  monitor.insert(monitor.end(), found.begin(), found.end());
  f.kernel.event(mgmt::kEvMonitorDeviceFound, kIndex, monitor);
  spin(f.loop);
  ASSERT_EQ(f.reports.size(), 2u);
  EXPECT_EQ(f.reports[0].address, kDev);
  EXPECT_EQ(f.reports[0].rssi_dbm, -71);
  EXPECT_FALSE(f.reports[0].random_address);
  EXPECT_EQ(f.data[0], kAd);
  EXPECT_FALSE(f.reports[1].rssi_dbm.has_value());
  EXPECT_EQ(f.data[1], kAd);
  const auto age = std::chrono::system_clock::now() - f.reports[0].received;
  EXPECT_LT(age, 5s);
  EXPECT_EQ(f.scanner.stats().delivered, 2u);
}

TEST(AdvScanner, TellsEveryAddressHeardOnItsAdapter) {
  // For the stuck-adapter watch: connected devices are heard without being subscribed.
  Fixture f;
  std::vector<BdAddr> heard;
  f.scanner.set_heard_handler([&](const BdAddr& a) { heard.push_back(a); });
  f.subscribe(kDev);
  f.bring_up();
  f.kernel.device_found(kIndex, kOther, -50, kAd);
  f.kernel.device_found(kIndex + 1, kOther, -50, kAd);  // another adapter's
  f.kernel.device_found(kIndex, kDev, -71, kAd);
  f.kernel.event(mgmt::kEvDeviceFound, kIndex, {1, 2, 3});  // malformed: nobody heard
  spin(f.loop);
  EXPECT_EQ(heard, (std::vector<BdAddr>{kOther, kDev}));
  EXPECT_EQ(f.reports.size(), 1u);  // delivered to subscribers as before
}

TEST(AdvScanner, GarbageEventsAreDroppedAndCounted) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  const auto malformed_before = f.scanner.stats().malformed;
  f.kernel.raw({0x12, 0x00, 0x01});                          // shorter than a header
  f.kernel.raw({0x12, 0x00, 0x01, 0x00, 0x20, 0x00, 0x01});  // length says 32, has 1
  Bytes overrun = FakeMgmt::found(kDev, -60, kAd);
  overrun[12] = 200;  // AD length beyond the packet
  f.kernel.event(mgmt::kEvDeviceFound, kIndex, overrun);
  Bytes shortfound = FakeMgmt::found(kDev, -60, {});
  shortfound.resize(10);
  f.kernel.event(mgmt::kEvDeviceFound, kIndex, shortfound);
  f.kernel.event(mgmt::kEvMonitorDeviceFound, kIndex, {0x07});
  f.kernel.event(mgmt::kEvNewSettings, kIndex, {0x01});
  f.kernel.event(mgmt::kEvDeviceRemoved, kIndex, {0x3c, 0x2c});
  f.kernel.event(mgmt::kEvComplete, kIndex, {0x33});
  f.kernel.event(0x7777, kIndex, {1, 2, 3});  // unknown event: ignored, not malformed
  f.kernel.device_found(kIndex, kDev, -60, {0x03, 0xff, 0x01});  // AD itself garbled: delivered
  spin(f.loop);
  EXPECT_EQ(f.scanner.stats().malformed - malformed_before, 8u);
  ASSERT_EQ(f.reports.size(), 1u);  // only the last: AD bytes are the subscriber's to judge
  EXPECT_EQ(f.data[0], (Bytes{0x03, 0xff, 0x01}));
  EXPECT_TRUE(f.kernel.commands().empty());  // nothing re-registered by garbage
  EXPECT_TRUE(f.scanner.adapter_up());
}

TEST(AdvScanner, ReAddsAnEntryThatSomeoneRemoved) {
  // bluetoothd removes every entry when it starts.
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  f.kernel.event(mgmt::kEvDeviceRemoved, kIndex, {0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x01});
  f.kernel.event(mgmt::kEvDeviceRemoved, kIndex, {0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x01});
  spin(f.loop);
  const auto sent = f.kernel.commands();
  ASSERT_EQ(opcodes(sent), (std::vector<std::uint16_t>{mgmt::kAddDevice}));
  EXPECT_EQ(sent[0].params[0], 0x3c);
}

TEST(AdvScanner, RemovesAndAddsAfterALinkToTheDeviceEnds) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  f.kernel.event(mgmt::kEvDisconnected, kIndex, {0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x01, 0x02});
  spin(f.loop);
  const auto sent = f.kernel.commands();
  ASSERT_EQ(opcodes(sent), (std::vector<std::uint16_t>{mgmt::kRemoveDevice, mgmt::kAddDevice}));
  EXPECT_EQ(sent[0].params, (Bytes{0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x01}));
}

TEST(AdvScanner, ReAddsItsMonitorWhenSomeoneRemovedIt) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  f.kernel.event(mgmt::kEvMonitorRemoved, kIndex, {0x03, 0x00});  // not ours
  spin(f.loop);
  EXPECT_TRUE(f.kernel.commands().empty());
  f.kernel.event(mgmt::kEvMonitorRemoved, kIndex, {0x07, 0x00});
  spin(f.loop);
  EXPECT_FALSE(f.scanner.monitor_registered());
  EXPECT_EQ(opcodes(f.kernel.commands()), (std::vector<std::uint16_t>{mgmt::kReadMonitorFeatures}));
  f.kernel.complete(kIndex, mgmt::kReadMonitorFeatures, 0, Bytes(11, 0));
  spin(f.loop);
  EXPECT_EQ(opcodes(f.kernel.commands()), (std::vector<std::uint16_t>{mgmt::kAddPatternsMonitor}));
}

TEST(AdvScanner, AdapterRemovedAndAddedIsSaidOnceEachWayAndRegistersAgain) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  f.kernel.event(mgmt::kEvIndexRemoved, kIndex, {});
  f.kernel.event(mgmt::kEvIndexRemoved, kIndex, {});
  spin(f.loop);
  EXPECT_FALSE(f.scanner.adapter_up());
  EXPECT_EQ(f.said.count(AdvScanner::Status::kAdapterDown), 1);
  EXPECT_TRUE(f.kernel.commands().empty());
  f.kernel.event(mgmt::kEvIndexAdded, kIndex, {});
  spin(f.loop);
  EXPECT_EQ(opcodes(f.kernel.commands()), (std::vector<std::uint16_t>{mgmt::kReadInfo}));
  f.kernel.info(kIndex, true);
  spin(f.loop);
  EXPECT_EQ(opcodes(f.kernel.commands()),
            (std::vector<std::uint16_t>{mgmt::kAddDevice, mgmt::kReadMonitorFeatures}));
  EXPECT_EQ(f.said.count(AdvScanner::Status::kAdapterUp), 1);
  EXPECT_EQ(f.said.count(AdvScanner::Status::kAdapterDown), 1);
  EXPECT_EQ(f.said.count(AdvScanner::Status::kScanning), 1);
}

TEST(AdvScanner, PowerOffAndOnIsSaidOnceEachWayAndRegistersAgain) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  f.kernel.event(mgmt::kEvNewSettings, kIndex, {0x00, 0x02, 0x00, 0x00});
  f.kernel.event(mgmt::kEvNewSettings, kIndex, {0x00, 0x02, 0x00, 0x00});
  spin(f.loop);
  EXPECT_EQ(f.said.count(AdvScanner::Status::kAdapterDown), 1);
  EXPECT_TRUE(f.kernel.commands().empty());
  f.kernel.event(mgmt::kEvNewSettings, kIndex, {0x01, 0x02, 0x00, 0x00});
  f.kernel.event(mgmt::kEvNewSettings, kIndex, {0x01, 0x02, 0x00, 0x00});  // no change
  spin(f.loop);
  // The monitor survived the power cycle (its handle is kept): only the entry again.
  EXPECT_EQ(opcodes(f.kernel.commands()), (std::vector<std::uint16_t>{mgmt::kAddDevice}));
  EXPECT_EQ(f.said.count(AdvScanner::Status::kAdapterUp), 1);
  // Reports and events while down: none are lost once up again.
  f.kernel.device_found(kIndex, kDev, -60, kAd);
  spin(f.loop);
  EXPECT_EQ(f.reports.size(), 1u);
}

TEST(AdvScanner, AnAdapterThatIsNotThereIsSaidOnceAndWatched) {
  Fixture f;
  f.subscribe(kDev);
  f.scanner.start();
  spin(f.loop);
  f.kernel.commands();
  f.kernel.complete(kIndex, mgmt::kReadInfo, 0x11, {});  // invalid index
  spin(f.loop);
  ASSERT_EQ(f.said.count(AdvScanner::Status::kAdapterDown), 1);
  EXPECT_NE(f.said.lines[0].second.find("there is no adapter hci1"), std::string::npos);
  EXPECT_TRUE(f.kernel.commands().empty());
  f.kernel.event(mgmt::kEvIndexAdded, kIndex, {});
  spin(f.loop);
  f.kernel.commands();
  f.kernel.info(kIndex, true);
  spin(f.loop);
  EXPECT_EQ(opcodes(f.kernel.commands()),
            (std::vector<std::uint16_t>{mgmt::kAddDevice, mgmt::kReadMonitorFeatures}));
  EXPECT_EQ(f.said.count(AdvScanner::Status::kAdapterUp), 1);
}

TEST(AdvScanner, NoMonitorWhereTheControllerWouldFilterByItsPattern) {
  Fixture f;
  f.subscribe(kDev);
  f.scanner.start();
  spin(f.loop);
  f.kernel.info(kIndex, true);
  spin(f.loop);
  f.kernel.commands();
  Bytes features(11, 0);
  features[0] = 0x01;  // offload of OR patterns supported
  f.kernel.complete(kIndex, mgmt::kReadMonitorFeatures, 0, features);
  spin(f.loop);
  EXPECT_TRUE(f.kernel.commands().empty());
  EXPECT_FALSE(f.scanner.monitor_registered());
  EXPECT_EQ(f.said.count(AdvScanner::Status::kError), 1);
  // Entries still re-registered on power on; the monitor is not tried again.
  f.kernel.event(mgmt::kEvNewSettings, kIndex, {0x00, 0x00, 0x00, 0x00});
  f.kernel.event(mgmt::kEvNewSettings, kIndex, {0x01, 0x00, 0x00, 0x00});
  spin(f.loop);
  EXPECT_EQ(opcodes(f.kernel.commands()), (std::vector<std::uint16_t>{mgmt::kAddDevice}));
}

TEST(AdvScanner, CommandFailuresAreSaidOnceEach) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  const Bytes reply = {0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x01};
  f.kernel.complete(kIndex, mgmt::kAddDevice, 0x0d, reply);
  f.kernel.complete(kIndex, mgmt::kAddDevice, 0x0d, reply);
  spin(f.loop);
  ASSERT_EQ(f.said.count(AdvScanner::Status::kError), 1);
  EXPECT_NE(f.said.lines.back().second.find("Add Device 50:54:7B:80:2C:3C: invalid parameters"),
            std::string::npos);
}

TEST(AdvScanner, UnsubscribingAndDestructionUndoTheRegistration) {
  auto kernel = std::make_unique<FakeMgmt>();
  EventLoop loop;
  Said said;
  {
    AdvScanner scanner(loop, kIndex, said.handler(), kernel->opener());
    const auto a = scanner.subscribe(kDev, false, [](const AdvReport&) {});
    const auto b = scanner.subscribe(kDev, false, [](const AdvReport&) {});
    scanner.subscribe(kOther, true, [](const AdvReport&) {});
    scanner.start();
    spin(loop);
    kernel->info(kIndex, true);
    spin(loop);
    kernel->complete(kIndex, mgmt::kReadMonitorFeatures, 0, Bytes(11, 0));
    spin(loop);
    kernel->complete(kIndex, mgmt::kAddPatternsMonitor, 0, {0x09, 0x00});
    spin(loop);
    kernel->commands();
    scanner.unsubscribe(a);
    EXPECT_TRUE(kernel->commands().empty());  // b still listens to kDev
    scanner.unsubscribe(b);
    EXPECT_EQ(opcodes(kernel->commands()), (std::vector<std::uint16_t>{mgmt::kRemoveDevice}));
  }
  // Destroyed: the last entry (random address type) and the monitor are removed.
  const auto sent = kernel->commands();
  ASSERT_EQ(opcodes(sent), (std::vector<std::uint16_t>{mgmt::kRemoveDevice, mgmt::kRemoveMonitor}));
  EXPECT_EQ(sent[0].params, (Bytes{0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x02}));
  EXPECT_EQ(sent[1].params, (Bytes{0x09, 0x00}));
}

TEST(AdvScanner, NoTimersAndNoWakeUpsWhileNothingArrives) {
  Fixture f;
  f.subscribe(kDev);
  f.bring_up();
  EXPECT_EQ(f.loop.pending_timers(), 0u);
  const auto wakeups = f.loop.wakeups();
  const auto idle = f.loop.idle_wakeups();
  f.loop.run_once(300ms);  // nothing to do: only the wait's own timeout returns
  EXPECT_EQ(f.loop.wakeups() - wakeups, f.loop.idle_wakeups() - idle);
  EXPECT_EQ(f.scanner.stats().events, 3u);  // the three answers of bring_up(), nothing since
}

TEST(AdvScanner, ASocketThatCannotBeOpenedIsSaidOnce) {
  EventLoop loop;
  Said said;
  AdvScanner scanner(loop, 0, said.handler(), [](LinkError& error) {
    error = link_error(LinkErrorKind::kAdapter, "this kernel has no Bluetooth support");
    return UniqueFd();
  });
  scanner.subscribe(kDev, false, [](const AdvReport&) {});
  scanner.start();
  ASSERT_EQ(said.count(AdvScanner::Status::kError), 1);
  EXPECT_EQ(said.lines[0].second, "hci0: this kernel has no Bluetooth support");
  EXPECT_EQ(loop.watched_fds(), 0u);
}

}  // namespace
}  // namespace bm6
