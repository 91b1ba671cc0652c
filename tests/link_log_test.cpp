// LinkLog with a fake clock: what a device's link going and coming back puts in the log.
#include "device/link_log.h"

#include <gtest/gtest.h>
#include <cerrno>

#include <string>
#include <vector>

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using Kind = LinkLog::Note::Kind;
using Notify = LinkLog::Notify;
using Cause = FailureKind;

struct Recorder {
  LinkLog log;
  LinkLog::Clock::time_point now{std::chrono::hours(1000)};
  std::vector<LinkLog::Note> notes;

  void keep(std::vector<LinkLog::Note> n) { notes.insert(notes.end(), n.begin(), n.end()); }
  void down(FailureKind cause = FailureKind::kOther) { keep(log.on_down(now, cause)); }
  void up() { keep(log.on_up(now)); }
  void tick() { keep(log.tick(now)); }
  void advance(LinkLog::Clock::duration d) { now += d; }
  // collectd reads every 10 s, which ticks the log.
  void wait(LinkLog::Clock::duration d) {
    for (auto end = now + d; now < end;) {
      advance(std::min<LinkLog::Clock::duration>(10s, end - now));
      tick();
    }
  }
  int lines() const { return static_cast<int>(notes.size()); }
  int notifications(Notify which) const {
    int n = 0;
    for (const auto& note : notes) n += note.notify == which;
    return n;
  }
  int notifications() const {
    return notifications(Notify::kFailure) + notifications(Notify::kOkay);
  }
  std::vector<Kind> kinds() const {
    std::vector<Kind> k;
    for (const auto& note : notes) k.push_back(note.kind);
    return k;
  }
};

// Connected, then up 1 s and down 1 s, `seconds` long, with a read tick every 10 s.
void flap(Recorder& r, int seconds) {
  for (int t = 0; t < seconds; t += 2) {
    r.up();
    r.advance(1s);
    r.down();
    r.advance(1s);
    if (t % 10 == 8) r.tick();
  }
}

TEST(LinkLog, FirstConnectIsSaidWithoutNotification) {
  Recorder r;
  r.up();
  ASSERT_EQ(r.kinds(), std::vector<Kind>{Kind::kConnected});
  EXPECT_EQ(r.notifications(), 0);
}

TEST(LinkLog, SteadyFailureIsOneLineAndOneFailure) {
  Recorder r;
  for (int i = 0; i < 500; ++i) {
    r.down();
    r.wait(7s);
  }
  ASSERT_EQ(r.kinds(), std::vector<Kind>{Kind::kDown});
  EXPECT_EQ(r.notes[0].notify, Notify::kFailure);
  EXPECT_EQ(r.notes[0].losses, 0u);  // never up: unreachable, not lost
}

TEST(LinkLog, LossAndReturnAreSaidOnceEachWay) {
  Recorder r;
  r.up();
  r.wait(1h);
  r.down();
  r.wait(30s);
  r.down();  // a failed reconnect
  r.wait(30s);
  r.up();
  r.wait(1h);
  ASSERT_EQ(r.kinds(), (std::vector<Kind>{Kind::kConnected, Kind::kDown, Kind::kBack}));
  EXPECT_EQ(r.notes[1].notify, Notify::kFailure);
  EXPECT_EQ(r.notes[1].losses, 1u);
  EXPECT_EQ(r.notes[2].notify, Notify::kOkay);
}

TEST(LinkLog, TwoSecondFlapFor65SecondsIsAtMostThreeLinesAndTwoNotifications) {
  Recorder r;
  flap(r, 65);
  EXPECT_LE(r.lines(), 3);
  EXPECT_LE(r.notifications(), 2);
  // Today's plugin says a line per loss and per return: 65 lines and 64 notifications.
  ASSERT_EQ(r.kinds(), (std::vector<Kind>{Kind::kConnected, Kind::kDown, Kind::kBack}));
  EXPECT_EQ(r.notes[1].notify, Notify::kFailure);
  EXPECT_EQ(r.notes[2].notify, Notify::kOkay);
  EXPECT_TRUE(r.log.flapping());
  // Then the first summary, two minutes into the flapping, with no notification. It
  // counts the losses since the said one, the said one included.
  flap(r, 65);
  ASSERT_EQ(r.lines(), 4);
  const auto& summary = r.notes[3];
  EXPECT_EQ(summary.kind, Kind::kFlapping);
  EXPECT_EQ(summary.notify, Notify::kNone);
  EXPECT_GE(summary.losses, 60u);
  EXPECT_LE(summary.losses, 63u);
  EXPECT_GE(summary.over, 2min);
  EXPECT_LE(summary.over, 2min + 5s);
  EXPECT_EQ(summary.next_summary, 4min);
  EXPECT_EQ(r.notifications(), 2);
}

TEST(LinkLog, SummariesComeAtDoublingIntervalsUpToTheCap) {
  Recorder r;
  const auto start = r.now;
  std::vector<double> at;  // minutes since the start
  for (int t = 0; t < 5 * 3600; t += 2) {
    const auto before = r.notes.size();
    r.up();
    r.advance(1s);
    r.down();
    r.advance(1s);
    if (t % 10 == 8) r.tick();
    for (auto i = before; i < r.notes.size(); ++i)
      if (r.notes[i].kind == Kind::kFlapping)
        at.push_back(std::chrono::duration<double>(r.now - start).count() / 60);
  }
  // 2, +4, +8, +16, +32, then +60 each.
  ASSERT_GE(at.size(), 7u);
  const double gaps[] = {4, 8, 16, 32, 60, 60};
  for (std::size_t i = 1; i < 7; ++i) EXPECT_NEAR(at[i] - at[i - 1], gaps[i - 1], 0.1) << i;
  EXPECT_NEAR(at[0], 2, 0.1);
  EXPECT_LE(r.notifications(), 2);
}

TEST(LinkLog, UpForTheFlapWindowIsHealthyAndTheNextLossIsSaidAfresh) {
  Recorder r;
  flap(r, 200);
  r.up();
  r.wait(10min);
  const auto stable = r.notes.back();
  EXPECT_EQ(stable.kind, Kind::kStable);
  EXPECT_GE(stable.losses, 100u);
  EXPECT_FALSE(r.log.flapping());
  const auto before = r.notes.size();
  r.down();
  ASSERT_EQ(r.notes.size(), before + 1);
  EXPECT_EQ(r.notes.back().kind, Kind::kDown);
  EXPECT_EQ(r.notes.back().notify, Notify::kFailure);
  r.advance(5s);
  r.up();
  EXPECT_EQ(r.notes.back().kind, Kind::kBack);
  EXPECT_EQ(r.notes.back().notify, Notify::kOkay);
}

TEST(LinkLog, WithoutTicksTheNextEventEndsTheFlapping) {
  Recorder r;
  flap(r, 30);
  r.up();
  r.advance(11min);
  r.down();
  ASSERT_GE(r.notes.size(), 2u);
  EXPECT_EQ(r.notes[r.notes.size() - 2].kind, Kind::kStable);
  EXPECT_EQ(r.notes.back().kind, Kind::kDown);
}

TEST(LinkLog, DownForTheFlapWindowAfterFlappingIsAFailureAgain) {
  Recorder r;
  flap(r, 100);
  const int failures = r.notifications(Notify::kFailure);
  r.down();
  r.wait(11min);
  EXPECT_EQ(r.notes.back().kind, Kind::kStillDown);
  EXPECT_EQ(r.notes.back().notify, Notify::kFailure);
  EXPECT_EQ(r.notifications(Notify::kFailure), failures + 1);
  EXPECT_FALSE(r.log.flapping());
  // A steady failure from here: nothing more until it is back.
  const auto before = r.notes.size();
  for (int i = 0; i < 100; ++i) {
    r.down();
    r.wait(1min);
  }
  EXPECT_EQ(r.notes.size(), before);
  r.up();
  EXPECT_EQ(r.notes.back().kind, Kind::kBack);
  EXPECT_EQ(r.notes.back().notify, Notify::kOkay);
}

TEST(LinkLog, FlappingWithLongQuietStretchesSaysNothingNew) {
  Recorder r;
  flap(r, 10);
  const auto before = r.notes.size();
  // Up 9 min, lost and back at once, again and again: flapping, one loss per 9 min.
  for (int i = 0; i < 6; ++i) {
    r.wait(9min);
    r.down();
    r.advance(2s);
    r.up();
  }
  int summaries = 0;
  for (auto i = before; i < r.notes.size(); ++i) {
    EXPECT_EQ(r.notes[i].kind, Kind::kFlapping);
    EXPECT_GT(r.notes[i].losses, 0u);  // no summary of nothing
    ++summaries;
  }
  EXPECT_LE(summaries, 5);
  EXPECT_TRUE(r.log.flapping());
}

// Unreachable, then busy: the phone app took the monitor while the plugin waited for it.
// The change is said once, without another notification; the same reason again is not.
TEST(LinkLog, AChangedReasonIsSaidOnceMore) {
  Recorder r;
  for (int i = 0; i < 50; ++i) {
    r.down(Cause::kUnreachable);
    r.wait(7s);
  }
  for (int i = 0; i < 50; ++i) {
    r.down(Cause::kBusy);
    r.wait(7s);
  }
  ASSERT_EQ(r.kinds(), (std::vector<Kind>{Kind::kDown, Kind::kCauseChanged}));
  EXPECT_EQ(r.notes[0].notify, Notify::kFailure);
  EXPECT_EQ(r.notes[1].notify, Notify::kNone);
  EXPECT_FALSE(r.notes[1].up);
  // Back to unreachable, and busy again, and again: each kind was said in this spell.
  for (int i = 0; i < 20; ++i) {
    r.down(i % 2 ? Cause::kBusy : Cause::kUnreachable);
    r.wait(7s);
  }
  EXPECT_EQ(r.lines(), 2);
  // A third kind is news.
  r.down(Cause::kPermission);
  EXPECT_EQ(r.kinds().back(), Kind::kCauseChanged);
  EXPECT_EQ(r.lines(), 3);
  EXPECT_EQ(r.notifications(), 1);
  // Back, then down for the first reason again: a new spell, said as usual.
  r.up();
  r.wait(20min);
  r.down(Cause::kUnreachable);
  EXPECT_EQ(r.kinds().back(), Kind::kDown);
  r.down(Cause::kBusy);
  EXPECT_EQ(r.kinds().back(), Kind::kCauseChanged);
}

// After a lost link, reconnects that find the device away are what "lost" said already;
// one that finds it busy is news.
TEST(LinkLog, AwayAfterALossIsNoNewsButBusyIs) {
  Recorder r;
  r.up();
  r.wait(1h);
  r.down(Cause::kLinkLost);
  for (int i = 0; i < 30; ++i) {
    r.wait(5s);
    r.down(Cause::kUnreachable);
  }
  ASSERT_EQ(r.kinds(), (std::vector<Kind>{Kind::kConnected, Kind::kDown}));
  r.down(Cause::kBusy);
  ASSERT_EQ(r.kinds(), (std::vector<Kind>{Kind::kConnected, Kind::kDown, Kind::kCauseChanged}));
  r.up();
  ASSERT_EQ(r.kinds().back(), Kind::kBack);
  EXPECT_EQ(r.notifications(), 2);
}

// While flapping the summaries say what keeps it down: no line per change of reason.
TEST(LinkLog, NoChangedReasonWhileFlapping) {
  Recorder r;
  flap(r, 20);
  ASSERT_TRUE(r.log.flapping());
  const auto before = r.notes.size();
  r.down(Cause::kLinkLost);
  r.advance(1s);
  r.down(Cause::kBusy);
  r.advance(1s);
  r.down(Cause::kTimeout);
  EXPECT_EQ(r.notes.size(), before);
  // Down for the flap window: said as down, with the latest reason; a change after that is
  // news again.
  r.wait(11min);
  EXPECT_EQ(r.kinds().back(), Kind::kStillDown);
  r.down(Cause::kTimeout);
  EXPECT_EQ(r.kinds().back(), Kind::kStillDown);
  r.down(Cause::kUnreachable);
  EXPECT_EQ(r.kinds().back(), Kind::kCauseChanged);
}

TEST(FailureKind, KindsOfTheTransportsFailures) {
  const struct {
    LinkErrorKind link;
    Cause kind;
  } cases[] = {
      {LinkErrorKind::kRefused, Cause::kUnreachable},
      {LinkErrorKind::kUnreachable, Cause::kUnreachable},
      {LinkErrorKind::kBusy, Cause::kBusy},
      {LinkErrorKind::kPermission, Cause::kPermission},
      {LinkErrorKind::kAdapter, Cause::kAdapter},
      {LinkErrorKind::kTimedOut, Cause::kTimeout},
      {LinkErrorKind::kClosedByPeer, Cause::kClosed},
      {LinkErrorKind::kLinkLost, Cause::kClosed},
      {LinkErrorKind::kProtocol, Cause::kProtocol},
      {LinkErrorKind::kAttError, Cause::kOther},
      {LinkErrorKind::kWrongAddress, Cause::kOther},
      {LinkErrorKind::kResource, Cause::kOther},
      {LinkErrorKind::kOther, Cause::kOther},
      {LinkErrorKind::kNone, Cause::kNone},
  };
  for (const auto& c : cases) {
    const LinkError e = link_error(c.link, "what happened", EIO);
    EXPECT_EQ(failure_kind(e), c.kind) << to_string(c.link);
    const DeviceFailure f = connect_failed(e);
    EXPECT_EQ(f.kind, c.kind) << to_string(c.link);
    EXPECT_EQ(f.cause.kind, c.link);
    EXPECT_EQ(f.cause.os_errno, EIO);
    EXPECT_EQ(f.detail, "what happened") << "the transport's detail is kept";
  }
}

// A link the monitor closed before answering anything is busy, decided from the kind, the
// errno and the PDUs received; the socket's detail stays in the detail.
TEST(FailureKind, ALinkClosedAtOnceIsBusy) {
  const LinkError at_once[] = {
      link_error(LinkErrorKind::kClosedByPeer, "link closed by peer"),
      link_error(LinkErrorKind::kLinkLost, "send failed: Broken pipe", EPIPE),
      link_error(LinkErrorKind::kLinkLost, "link lost: Connection reset by peer", ECONNRESET),
      link_error(LinkErrorKind::kLinkLost, "link lost: Software caused connection abort",
                 ECONNABORTED),
  };
  for (const LinkError& why : at_once) {
    EXPECT_TRUE(closed_at_once(why, 0)) << why.detail;
    const DeviceFailure busy = link_closed(why, 0);
    EXPECT_EQ(busy.kind, Cause::kBusy) << why.detail;
    EXPECT_EQ(busy.cause.kind, why.kind);
    EXPECT_EQ(busy.cause.os_errno, why.os_errno);
    EXPECT_NE(busy.detail.find(why.detail), std::string::npos) << "the socket's reason is kept";
    // After the monitor answered, a lost link is just that.
    EXPECT_FALSE(closed_at_once(why, 3));
    EXPECT_EQ(link_closed(why, 3).kind, Cause::kClosed);
    EXPECT_EQ(link_closed(why, 3).detail, why.detail);
  }
  const LinkError not_busy[] = {
      link_error(LinkErrorKind::kTimedOut, "ATT transaction timed out (x)", ETIMEDOUT),
      link_error(LinkErrorKind::kLinkLost, "link lost: No route to host", EHOSTUNREACH),
      link_error(LinkErrorKind::kLinkLost, "short send"),
      link_error(LinkErrorKind::kProtocol, "protocol violation: x"),
  };
  for (const LinkError& why : not_busy) {
    EXPECT_FALSE(closed_at_once(why, 0)) << why.detail;
    EXPECT_EQ(link_closed(why, 0).kind, failure_kind(why)) << why.detail;
    EXPECT_EQ(link_closed(why, 0).detail, why.detail);
  }
}

}  // namespace
}  // namespace bm6
