// AdapterWatch with a fake clock: when an adapter is called stuck, and when it is reset.
#include "device/adapter_watch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using Kind = AdapterWatch::Note::Kind;

struct Recorder {
  explicit Recorder(AdapterWatch::Options o = {}) : watch(o) {}
  AdapterWatch watch;
  AdapterWatch::Clock::time_point now{std::chrono::hours(1000)};
  std::vector<AdapterWatch::Note> notes;

  void keep(std::vector<AdapterWatch::Note> n) { notes.insert(notes.end(), n.begin(), n.end()); }
  void fail(const std::string& d = "van") { keep(watch.on_connect_failed(now, d)); }
  void up(const std::string& d = "van", bool reading = true) {
    keep(watch.on_link_up(now, d, reading));
  }
  void done(bool ok, const std::string& detail = "") { keep(watch.on_reset_done(now, ok, detail)); }
  // A device retrying every `every` for `d`.
  void fail_for(AdapterWatch::Clock::duration d, AdapterWatch::Clock::duration every = 20s,
                const std::string& device = "van") {
    for (auto end = now + d; now < end; now += every) fail(device);
  }
  std::vector<Kind> kinds() const {
    std::vector<Kind> k;
    for (const auto& n : notes) k.push_back(n.kind);
    return k;
  }
  int count(Kind kind) const {
    int c = 0;
    for (const auto& n : notes) c += n.kind == kind;
    return c;
  }
};

AdapterWatch::Options with_reset() {
  AdapterWatch::Options o;
  o.reset = true;
  return o;
}

TEST(AdapterWatch, NeverHeardNorReadIsNotStuck) {
  // A monitor that never answered: away, not a stuck adapter.
  Recorder r(with_reset());
  r.fail_for(2h);
  EXPECT_TRUE(r.notes.empty());
  EXPECT_FALSE(r.watch.stuck());
}

TEST(AdapterWatch, FailingAfterReadingIsSaidOnceWithWhatWasSeen) {
  Recorder r;
  r.up("van");
  r.up("boat");
  r.fail_for(4min, 20s, "van");
  EXPECT_TRUE(r.notes.empty());  // not yet StuckAfter (5 min)
  r.fail("boat");
  r.fail_for(2h, 20s, "van");
  ASSERT_EQ(r.kinds(), std::vector<Kind>{Kind::kStuck});  // without ResetAdapter: no reset
  const auto& n = r.notes[0];
  EXPECT_EQ(n.failing, (std::vector<std::string>{"boat", "van"}));
  EXPECT_EQ(n.read_before, (std::vector<std::string>{"boat", "van"}));
  EXPECT_TRUE(n.heard.empty());
  EXPECT_GE(n.over, 5min);
  EXPECT_LT(n.over, 6min);
  EXPECT_GE(n.failures, 15u);
}

TEST(AdapterWatch, HeardMonitorThatNeverReadMakesItStuck) {
  Recorder r;
  r.watch.on_heard(r.now, "van");
  r.fail_for(5min + 1s);
  ASSERT_EQ(r.kinds(), std::vector<Kind>{Kind::kStuck});
  EXPECT_EQ(r.notes[0].heard, std::vector<std::string>{"van"});
  EXPECT_TRUE(r.notes[0].read_before.empty());
}

TEST(AdapterWatch, HeardLongAgoDoesNotCount) {
  Recorder r;
  r.watch.on_heard(r.now, "van");
  r.now += 10min;
  r.fail_for(30min);
  EXPECT_TRUE(r.notes.empty());
}

TEST(AdapterWatch, TooFewFailuresAreNotStuck) {
  // Two attempts 10 min apart (a long ReconnectMax): not enough to blame the adapter.
  Recorder r;
  r.up();
  r.fail();
  r.now += 10min;
  r.fail();
  EXPECT_TRUE(r.notes.empty());
  r.now += 1min;
  r.fail();
  EXPECT_EQ(r.kinds(), std::vector<Kind>{Kind::kStuck});
}

TEST(AdapterWatch, AnyLinkComingUpRestartsTheWindow) {
  Recorder r;
  r.up("van");
  r.fail_for(4min, 20s, "van");
  r.up("boat", false);  // boat's link came up (then busy): the adapter makes links
  r.fail_for(4min, 20s, "van");
  EXPECT_TRUE(r.notes.empty());
}

TEST(AdapterWatch, ResetIsAskedOnceThenBacksOffAndRecovers) {
  Recorder r(with_reset());
  r.up();
  r.fail_for(5min + 1s);
  ASSERT_EQ(r.kinds(), (std::vector<Kind>{Kind::kStuck, Kind::kReset}));
  EXPECT_EQ(r.notes[1].resets, 1u);
  EXPECT_TRUE(r.watch.resetting());
  r.fail_for(1min);  // failures while it resets are its own doing
  EXPECT_EQ(r.notes.size(), 2u);
  r.done(true);
  EXPECT_EQ(r.notes.back().kind, Kind::kResetDone);
  EXPECT_TRUE(r.notes.back().ok);
  r.up();
  EXPECT_EQ(r.notes.back().kind, Kind::kRecovered);
  EXPECT_EQ(r.notes.back().resets, 1u);
  EXPECT_FALSE(r.watch.stuck());
}

TEST(AdapterWatch, ResetsAreBackedOffAndCappedPerHour) {
  AdapterWatch::Options o = with_reset();
  o.stuck_after = 1min;
  o.first_backoff = 2min;
  o.max_backoff = 16min;
  o.max_per_hour = 3;
  Recorder r(o);
  r.up();
  std::vector<AdapterWatch::Clock::time_point> resets;
  for (int minute = 0; minute < 180; ++minute) {
    const auto before = r.notes.size();
    r.fail_for(1min, 10s);
    for (auto i = before; i < r.notes.size(); ++i)
      if (r.notes[i].kind == Kind::kReset) {
        resets.push_back(r.now);
        r.done(true);  // the power cycle did not help
      }
  }
  EXPECT_EQ(r.count(Kind::kStuck), 1);
  ASSERT_GE(resets.size(), 4u);
  // Backoff doubling: 2, 4, 8, 16, 16 min apart at least (plus a new 1 min window).
  for (std::size_t i = 1; i < resets.size(); ++i) {
    const auto gap = resets[i] - resets[i - 1];
    EXPECT_GE(gap, std::min<AdapterWatch::Clock::duration>(2min * (1 << (i - 1)), 16min)) << i;
  }
  // Never more than 3 in any hour.
  for (std::size_t i = 3; i < resets.size(); ++i) EXPECT_GE(resets[i] - resets[i - 3], 1h) << i;
  EXPECT_EQ(r.count(Kind::kResetCapped), 1);  // said once per spell
}

TEST(AdapterWatch, FailedResetIsReportedAndBackedOff) {
  Recorder r(with_reset());
  r.up();
  r.fail_for(5min + 1s);
  r.done(false, "permission denied");
  ASSERT_EQ(r.notes.back().kind, Kind::kResetDone);
  EXPECT_FALSE(r.notes.back().ok);
  EXPECT_EQ(r.notes.back().detail, "permission denied");
  r.fail_for(4min);  // within the 5 min backoff: no second reset
  EXPECT_EQ(r.count(Kind::kReset), 1);
  r.fail_for(2min);
  EXPECT_EQ(r.count(Kind::kReset), 2);
}

TEST(AdapterWatch, WithoutTheOptionNoResetEver) {
  Recorder r;
  r.up();
  r.fail_for(24h);
  EXPECT_EQ(r.kinds(), std::vector<Kind>{Kind::kStuck});
  EXPECT_FALSE(r.watch.resetting());
}

TEST(AdapterWatch, StuckAgainAfterRecoveringIsSaidAgain) {
  Recorder r;
  r.up();
  r.fail_for(6min);
  r.up();
  r.fail_for(6min);
  EXPECT_EQ(r.kinds(), (std::vector<Kind>{Kind::kStuck, Kind::kRecovered, Kind::kStuck}));
}

}  // namespace
}  // namespace bm6
