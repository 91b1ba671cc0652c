// The monitor's stored history on a link (HistoryDownload) and a device's backfill (Backfill
// in Bm6Device), against the simulator in-process: records oldest first at estimated times,
// the flood guard raised for the answer only, truncated and corrupt answers refused with the
// live stream going on, live readings held back while a gap is filled, a gap never tried twice.
#include "device/history_download.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "device/bm6_device.h"
#include "tests/device_test_support.h"
#include "tools/sim/bm6_peripheral.h"
#include "transport/connector.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::connect_unix;
using test::Events;
using SysClock = std::chrono::system_clock;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bm6-history-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/m.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  static sim::SimDevice device(std::uint32_t seed, sim::Fault fault = sim::Fault::kNone) {
    sim::SimDevice d;
    d.period = 50ms;
    d.cycle = 20s;  // records differ from one another
    d.history_seed = seed;
    d.fault = fault;
    return d;
  }

  struct Run {
    std::optional<HistoryResult> result;
    std::string closed;
    unsigned readings_after = 0;      // live readings after the download ended
    unsigned limit_after = 0;         // the bearer's flood guard then
    std::vector<HistoryRecord> held;  // what the simulator held, newest first
  };

  // A link with the plugin's flood guard (100 PDUs a second); its first reading starts a
  // download of `pages`; runs until a few live readings followed it, or the link closed.
  Run download(const sim::SimDevice& sim, std::uint8_t pages, bool raise_guard = true,
               std::chrono::milliseconds timeout = 0ms) {
    sim::Bm6SimServer server(loop, path, sim);
    Run run;
    run.held = server.history().records();
    bool closed = false;
    std::unique_ptr<Bm6Link> link;
    std::unique_ptr<HistoryDownload> dl;
    Bm6Link::Handlers h;
    h.on_reading = [&](const Reading&, SysClock::time_point) {
      if (run.result) ++run.readings_after;
      if (dl || run.result) return;
      HistoryDownload::Options o;
      o.pages = pages;
      o.timeout = timeout;
      o.peer_pdu_limit = raise_guard ? 100 : 0;
      dl = std::make_unique<HistoryDownload>(loop, *link, o, [&](HistoryResult r) {
        run.result = std::move(r);
        run.limit_after = link->bearer().max_peer_pdus_per_second();
        dl.reset();
      });
    };
    h.on_closed = [&](const std::string& why) {
      run.closed = why;
      closed = true;
      dl.reset();
    };
    Bm6Link::Options options;
    options.family = Family::kBm6;
    options.att.max_peer_pdus_per_second = 100;
    link = std::make_unique<Bm6Link>(loop, connect_unix(loop, path), options, h);
    loop.run_until([&] { return closed || run.readings_after >= 3; }, 20s);
    dl.reset();
    link.reset();
    return run;
  }

  EventLoop loop;
  std::string dir, path;
};

TEST_F(HistoryTest, RecordsComeOldestFirstAtEstimatedTimesAndTheLinkStreamsOn) {
  const auto sim = device(300);  // two pages' worth, some of the second empty
  const auto asked = SysClock::now();
  const Run run = download(sim, 2);
  const auto& held = run.held;  // newest first, as the answer carries them
  ASSERT_TRUE(run.result) << run.closed;
  ASSERT_TRUE(run.result->ok()) << run.result->error;
  const auto& records = run.result->records;
  ASSERT_EQ(records.size(), 300u);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& want = held[records.size() - 1 - i];  // oldest first
    EXPECT_EQ(records[i].record.slot, want.slot);
    EXPECT_EQ(records[i].record.centivolts, want.centivolts) << i;
    EXPECT_EQ(records[i].record.soc_percent, want.soc_percent) << i;
    if (i > 0) {
      EXPECT_EQ(records[i].at - records[i - 1].at, kHistoryPeriod);
    }
  }
  // The newest a second before the answer, in whole seconds.
  const auto newest = records.back().at;
  EXPECT_EQ(newest, std::chrono::floor<std::chrono::seconds>(newest));
  EXPECT_LE(newest, SysClock::now() - 1s);
  EXPECT_GE(newest, asked - 2s);
  // Two pages of 16-byte blocks at MTU 23: one block a notification, 130 within a few
  // milliseconds: more than the guard's 100 a second, raised for the answer and restored.
  EXPECT_EQ(run.result->notifications, 130u);
  EXPECT_EQ(run.limit_after, 100u);
  EXPECT_GE(run.readings_after, 3u) << run.closed;
  std::printf("history: 2 pages (%zu records) in %lld ms, %llu notifications\n", records.size(),
              static_cast<long long>(run.result->took.count()),
              static_cast<unsigned long long>(run.result->notifications));
}

TEST_F(HistoryTest, WithoutRaisingTheFloodGuardTheAnswerCostsTheLink) {
  // What the raise is for: the same answer under the live stream's guard is a flood.
  const Run run = download(device(300), 2, /*raise_guard=*/false);
  EXPECT_FALSE(run.result && run.result->ok());
  EXPECT_NE(run.closed.find("floods"), std::string::npos) << run.closed;
}

TEST_F(HistoryTest, TruncatedAnswerIsRefusedAndLiveReadingsGoOn) {
  const Run run = download(device(100, sim::Fault::kHistoryTruncated), 1, true, 500ms);
  ASSERT_TRUE(run.result) << run.closed;
  EXPECT_FALSE(run.result->ok());
  EXPECT_NE(run.result->error.find("truncated"), std::string::npos) << run.result->error;
  EXPECT_TRUE(run.result->records.empty());
  EXPECT_EQ(run.limit_after, 100u);
  EXPECT_GE(run.readings_after, 3u) << run.closed;
}

TEST_F(HistoryTest, CorruptAnswerIsRefusedAndLiveReadingsGoOn) {
  const Run run = download(device(100, sim::Fault::kHistoryCorrupt), 1);
  ASSERT_TRUE(run.result) << run.closed;
  EXPECT_FALSE(run.result->ok());
  EXPECT_NE(run.result->error.find("garbage record"), std::string::npos) << run.result->error;
  EXPECT_GE(run.readings_after, 3u) << run.closed;
}

TEST(HistoryPages, CoverTheSpanWithOneRecordToSpare) {
  EXPECT_EQ(pages_for(0s, 120s), 1);
  EXPECT_EQ(pages_for(std::chrono::seconds(255 * 120), 120s), 1);  // 256 records
  EXPECT_EQ(pages_for(std::chrono::seconds(256 * 120), 120s), 2);
  EXPECT_EQ(pages_for(48h, 120s), 6);  // 1,441 records
  EXPECT_EQ(pages_for(std::chrono::hours(24 * 365), 1s), 255);
}

TEST_F(HistoryTest, DeviceFillsAGapBeforeAnyLiveReadingAndNeverTriesItTwice) {
  sim::SimDevice sim = device(40);
  sim.record_period = 1s;
  auto server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  const auto since = SysClock::now() - 10500ms;
  slot->last_dispatched_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch()).count();
  DeviceOptions o{.name = "van",
                  .address = "unix:" + path,
                  .reconnect_min = 20ms,
                  .reconnect_max = 50ms,
                  .backfill = true,
                  .record_period = 1s};
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, DeviceEvent e, const std::string& d) {
                  if (e == DeviceEvent::kBackfilled) {  // nothing live before the records
                    EXPECT_FALSE(slot->take(SysClock::now() - 1h).has_value());
                  }
                  events.seen.emplace_back(e, d);
                });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfilled) == 1; }, 5s));
  const auto records = slot->take_history();
  // ~10 s of records at one a second, after `since`, oldest first.
  ASSERT_GE(records.size(), 9u);
  ASSERT_LE(records.size(), 12u);
  EXPECT_GT(records.front().at, since);
  for (std::size_t i = 1; i < records.size(); ++i) EXPECT_LT(records[i - 1].at, records[i].at);
  // Then live readings, every one after the newest record.
  ASSERT_TRUE(loop.run_until([&] { return slot->stored.load() >= 3; }, 3s));
  const auto live = slot->take(SysClock::now() - 1h);
  ASSERT_TRUE(live);
  EXPECT_GE(live->received, records.back().at + 1s);

  // The link drops and comes back; nothing was dispatched meanwhile: the same gap, not
  // asked again.
  server.reset();
  server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kFirstReading) == 2; }, 5s));
  loop.run_until([] { return false; }, 300ms);
  EXPECT_EQ(dev.backfill()->downloads(), 1u);
  EXPECT_TRUE(slot->take_history().empty());

  // A new gap (readings dispatched since, then lost again) is filled.
  server.reset();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kLinkLost) == 2; }, 3s));
  ASSERT_TRUE(slot->take(SysClock::now() - 1h));  // the plugin took this link's readings
  const auto later = SysClock::now() - 5s;
  slot->last_dispatched_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(later.time_since_epoch()).count();
  server.reset();
  server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfilled) == 2; }, 5s));
  EXPECT_EQ(dev.backfill()->downloads(), 2u);
  dev.stop();
}

// A per-read link with a gap to fill stays up for the download: the records first, then
// one live reading after them, then it closes as any per-read link does.
TEST_F(HistoryTest, PerReadLinkFillsTheGapThenTakesOneReadingAndCloses) {
  sim::SimDevice sim = device(40);
  sim.record_period = 1s;
  sim::Bm6SimServer server(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  const auto since = SysClock::now() - 6500ms;
  slot->last_dispatched_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch()).count();
  DeviceOptions o{.name = "van", .address = "unix:" + path, .backfill = true, .record_period = 1s};
  o.link = LinkMode::kPerRead;
  o.read_interval = 2000ms;
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, DeviceEvent e, const std::string& d) {
                  events.seen.emplace_back(e, d);
                });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfilled) == 1; }, 5s));
  // Closed after the live reading that followed the records, not before the download.
  ASSERT_TRUE(loop.run_until([&] { return !dev.linked() && server.peripheral() == nullptr; }, 3s));
  const auto records = slot->take_history();
  ASSERT_GE(records.size(), 5u);
  EXPECT_GT(records.front().at, since);
  const auto live = slot->take(SysClock::now() - 1h);
  ASSERT_TRUE(live);
  EXPECT_GE(live->received, records.back().at + 1s);
  EXPECT_GE(dev.counters().readings, 2u);  // the one that started the download, and this one
  EXPECT_EQ(events.count(DeviceEvent::kLinkLost), 0);
  dev.stop();
}

TEST_F(HistoryTest, DeviceWhoseDownloadFailsSaysSoOnceAndStreams) {
  sim::SimDevice sim = device(40, sim::Fault::kHistoryCorrupt);
  sim.record_period = 1s;
  sim::Bm6SimServer server(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  slot->last_dispatched_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 (SysClock::now() - 30s).time_since_epoch())
                                 .count();
  DeviceOptions o{.name = "van", .address = "unix:" + path, .backfill = true, .record_period = 1s};
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, DeviceEvent e, const std::string& d) {
                  events.seen.emplace_back(e, d);
                });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfillFailed) == 1; }, 5s));
  ASSERT_TRUE(loop.run_until([&] { return slot->stored.load() >= 3; }, 3s));
  EXPECT_TRUE(slot->take(SysClock::now() - 1h).has_value());
  EXPECT_TRUE(slot->take_history().empty());
  EXPECT_EQ(events.count(DeviceEvent::kBackfillFailed), 1);
  EXPECT_EQ(events.count(DeviceEvent::kBackfilled), 0);
  for (const auto& [e, d] : events.seen) {
    if (e == DeviceEvent::kBackfillFailed) {
      EXPECT_NE(d.find("garbage record"), std::string::npos);
    }
  }
  dev.stop();
}

TEST_F(HistoryTest, DetectedBm2SaysOnceThatItHasNoHistoryAndStreams) {
  sim::SimDevice sim = device(0);
  sim.model = Family::kBm2;
  auto server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  slot->last_dispatched_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 (SysClock::now() - 1h).time_since_epoch())
                                 .count();
  DeviceOptions o{.name = "bm2",
                  .address = "unix:" + path,
                  .reconnect_min = 20ms,
                  .reconnect_max = 50ms,
                  .backfill = true};
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, DeviceEvent e, const std::string& d) {
                  events.seen.emplace_back(e, d);
                });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return slot->stored.load() >= 2; }, 8s));
  server.reset();
  server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kFirstReading) == 2; }, 8s));
  EXPECT_EQ(events.count(DeviceEvent::kBackfillFailed), 1);
  EXPECT_EQ(dev.backfill()->downloads(), 0u);
  dev.stop();
}

}  // namespace
}  // namespace bm6
