#include "device/link_log.h"

#include <algorithm>

namespace bm6 {

void LinkLog::count_loss() {
  ++losses_;
  ++episode_losses_;
}

void LinkLog::settle(Clock::time_point now, std::vector<Note>& notes) {
  if (!flapping_) {
    // Up for the window after a said loss: the next loss is news again.
    if (state_ == State::kUp && now - since_ >= options_.flap_window) healthy_ = true;
    return;
  }
  const auto over = now - episode_since_;
  if (state_ == State::kUp && now - since_ >= options_.flap_window) {
    flapping_ = false;
    healthy_ = true;
    notes.push_back({Note::Kind::kStable, Notify::kNone, episode_losses_, over, true, {}});
    if (failure_notified_) {  // not reached today: a FAILURE is always followed by kBack
      failure_notified_ = false;
      notes.back().notify = Notify::kOkay;
    }
    return;
  }
  if (state_ == State::kDown && now - since_ >= options_.flap_window) {
    flapping_ = false;  // a steady failure now: its return is said, a loss after that flaps
    notes.push_back({Note::Kind::kStillDown, Notify::kNone, episode_losses_, over, false, {}});
    causes_said_ = 0;  // says the latest reason: a down spell of its own from here
    said_cause(cause_);
    losses_ = episode_losses_ = 0;
    losses_since_ = episode_since_ = now;
    if (!failure_notified_) {
      failure_notified_ = true;
      notes.back().notify = Notify::kFailure;
    }
    return;
  }
  if (now < summary_due_) return;
  if (losses_ == 0) {  // up all along since the last summary: nothing to say yet
    summary_due_ = now + summary_step_;
    return;
  }
  notes.push_back({Note::Kind::kFlapping,
                   Notify::kNone,
                   losses_,
                   now - losses_since_,
                   state_ == State::kUp,
                   {}});
  summary_step_ = std::min(summary_step_ * 2, options_.max_summary);
  summary_due_ = now + summary_step_;
  notes.back().next_summary = summary_step_;
  losses_ = 0;
  losses_since_ = now;
}

std::vector<LinkLog::Note> LinkLog::on_down(Clock::time_point now, FailureKind cause) {
  std::vector<Note> notes;
  cause_ = cause;
  settle(now, notes);
  if (state_ == State::kDown) {  // another failed attempt: news only for a new reason
    if (!flapping_ && causes_said_ != 0 && !cause_was_said(cause)) {
      said_cause(cause);
      notes.push_back({Note::Kind::kCauseChanged, Notify::kNone, 0, {}, false, {}});
    }
    return notes;
  }
  const bool was_up = state_ == State::kUp;
  state_ = State::kDown;
  since_ = now;
  if (healthy_) {
    healthy_ = false;
    losses_ = 0;
    losses_since_ = now;
    episode_losses_ = 0;
    episode_since_ = now;
    if (was_up) count_loss();
    notes.push_back({Note::Kind::kDown, Notify::kNone, losses_, {}, false, {}});
    causes_said_ = 0;
    said_cause(cause);
    // A lost link's reconnects finding the device away is what "lost" said already.
    if (cause == FailureKind::kLinkLost) said_cause(FailureKind::kUnreachable);
    if (!failure_notified_) {
      failure_notified_ = true;
      notes.back().notify = Notify::kFailure;
    }
    return notes;
  }
  // Lost again less than a flap window after coming back.
  count_loss();
  if (!flapping_) {
    flapping_ = true;
    summary_step_ = options_.first_summary;
    summary_due_ = now + summary_step_;
  }
  return notes;
}

std::vector<LinkLog::Note> LinkLog::on_up(Clock::time_point now) {
  std::vector<Note> notes;
  settle(now, notes);
  if (state_ == State::kUp) return notes;
  const State before = state_;
  state_ = State::kUp;
  since_ = now;
  causes_said_ = 0;
  if (before == State::kNew) {
    notes.push_back({Note::Kind::kConnected, Notify::kNone, 0, {}, true, {}});
    return notes;
  }
  if (flapping_) return notes;  // counted with its loss; the summary says the rest
  notes.push_back({Note::Kind::kBack, Notify::kNone, 0, {}, true, {}});
  if (failure_notified_) {
    failure_notified_ = false;
    notes.back().notify = Notify::kOkay;
  }
  return notes;
}

std::vector<LinkLog::Note> LinkLog::tick(Clock::time_point now) {
  std::vector<Note> notes;
  settle(now, notes);
  return notes;
}

}  // namespace bm6
