#include "device/bm6_device.h"
#include "transport/hci_rssi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "tests/device_test_support.h"
#include "tools/sim/bm6_peripheral.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Events;

std::unique_ptr<Bm6Device> make_device(EventLoop& loop, DeviceOptions o,
                                       std::shared_ptr<ReadingSlot> slot, Events& events) {
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  EXPECT_TRUE(connector) << err;
  return std::make_unique<Bm6Device>(loop, o, std::move(connector), slot, events.handler());
}

TEST(Bm6Device, BackoffDoublesUpToTheCapWithJitter) {
  EventLoop loop;
  Events events;
  DeviceOptions o{.name = "d",
                  .address = DeviceAddress::unix_socket("/nonexistent"),
                  .reconnect_min = 100ms,
                  .reconnect_max = 1600ms};
  auto device = make_device(loop, o, std::make_shared<ReadingSlot>(), events);
  const std::int64_t base[] = {100, 200, 400, 800, 1600, 1600, 1600};
  for (unsigned attempt = 1; attempt <= 7; ++attempt) {
    std::int64_t lo = base[attempt - 1], hi = 0;
    std::set<std::int64_t> distinct;
    for (int i = 0; i < 200; ++i) {
      const auto d = device->backoff(attempt).count();
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      distinct.insert(d);
    }
    EXPECT_GE(lo, base[attempt - 1] / 2) << attempt;
    EXPECT_LE(hi, base[attempt - 1]) << attempt;
    EXPECT_GT(distinct.size(), 5u) << "no jitter at attempt " << attempt;
  }
  EXPECT_LE(device->backoff(1000).count(), 1600);
}

TEST(Bm6Device, ReadingSlotHandsEachReadingOverOnceAndDropsStaleOnes) {
  ReadingSlot slot;
  const auto now = std::chrono::system_clock::now();
  EXPECT_FALSE(slot.take(now - 1s));
  slot.store({{1200, 1, 2, State::kNormal}, now - 500ms});
  slot.store({{1300, 1, 2, State::kNormal}, now});
  auto r = slot.take(now - 1s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reading.centivolts, 1300);  // the newest
  EXPECT_FALSE(slot.take(now - 1s));       // not twice
  slot.store({{1400, 1, 2, State::kNormal}, now - 2s});
  EXPECT_FALSE(slot.take(now - 1s));   // older than the interval
  EXPECT_FALSE(slot.take(now - 10s));  // and gone
}

TEST(Bm6Device, ReconnectsAfterTheDeviceComesBack) {
  EventLoop loop;
  Events events;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("bm6-dev-" + std::to_string(::getpid()))).string();
  DeviceOptions o{.name = "van",
                  .address = DeviceAddress::unix_socket(path),
                  .reconnect_min = 20ms,
                  .reconnect_max = 50ms};
  auto slot = std::make_shared<ReadingSlot>();
  auto device = make_device(loop, o, slot, events);
  device->start();
  loop.run_until([&] { return events.count(DeviceEvent::kConnectFailed) >= 3; }, 2s);
  EXPECT_GE(events.count(DeviceEvent::kConnectFailed), 3);
  EXPECT_EQ(events.seen[0].failure.kind, FailureKind::kUnreachable) << events.seen[0].detail;
  EXPECT_EQ(events.seen[0].failure.cause.os_errno, ENOENT);

  sim::SimDevice sim_device;
  sim_device.period = 30ms;
  auto server = std::make_unique<sim::Bm6SimServer>(loop, path, sim_device);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kFirstReading) == 1; }, 3s));
  ASSERT_TRUE(loop.run_until(
      [&] { return slot->take(std::chrono::system_clock::now() - 1s).has_value(); }, 2s));

  server.reset();  // the device goes away mid-stream
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kLinkLost) == 1; }, 2s));
  EXPECT_EQ(events.seen.back().failure.kind, FailureKind::kLinkLost);
  EXPECT_NE(events.seen.back().failure.cause.kind, LinkErrorKind::kNone) << "the socket's why";
  server = std::make_unique<sim::Bm6SimServer>(loop, path, sim_device);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kFirstReading) == 2; }, 3s));
  EXPECT_EQ(device->counters().connects, 2u);
  EXPECT_EQ(device->counters().link_losses, 1u);
  // The acknowledgement of each link was received, and is not counted as dropped.
  EXPECT_EQ(slot->frames_dropped.load(), 0u);
  device->stop();
  EXPECT_FALSE(device->linked());
}

TEST(Bm6Device, LinksThatDropSoonAfterComingUpKeepBackingOff) {
  // A device that streams three frames and drops, every time: each short success must not
  // start the backoff afresh, or a flapping device is retried at the minimum delay for ever.
  EventLoop loop;
  Events events;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("bm6-flap-" + std::to_string(::getpid()) + ".sock"))
                               .string();
  sim::SimDevice sim_device;
  sim_device.period = 20ms;
  sim_device.fault = sim::Fault::kDropMidStream;
  sim::Bm6SimServer server(loop, path, sim_device);
  DeviceOptions o{.name = "flap",
                  .address = DeviceAddress::unix_socket(path),
                  .reconnect_min = 5ms,
                  .reconnect_max = 40ms};
  auto slot = std::make_shared<ReadingSlot>();
  auto device = make_device(loop, o, slot, events);
  device->start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kLinkLost) >= 4; }, 5s));
  EXPECT_GE(events.count(DeviceEvent::kFirstReading), 4);
  EXPECT_GE(device->consecutive_failures(), 4u);
  device->stop();
}

TEST(Bm6Device, AMonitorHeldByAnotherCentralIsReportedBusy) {
  EventLoop loop;
  Events phone_events, events;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("bm6-busy-" + std::to_string(::getpid()) + ".sock"))
                               .string();
  sim::Bm6SimServer server(loop, path, sim::SimDevice{});
  DeviceOptions o{.name = "phone", .address = DeviceAddress::unix_socket(path)};
  auto phone = make_device(loop, o, std::make_shared<ReadingSlot>(), phone_events);
  phone->start();
  ASSERT_TRUE(loop.run_until([&] { return phone_events.count(DeviceEvent::kFirstReading); }, 3s));
  o.name = "collectd";
  auto device = make_device(loop, o, std::make_shared<ReadingSlot>(), events);
  device->start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kConnectFailed); }, 3s));
  EXPECT_EQ(events.seen[0].failure.kind, FailureKind::kBusy) << events.seen[0].detail;
  EXPECT_EQ(events.seen[0].detail, events.seen[0].failure.detail);
  device->stop();
  phone->stop();
}

// Issue 23: a simulator out of range (SIGUSR1) answers no connect, as a monitor out of a
// radio's range: the connect waits for its timeout and fails as unreachable, not as a busy
// monitor's (which accepts and closes at once). Back in range, the device reads again.
TEST(Bm6Device, AMonitorOutOfRangeDoesNotAnswerTheConnectAndIsNotBusy) {
  EventLoop loop;
  Events events;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("bm6-range-" + std::to_string(::getpid()) + ".sock"))
                               .string();
  sim::SimDevice sim_device;
  sim_device.period = 30ms;
  sim::Bm6SimServer server(loop, path, sim_device);
  server.set_in_range(false);
  DeviceOptions o{.name = "away",
                  .address = DeviceAddress::unix_socket(path),
                  .connect_timeout = 300ms,
                  .reconnect_min = 50ms,
                  .reconnect_max = 100ms};
  std::string err;
  Bm6Device device(
      loop, o,
      make_connector(loop, {.address = o.address, .timeout = o.connect_timeout}, nullptr, err),
      std::make_shared<ReadingSlot>(), events.handler());
  const auto started = EventLoop::Clock::now();
  device.start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kConnectFailed); }, 3s));
  EXPECT_GE(EventLoop::Clock::now() - started, 300ms);  // it waited for the timeout
  EXPECT_EQ(events.seen[0].failure.kind, FailureKind::kUnreachable) << events.seen[0].detail;
  EXPECT_EQ(events.seen[0].failure.cause.os_errno, ETIMEDOUT);
  EXPECT_EQ(server.connections(), 0u);
  server.set_in_range(true);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kFirstReading) == 1; }, 3s));
  device.stop();
}

// Issue 23: live readings that came while a history download ran are not lost when it
// fails: by the time the failure is reported, the newest of them waits in the slot.
TEST(Bm6Device, ReadingsHeldDuringAFailedDownloadGoOut) {
  EventLoop loop;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("bm6-held-" + std::to_string(::getpid()) + ".sock"))
                               .string();
  sim::SimDevice sim_device;
  sim_device.period = 30ms;
  sim_device.fault = sim::Fault::kHistoryCorrupt;
  sim_device.fault_connections = 1000;
  sim_device.history_seed = 300;  // a page of records, one of them corrupt
  sim::Bm6SimServer server(loop, path, sim_device);
  DeviceOptions o{.name = "held", .address = DeviceAddress::unix_socket(path)};
  o.backfill = true;
  auto slot = std::make_shared<ReadingSlot>();
  // The last reading dispatched 10 min ago: the first link back downloads the gap.
  slot->last_dispatched_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     (std::chrono::system_clock::now() - 600s).time_since_epoch())
                                     .count());
  std::string failed;
  bool waiting_at_failure = false;
  std::string err;
  Bm6Device device(loop, o, make_connector(loop, {.address = o.address}, nullptr, err), slot,
                   [&](const DeviceOptions&, const DeviceReport& r) {
                     if (r.event != DeviceEvent::kBackfillFailed) return;
                     failed = r.detail;
                     waiting_at_failure = slot->take(std::chrono::system_clock::now() - 60s) ||
                                          !slot->take_history().empty();
                   });
  device.start();
  ASSERT_TRUE(loop.run_until([&] { return !failed.empty(); }, 5s));
  EXPECT_NE(failed.find("history download failed"), std::string::npos) << failed;
  EXPECT_TRUE(waiting_at_failure) << "the readings of the download's time were dropped";
  device.stop();
}

// A Unix connector with a radio: RSSI answered from the loop (-61 dBm), or never.
class RssiConnector final : public Connector {
 public:
  RssiConnector(EventLoop& loop, const DeviceAddress& address, bool answers)
      : loop_(loop), answers_(answers) {
    std::string err;
    inner_ = make_connector(loop, {.address = address}, nullptr, err);
  }
  void connect(Done done) override { inner_->connect(std::move(done)); }
  void cancel() override { inner_->cancel(); }
  std::string address() const override { return inner_->address(); }
  bool read_rssi(int fd, std::function<void(int)> done) override {
    ++asked;
    if (fd < 0 || !answers_) return answers_;
    loop_.post([done = std::move(done)] { done(-61); });
    return true;
  }
  int asked = 0;

 private:
  EventLoop& loop_;
  bool answers_;
  std::unique_ptr<Connector> inner_;
};

struct RssiRun {
  std::vector<TimedReading> readings;
  int asked = 0;
  std::chrono::steady_clock::duration took{};  // from start() to the tenth reading
};

RssiRun run_with_rssi(bool answers, std::chrono::milliseconds read_interval) {
  EventLoop loop;
  Bm6Codec codec;
  Events events;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("bm6-rssi-" + std::to_string(::getpid())))
          .string();
  sim::SimDevice sim_device;
  sim_device.period = 20ms;
  sim::Bm6SimServer server(loop, path, sim_device);
  auto slot = std::make_shared<ReadingSlot>();
  DeviceOptions o{.name = "r", .address = DeviceAddress::unix_socket(path)};
  o.read_interval = read_interval;
  auto connector = std::make_unique<RssiConnector>(loop, o.address, answers);
  RssiConnector* raw = connector.get();
  Bm6Device device(loop, o, std::move(connector), slot, events.handler());
  device.start();
  RssiRun run;
  const auto t0 = std::chrono::steady_clock::now();
  loop.run_until(
      [&] {
        if (auto r = slot->take(std::chrono::system_clock::now() - 10s)) run.readings.push_back(*r);
        return run.readings.size() >= 10;
      },
      5s);
  run.asked = raw->asked;
  run.took = std::chrono::steady_clock::now() - t0;
  device.stop();
  return run;
}

TEST(Bm6Device, FirstReadingOfALinkCarriesItsRssi) {
  const auto run = run_with_rssi(true, 10s);
  ASSERT_GE(run.readings.size(), 10u);
  ASSERT_TRUE(run.readings.front().rssi_dbm.has_value()) << "asked as soon as the link is up";
  EXPECT_EQ(*run.readings.front().rssi_dbm, -61);
  // Once per read interval (10 s), not once a second nor per reading.
  EXPECT_EQ(run.asked, 1);
}

TEST(Bm6Device, RssiIsAskedOncePerReadInterval) {
  const auto run = run_with_rssi(true, 50ms);  // ten readings 20 ms apart: about 4 asks
  ASSERT_GE(run.readings.size(), 10u);
  EXPECT_GE(run.asked, 2);
  // One per interval that began: a loaded machine that stretches the run gets more of them,
  // never one per reading.
  const auto intervals = static_cast<int>(run.took / 50ms) + 1;
  EXPECT_LE(run.asked, std::min(intervals, 9)) << "over " << intervals << " intervals";
}

TEST(Bm6Device, AnUnansweredRssiQueryNeverDelaysAReading) {
  const auto run = run_with_rssi(false, 10s);
  ASSERT_GE(run.readings.size(), 10u);
  EXPECT_FALSE(run.readings.front().rssi_dbm.has_value());
}

}  // namespace
}  // namespace bm6
