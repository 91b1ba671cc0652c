// What to say about a device's link as it goes and comes back: a policy with the clock
// passed in, so it is tested without waiting.
//
// The first loss (or failed first connect) of a healthy device is said, and notified as a
// FAILURE; the return is said, and notified as OKAY, once. A steady failure says nothing
// more. A device lost again within `flap_window` of coming back is flapping: no line per
// loss or return, but a summary line at most once per interval, the interval doubling from
// `first_summary` up to `max_summary`; no notification for those, as the state last
// notified (OKAY after the first return) still holds for a monitor's purposes. The
// flapping ends when the state holds for `flap_window`: up that long, the device is healthy
// again (said once) and its next loss is said afresh; down that long, it is down (said and
// notified as a FAILURE), and its return is said and notified again.
//
// A device that stays down for another reason than the one said (unreachable, then busy:
// the phone app took it) is said once more, without a notification: once per kind of
// reason in a down spell, so one that alternates between two reasons says each once. Kinds
// are compared, not messages. The attempts that fail after a link was lost are expected to
// find the device unreachable: that is not news. Not while flapping: the summaries say
// what keeps it down.
//
// Not thread-safe: one caller at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "device/link_errors.h"

namespace bm6 {

class LinkLog {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    Clock::duration flap_window = std::chrono::minutes(10);
    // Two minutes: a device that flaps from the start says at most three lines (connected,
    // lost, back) in its first two minutes, then one line per 2, 4, 8, ... minutes.
    Clock::duration first_summary = std::chrono::minutes(2);
    Clock::duration max_summary = std::chrono::hours(1);
  };

  enum class Notify { kNone, kFailure, kOkay };

  struct Note {
    enum class Kind {
      kConnected,     // first readings ever, nothing went wrong before
      kDown,          // the first loss or failure of a healthy device
      kBack,          // readings flow again after kDown or kStillDown
      kFlapping,      // summary: `losses` links lost in the last `over`; `up` now or not
      kStable,        // flapping ended, up for the flap window: `losses` in `over` before
      kStillDown,     // flapping ended, down for the flap window: `losses` in `over` before
      kCauseChanged,  // still down, for a reason of a kind not said in this down spell
    };
    Kind kind;
    Notify notify = Notify::kNone;
    std::uint64_t losses = 0;
    Clock::duration over{};
    bool up = false;                 // the link's state when said
    Clock::duration next_summary{};  // kFlapping: the earliest next summary, from now
  };

  LinkLog() = default;
  explicit LinkLog(Options options) : options_(options) {}

  // The link went down or an attempt failed, for a reason of kind `cause`.
  std::vector<Note> on_down(Clock::time_point now, FailureKind cause = FailureKind::kOther);
  // Readings flow on a new link.
  std::vector<Note> on_up(Clock::time_point now);
  // Time passed with no event: ends a flapping that has settled, says a summary that is due.
  std::vector<Note> tick(Clock::time_point now);

  bool flapping() const { return flapping_; }

 private:
  enum class State { kNew, kUp, kDown };
  void settle(Clock::time_point now, std::vector<Note>& notes);
  void count_loss();

  Options options_;
  State state_ = State::kNew;
  Clock::time_point since_{};  // of the current state
  bool healthy_ = true;        // a loss now would be said: nothing lost, or up for the window
  bool flapping_ = false;
  bool failure_notified_ = false;  // a FAILURE went out and no OKAY since
  // Flapping: losses since the last summary (or since the said loss) and since when; the
  // whole episode's; when the next summary is due and the interval after it.
  std::uint64_t losses_ = 0;
  Clock::time_point losses_since_{};
  std::uint64_t episode_losses_ = 0;
  Clock::time_point episode_since_{};
  Clock::time_point summary_due_{};
  Clock::duration summary_step_{};
  // The kinds of reason said in this down spell (bit per FailureKind), and the latest one.
  std::uint32_t causes_said_ = 0;
  FailureKind cause_ = FailureKind::kOther;
  void said_cause(FailureKind kind) { causes_said_ |= 1u << static_cast<unsigned>(kind); }
  bool cause_was_said(FailureKind kind) const {
    return (causes_said_ >> static_cast<unsigned>(kind)) & 1u;
  }
};

}  // namespace bm6
