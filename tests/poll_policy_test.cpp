// PollPolicy with a fake clock and a model of a unit: when the live-data request is written
// again, for units that stream for ever and units that stop after N readings.
#include "device/poll_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using Clock = PollPolicy::Clock;
using Action = PollPolicy::Action;

// A unit as owners describe them: frames every `period`, the first `answer` after a request;
// with `stop_after`, silent after that many readings until asked again. A request while it
// streams changes nothing but the count (the pace stays).
struct Unit {
  Clock::duration period = 1s;
  Clock::duration answer = 100ms;
  unsigned stop_after = 0;    // 0: streams for ever
  std::set<unsigned> lost{};  // frames (counted from 1 over the run) that never arrive
  bool deaf = false;          // ignores requests, sends nothing more
  std::optional<Clock::time_point> next{};
  unsigned since_request = 0;
  unsigned frames = 0;

  void request(Clock::time_point now) {
    if (deaf) return;
    since_request = 0;
    if (!next) next = now + answer;
  }
  // Whether a reading arrives at `now`.
  bool frame(Clock::time_point now) {
    if (deaf || !next || now < *next) return false;
    ++frames;
    ++since_request;
    if (stop_after != 0 && since_request >= stop_after)
      next.reset();
    else
      *next += period;
    return !lost.count(frames);
  }
};

// The link as it drives the policy, in 10 ms steps.
struct Polling {
  PollPolicy policy;
  Unit unit;
  Clock::time_point now{std::chrono::hours(1000)};
  std::vector<Clock::time_point> requests;
  std::vector<Clock::time_point> readings;
  std::optional<Clock::time_point> dead;

  explicit Polling(Unit u, PollPolicy::Options o = {}) : policy(o), unit(u) {}

  void start_link() {
    unit.request(now);
    requests.push_back(now);
    policy.start_link(now);
  }
  void run(Clock::duration d) {
    for (const auto end = now + d; now < end && !dead; now += 10ms) {
      if (unit.frame(now)) {
        readings.push_back(now);
        policy.on_reading(now);
      }
      const Action a = policy.due(now);
      if (a == Action::kDead) dead = now;
      if (a != Action::kRequest) continue;
      EXPECT_GE(now, policy.deadline());
      policy.on_request(now);
      unit.request(now);
      requests.push_back(now);
    }
  }
  // The longest gap between readings after `from`.
  Clock::duration max_gap(Clock::time_point from) const {
    Clock::duration gap{};
    for (std::size_t i = 1; i < readings.size(); ++i)
      if (readings[i - 1] >= from) gap = std::max(gap, readings[i] - readings[i - 1]);
    return gap;
  }
  std::size_t requests_after(Clock::time_point from) const {
    return static_cast<std::size_t>(
        std::count_if(requests.begin(), requests.end(), [&](auto t) { return t >= from; }));
  }
};

TEST(PollPolicy, AUnitThatStreamsForEverIsAskedOnce) {
  for (const auto period : {200ms, 500ms, 1000ms, 1400ms}) {
    Unit unit;
    unit.period = period;
    Polling r(unit);
    r.start_link();
    r.run(10min);
    EXPECT_EQ(r.requests.size(), 1u) << period.count();
    EXPECT_FALSE(r.dead);
    ASSERT_TRUE(r.policy.period());
    EXPECT_EQ(*r.policy.period(), Clock::duration(period));
    EXPECT_FALSE(r.policy.readings_per_request());
  }
}

// Two notifications less than a connection interval (7.5 ms) apart came in one connection
// event, queued at the unit: they say nothing of its pace, and the watchdog stays at 1.5 s.
TEST(PollPolicy, ReadingsQueuedIntoOneConnectionEventTeachNoPeriod) {
  PollPolicy policy;
  Clock::time_point t{};
  policy.start_link(t);
  for (int second = 1; second <= 4; ++second) {
    t += 1s;
    policy.on_reading(t);
    t += 1ms;  // its twin, sent late with it
    policy.on_reading(t);
  }
  ASSERT_TRUE(policy.period());
  EXPECT_EQ(*policy.period(), 1000ms);  // from each twin to the next reading
  EXPECT_EQ(policy.overdue_after(), *policy.period() * 3 / 2);
  EXPECT_GT(policy.overdue_after(), 1400ms);
}

TEST(PollPolicy, AStoppedUnitIsAskedAgainAtOneAndAHalfPeriods) {
  Unit unit;
  unit.stop_after = 5;
  Polling r(unit);
  r.start_link();
  r.run(5500ms);  // five readings, the fifth at 4.1 s
  ASSERT_EQ(r.readings.size(), 5u);
  EXPECT_EQ(r.requests.size(), 1u);
  EXPECT_EQ(r.policy.overdue_after(), 1500ms);
  EXPECT_EQ(r.policy.deadline(), r.readings.back() + 1500ms);
  r.run(200ms);
  ASSERT_EQ(r.requests.size(), 2u);
  EXPECT_EQ(r.requests.back(), r.readings.back() + 1500ms);  // not StreamTimeout (5 s)
}

TEST(PollPolicy, BeforeAPeriodIsMeasuredTheNominalOneCounts) {
  Unit unit;
  unit.stop_after = 1;
  Polling r(unit);
  r.start_link();
  r.run(1700ms);
  ASSERT_EQ(r.readings.size(), 1u);
  ASSERT_EQ(r.requests.size(), 2u);
  EXPECT_EQ(r.requests.back() - r.readings.front(), 1500ms);
  EXPECT_FALSE(r.policy.period());
}

TEST(PollPolicy, AUnitThatStopsAfterNReadingsIsAskedBeforeItStops) {
  for (const unsigned n : {1u, 2u, 5u, 30u}) {
    Unit unit;
    unit.stop_after = n;
    Polling r(unit);
    r.start_link();
    r.run(10min);
    EXPECT_FALSE(r.dead) << n;
    ASSERT_TRUE(r.policy.readings_per_request()) << n;
    EXPECT_EQ(*r.policy.readings_per_request(), n);
    // Until it is learnt (two stops), a stop costs 1.5 periods and the answer time; with
    // N = 1 no period is ever measured, and the second stop is waited for StreamTimeout
    // (it might have been a unit slower than the nominal period).
    EXPECT_LE(r.max_gap(r.readings.front()), n == 1 ? 5100ms : 1600ms) << n;
    // Then the readings keep the unit's own pace: a request per N readings.
    const auto learnt = r.readings.front() + 2 * n * 1s + 5s;
    EXPECT_LE(r.max_gap(learnt), 1010ms) << n;
    const auto read =
        std::count_if(r.readings.begin(), r.readings.end(), [&](auto t) { return t >= learnt; });
    EXPECT_NEAR(static_cast<double>(r.requests_after(learnt)) / static_cast<double>(read), 1.0 / n,
                0.02)
        << n;
  }
}

TEST(PollPolicy, WhatWasLearntServesTheNextLink) {
  Unit unit;
  unit.stop_after = 5;
  Polling r(unit);
  r.start_link();
  r.run(30s);
  ASSERT_TRUE(r.policy.readings_per_request());
  // The link goes; a new one to the same unit: its first stop is not waited for.
  r.unit = unit;
  r.now += 10s;
  const auto link = r.now;
  r.start_link();
  r.run(30s);
  EXPECT_LE(r.max_gap(link), 1010ms);
  r.policy.forget();
  EXPECT_FALSE(r.policy.readings_per_request());
  EXPECT_FALSE(r.policy.period());
}

TEST(PollPolicy, OneLostFrameIsNotAUnitThatStops) {
  Unit unit;
  unit.lost = {7, 300};
  Polling r(unit);
  r.start_link();
  r.run(10min);
  // Each lost frame is overdue once and asked for once; nothing learnt from them.
  EXPECT_EQ(r.requests.size(), 3u);
  EXPECT_FALSE(r.policy.readings_per_request());
  EXPECT_FALSE(r.dead);
}

TEST(PollPolicy, AUnitSlowerThanNominalIsAskedAgainUntilItsPeriodIsKnown) {
  // Its second frame is overdue by the nominal period, once; then StreamTimeout is waited.
  for (const auto period : {1600ms, 4000ms, 4900ms}) {
    Unit unit;
    unit.period = period;
    Polling r(unit);
    r.start_link();
    r.run(10min);
    EXPECT_EQ(r.requests.size(), 2u) << period.count();
    ASSERT_TRUE(r.policy.period());
    EXPECT_EQ(*r.policy.period(), Clock::duration(period));
    EXPECT_FALSE(r.policy.readings_per_request());
    // StreamTimeout (5 s) bounds the wait: 1.5 x 4 s would be 6 s.
    EXPECT_EQ(r.policy.overdue_after(), std::min<Clock::duration>(period * 3 / 2, 5s));
  }
}

TEST(PollPolicy, AUnitThatNeverAnswersIsDeadAfterTheBoundItHadBefore) {
  Unit unit;
  unit.deaf = true;
  Polling r(unit);
  const auto start = r.now;
  r.start_link();
  r.run(1min);
  // Asked at 0, 5 and 10 s; dead at 15 s (3 x StreamTimeout), as before.
  ASSERT_TRUE(r.dead);
  EXPECT_EQ(*r.dead - start, 15s);
  ASSERT_EQ(r.requests.size(), 3u);
  EXPECT_EQ(r.requests[1] - start, 5s);
  EXPECT_EQ(r.requests[2] - start, 10s);
  EXPECT_EQ(r.policy.silent_requests(), 3u);
}

TEST(PollPolicy, AUnitThatFallsSilentIsAskedSoonThenEveryStreamTimeoutThenDead) {
  Unit unit;
  Polling r(unit);
  r.start_link();
  r.run(10s);
  const auto last = r.readings.back();
  r.unit.deaf = true;
  r.run(1min);
  ASSERT_TRUE(r.dead);
  ASSERT_EQ(r.requests.size(), 4u);
  EXPECT_EQ(r.requests[1] - last, 1500ms);
  EXPECT_EQ(r.requests[2] - r.requests[1], 5s);
  EXPECT_EQ(r.requests[3] - r.requests[2], 5s);
  EXPECT_EQ(*r.dead - r.requests[1], 15s);  // the bound, from the first unanswered request
}

TEST(PollPolicy, FramesOfADownloadAreNotSilence) {
  Unit unit;
  Polling r(unit);
  r.start_link();
  r.run(5s);
  // The unit answers a history request for 8 s and sends no reading meanwhile.
  r.unit.next.reset();
  for (int i = 0; i < 80; ++i) {
    r.now += 100ms;
    r.policy.on_busy(r.now);
    EXPECT_EQ(r.policy.due(r.now), Action::kWait);
  }
  EXPECT_EQ(r.requests.size(), 1u);
  // After it, silence is overdue as usual.
  EXPECT_EQ(r.policy.deadline(), r.now + 1500ms);
}

TEST(PollPolicy, WhileTheUnitAnswersSomethingElseOnlyStreamTimeoutCounts) {
  Unit unit;
  unit.stop_after = 5;
  Polling r(unit);
  r.start_link();
  r.run(30s);
  ASSERT_TRUE(r.policy.readings_per_request());
  const auto learnt = r.policy.counts();
  // A history download starts: its frames, then a pause of 4 s (its own end, by silence).
  r.policy.set_answering(true);
  r.unit.next.reset();
  for (int i = 0; i < 10; ++i) {
    r.now += 100ms;
    r.policy.on_busy(r.now);
  }
  const auto last = r.now;
  EXPECT_EQ(r.policy.deadline(), last + 5s);  // not 1.5 periods, nor before the unit stops
  r.now += 4s;
  EXPECT_EQ(r.policy.due(r.now), Action::kWait);
  // Over: the live stream is overdue again by its period.
  r.policy.set_answering(false);
  EXPECT_EQ(r.policy.due(r.now), Action::kRequest);
  r.policy.on_request(r.now);
  EXPECT_EQ(r.policy.counts().overdue, learnt.overdue + 1);
  EXPECT_EQ(*r.policy.readings_per_request(), 5u);
}

TEST(PollPolicy, NothingIsDueBeforeTheLinkStreams) {
  PollPolicy p;
  const Clock::time_point t{std::chrono::hours(5)};
  EXPECT_EQ(p.deadline(), Clock::time_point::max());
  EXPECT_EQ(p.due(t), Action::kWait);
  p.on_reading(t);  // ignored: no link
  EXPECT_FALSE(p.period());
}

}  // namespace
}  // namespace bm6
