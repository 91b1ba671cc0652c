// The monitor families on a link: detection of BM6, BM7 and BM2 simulators, a configured
// Model that is wrong, and a device whose model changes between links. Prints the detection
// times (link up to first reading) that BENCHMARKS.md reports.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "device/bm6_device.h"
#include "device/bm6_link.h"
#include "tests/device_test_support.h"
#include "tools/sim/bm6_peripheral.h"
#include "transport/connector.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::connect_unix;

class FamilyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bm6-family-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  static sim::SimDevice device(Family model, Reading reading) {
    sim::SimDevice d;
    d.model = model;
    d.reading = reading;
    return d;
  }

  struct Outcome {
    std::optional<Family> family;  // as the link settled on it (on_family)
    std::optional<Reading> reading;
    std::chrono::steady_clock::duration took{};  // link up to the first reading
    std::string closed;                          // why, if it closed
    FailureKind closed_kind = FailureKind::kNone;
    Bm6LinkStats stats;
  };

  // One link to `sim` until its first reading, or until it closes or `limit` passes.
  Outcome run(const sim::SimDevice& sim, Bm6Link::Options options,
              std::chrono::milliseconds limit = 6s) {
    const std::string path = dir + "/" + std::to_string(++sockets) + ".sock";
    sim::Bm6SimServer server(loop, path, sim);
    Outcome out;
    bool closed = false;
    Bm6Link::Handlers h;
    h.on_family = [&](Family f) { out.family = f; };
    h.on_reading = [&](const Reading& r, std::chrono::system_clock::time_point) {
      if (!out.reading) out.reading = r;
    };
    h.on_closed = [&](const DeviceFailure& why) {
      out.closed = why.detail;
      out.closed_kind = why.kind;
      closed = true;
    };
    const auto start = std::chrono::steady_clock::now();
    Bm6Link link(loop, connect_unix(loop, path), options, h);
    loop.run_until([&] { return closed || out.reading.has_value(); }, limit);
    out.took = std::chrono::steady_clock::now() - start;
    out.stats = link.stats();
    return out;
  }

  std::string dir;
  EventLoop loop;
  int sockets = 0;
};

double ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

TEST_F(FamilyTest, EachFamilyIsDetectedAndReadExactly) {
  // The documented detection with its default 2 s window; a BM2 sends one frame a second,
  // as the real one does, and needs two before it is believed.
  struct Case {
    Family family;
    Reading sent;
    Reading expected;
  };
  const Case cases[] = {
      {Family::kBm6, {1274, 9, 81, State::kNormal}, {1274, 9, 81, State::kNormal}},
      {Family::kBm7, {1194, -7, 23, State::kLow}, {1194, -7, 23, State::kLow}},
      {Family::kBm2, {1271, 20, 87, State::kFloating}, {1271, std::nullopt, 87, State::kFloating}},
  };
  for (const auto& c : cases) {
    const auto out = run(device(c.family, c.sent), {});
    ASSERT_TRUE(out.family) << to_string(c.family) << ": " << out.closed;
    EXPECT_EQ(*out.family, c.family);
    ASSERT_TRUE(out.reading) << to_string(c.family) << ": " << out.closed;
    EXPECT_EQ(*out.reading, c.expected) << to_string(c.family);
    EXPECT_EQ(out.stats.rejected_total() -
                  out.stats.rejected[static_cast<int>(LiveRejection::kAcknowledgement)],
              0u)
        << to_string(c.family);
    std::printf("detection: %s first reading %.0f ms after link up (window 2 s)\n",
                to_string(c.family), ms(out.took));
  }
}

TEST_F(FamilyTest, RememberedFamilyIsAskedFirst) {
  // A later link of a BM7 sends the BM7 request first: no detection window to wait out.
  Bm6Link::Options options;
  options.likely_family = Family::kBm7;
  const auto out = run(device(Family::kBm7, {1194, -7, 23, State::kLow}), options);
  ASSERT_TRUE(out.reading) << out.closed;
  EXPECT_EQ(out.family, Family::kBm7);
  EXPECT_EQ(out.stats.commands_sent, 1u);
  EXPECT_LT(out.took, 1500ms);
  std::printf("detection: BM7 remembered, first reading %.0f ms after link up\n", ms(out.took));
  // The hint is no more than that: a monitor that is now a BM6 is still found.
  const auto changed = run(device(Family::kBm6, {1300, 20, 50, State::kNormal}), options);
  ASSERT_TRUE(changed.reading) << changed.closed;
  EXPECT_EQ(changed.family, Family::kBm6);
}

TEST_F(FamilyTest, SilentDeviceFailsDetectionWithinTheSetUpBound) {
  auto sim = device(Family::kBm6, {1300, 20, 50, State::kNormal});
  sim.streams = false;
  Bm6Link::Options options;
  options.stream_timeout = 100ms;
  options.detection_window = 50ms;
  const auto out = run(sim, options, 3s);
  EXPECT_FALSE(out.family);
  EXPECT_EQ(out.closed_kind, FailureKind::kSilent) << out.closed;
  EXPECT_NE(out.closed.find("no frame of a BM6, BM7 or BM2 in 300 ms"), std::string::npos)
      << out.closed;
  EXPECT_GE(out.stats.commands_sent, 4u);  // BM6, BM7, BM6, ... in turn
}

TEST_F(FamilyTest, WrongModelNamesWhatTheFramesAre) {
  Bm6Link::Options options;
  options.stream_timeout = 100ms;
  options.family = Family::kBm6;
  // A BM2 streams whatever it is asked: its frames are named.
  auto bm2 = device(Family::kBm2, {1271, 20, 87, State::kNormal});
  bm2.period = 20ms;
  const auto out = run(bm2, options, 3s);
  EXPECT_FALSE(out.reading);
  EXPECT_FALSE(out.family);  // no detection with a configured Model
  EXPECT_EQ(out.closed_kind, FailureKind::kProtocol) << out.closed;  // not the BM6 it should be
  EXPECT_NE(out.closed.find("configured as BM6 but its frames decode as BM2"), std::string::npos)
      << out.closed;
  // A BM7 ignores the BM6 request: nothing to name, but the Model is still suspect.
  const auto silent = run(device(Family::kBm7, {1194, -7, 23, State::kLow}), options, 3s);
  EXPECT_FALSE(silent.reading);
  EXPECT_EQ(silent.closed_kind, FailureKind::kSilent) << silent.closed;
  EXPECT_NE(silent.closed.find("configured as BM6: a monitor of another family stays silent"),
            std::string::npos)
      << silent.closed;
  // And the right Model reads at once.
  options.family = Family::kBm7;
  const auto right = run(device(Family::kBm7, {1194, -7, 23, State::kLow}), options);
  ASSERT_TRUE(right.reading) << right.closed;
  EXPECT_EQ(*right.reading, (Reading{1194, -7, 23, State::kLow}));
}

TEST_F(FamilyTest, DeviceRemembersTheModelAndSaysWhenItChanges) {
  const std::string path = dir + "/van.sock";
  std::vector<std::pair<DeviceEvent, std::string>> events;
  DeviceOptions o{.name = "van",
                  .address = DeviceAddress::unix_socket(path),
                  .reconnect_min = 20ms,
                  .reconnect_max = 50ms};
  o.detection_window = 200ms;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  auto slot = std::make_shared<ReadingSlot>();
  Bm6Device dev(
      loop, o, std::move(connector), slot,
      [&](const DeviceOptions&, const DeviceReport& r) { events.emplace_back(r.event, r.detail); });
  auto count = [&](DeviceEvent e) {
    return std::count_if(events.begin(), events.end(), [e](auto& p) { return p.first == e; });
  };
  auto serve = [&](Family f) {
    auto d = device(f, {1234, 12, 60, State::kNormal});
    d.period = 30ms;
    return std::make_unique<sim::Bm6SimServer>(loop, path, d);
  };
  auto server = serve(Family::kBm7);
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return count(DeviceEvent::kFirstReading) == 1; }, 3s));
  EXPECT_EQ(dev.model(), Family::kBm7);
  ASSERT_EQ(count(DeviceEvent::kModelDetected), 1);
  // The same monitor again: nothing new to say.
  server.reset();
  server = serve(Family::kBm7);
  ASSERT_TRUE(loop.run_until([&] { return count(DeviceEvent::kFirstReading) == 2; }, 3s));
  EXPECT_EQ(count(DeviceEvent::kModelDetected), 1);
  EXPECT_EQ(count(DeviceEvent::kModelChanged), 0);
  // Another family at the address: re-detected, and said.
  server.reset();
  server = serve(Family::kBm2);
  ASSERT_TRUE(loop.run_until([&] { return count(DeviceEvent::kFirstReading) == 3; }, 3s));
  EXPECT_EQ(dev.model(), Family::kBm2);
  ASSERT_EQ(count(DeviceEvent::kModelChanged), 1);
  for (const auto& [e, detail] : events) {
    if (e == DeviceEvent::kModelDetected) {
      EXPECT_EQ(detail, "BM7");
    }
    if (e == DeviceEvent::kModelChanged) {
      EXPECT_EQ(detail, "BM7, now BM2");
    }
  }
  const auto r = slot->take(std::chrono::system_clock::now() - 1s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reading, (Reading{1234, std::nullopt, 60, State::kNormal}));
  dev.stop();
}

}  // namespace
}  // namespace bm6
