// The link's polling against the simulator over real sockets: a unit that stops after N
// readings until asked again (bm6-sim --stop-after) keeps its pace; one that streams is asked
// once. Margins are wide (a loaded machine slows both ends): the figures are printed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "device/bm6_link.h"
#include "device/poll_policy.h"
#include "tests/device_test_support.h"
#include "tools/sim/bm6_peripheral.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;

class PollLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bm6-poll-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  // Readings of one link for `how_long`, with `poll` (the device's, shared across links).
  struct Outcome {
    std::vector<std::chrono::steady_clock::time_point> readings;
    Bm6LinkStats stats;
    bool closed = false;
    std::uint64_t live_requests = 0;  // as the simulator counted them
  };
  Outcome run(sim::Bm6SimServer& server, PollPolicy& poll, std::chrono::milliseconds how_long) {
    Outcome out;
    Bm6Link::Options options;
    options.stream_timeout = kStreamTimeout;
    options.family = Family::kBm6;
    options.poll = &poll;
    Bm6Link::Handlers handlers;
    handlers.on_reading = [&](const Reading&, std::chrono::system_clock::time_point) {
      out.readings.push_back(std::chrono::steady_clock::now());
    };
    handlers.on_closed = [&](const DeviceFailure&) { out.closed = true; };
    auto link = std::make_unique<Bm6Link>(loop, test::connect_unix(loop, server.path()), options,
                                          std::move(handlers));
    loop.run_until([&] { return out.closed; }, how_long);
    out.stats = link->stats();
    if (server.peripheral()) out.live_requests = server.peripheral()->stats().live_requests;
    link.reset();
    loop.run_until([&] { return server.peripheral() == nullptr; }, 2s);
    return out;
  }
  static std::size_t since(const Outcome& o, std::chrono::steady_clock::time_point t) {
    std::size_t n = 0;
    for (const auto r : o.readings) n += r >= t;
    return n;
  }

  static constexpr auto kPeriod = 100ms;
  static constexpr auto kStreamTimeout = 2000ms;
  std::string dir;
  EventLoop loop;
};

PollPolicy::Options fast_unit() {
  PollPolicy::Options o;
  o.stream_timeout = 2000ms;
  o.nominal_period = 100ms;  // the simulator's pace in these tests
  return o;
}

TEST_F(PollLinkTest, AUnitThatStopsAfterNReadingsKeepsItsPace) {
  for (const std::uint32_t n : {1u, 5u}) {
    sim::SimDevice device;
    device.period = kPeriod;
    device.stop_after = n;
    sim::Bm6SimServer server(loop, dir + "/stop" + std::to_string(n) + ".sock", device);
    PollPolicy poll(fast_unit());
    const auto start = std::chrono::steady_clock::now();
    const Outcome o = run(server, poll, 6s);
    EXPECT_FALSE(o.closed) << n;
    ASSERT_TRUE(poll.readings_per_request()) << n;
    EXPECT_EQ(*poll.readings_per_request(), n);
    // Asked again only when it stops: StreamTimeout would give N readings per 2 s. At its
    // pace, 10 a second; at least 4 a second over the last 4 s.
    const std::size_t late = since(o, start + 2s);
    std::fprintf(stderr, "stop after %u: %zu readings in the last 4 s, %llu requests in all\n", n,
                 late, static_cast<unsigned long long>(o.live_requests));
    EXPECT_GE(late, 16u) << n;
    // One request per N readings, give or take the two stops it learnt from.
    EXPECT_LE(o.stats.commands_sent, o.readings.size() / n + 4) << n;
    // The simulator got them all (but one may be on its way).
    EXPECT_LE(o.live_requests, o.stats.commands_sent) << n;
    EXPECT_GE(o.live_requests + 1, o.stats.commands_sent) << n;
    // Each answered by the acknowledgement frame first: expected, neither reading nor dropped.
    const auto acks = o.stats.rejected[static_cast<int>(LiveRejection::kAcknowledgement)];
    EXPECT_LE(acks, o.live_requests) << n;
    EXPECT_GE(acks + 1, o.live_requests) << n;
  }
}

TEST_F(PollLinkTest, AUnitThatStreamsIsAskedOnce) {
  sim::SimDevice device;
  device.period = kPeriod;
  sim::Bm6SimServer server(loop, dir + "/streams.sock", device);
  PollPolicy poll(fast_unit());
  const Outcome o = run(server, poll, 3s);
  EXPECT_FALSE(o.closed);
  EXPECT_GE(o.readings.size(), 10u);
  EXPECT_EQ(o.stats.commands_sent, 1u);
  EXPECT_EQ(o.live_requests, 1u);
  EXPECT_FALSE(poll.readings_per_request());
  ASSERT_TRUE(poll.period());
}

TEST_F(PollLinkTest, TheNextLinkAsksBeforeTheUnitStops) {
  sim::SimDevice device;
  device.period = kPeriod;
  device.stop_after = 3;
  sim::Bm6SimServer server(loop, dir + "/again.sock", device);
  PollPolicy poll(fast_unit());
  run(server, poll, 3s);
  ASSERT_TRUE(poll.readings_per_request());
  // The second link asks before each stop from the start: no reading overdue but one the
  // simulator itself sent late (a loaded machine delays its timer past 1.5 periods: CI saw
  // it), counted here from the gaps between the readings as the link got them.
  const auto before = poll.counts();
  const Outcome o = run(server, poll, 2s);
  EXPECT_FALSE(o.closed);
  EXPECT_GE(o.readings.size(), 9u);
  std::uint64_t late = 0;
  for (std::size_t i = 1; i < o.readings.size(); ++i)
    late += o.readings[i] - o.readings[i - 1] > kPeriod * 14 / 10;
  const auto overdue = poll.counts().overdue - before.overdue;
  const auto ahead = poll.counts().ahead - before.ahead;
  std::fprintf(stderr, "%zu readings, %llu asked ahead, %llu overdue, %llu gaps over 1.4 periods\n",
               o.readings.size(), static_cast<unsigned long long>(ahead),
               static_cast<unsigned long long>(overdue), static_cast<unsigned long long>(late));
  EXPECT_LE(overdue, late);
  EXPECT_EQ(poll.counts().again, before.again);
  EXPECT_GE(ahead + overdue, o.readings.size() / 3 - 1);
}

}  // namespace
}  // namespace bm6
