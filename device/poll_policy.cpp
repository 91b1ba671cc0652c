#include "device/poll_policy.h"

#include <algorithm>

namespace bm6 {

namespace {
constexpr auto kShortestConnectionInterval = std::chrono::microseconds(7500);  // Core spec
// A running mean that follows the unit within a few samples and shrugs off one odd one.
PollPolicy::Clock::duration follow(const std::optional<PollPolicy::Clock::duration>& mean,
                                   PollPolicy::Clock::duration sample) {
  return mean ? *mean + (sample - *mean) / 4 : sample;
}
}  // namespace

void PollPolicy::start_link(Clock::time_point now) {
  started_ = true;
  last_request_ = now;
  last_activity_ = now;
  last_reading_.reset();
  asked_stopped_ = now;
  readings_since_request_ = 0;
  unanswered_ = 1;
  answering_ = false;
}

PollPolicy::Clock::duration PollPolicy::assumed_period() const {
  if (learnt_.period) return *learnt_.period;
  return learnt_.slow ? options_.stream_timeout : options_.nominal_period;
}

PollPolicy::Clock::duration PollPolicy::overdue_after() const {
  return std::min<Clock::duration>(assumed_period() * 3 / 2, options_.stream_timeout);
}

PollPolicy::Plan PollPolicy::plan() const {
  if (!started_) return {Clock::time_point::max(), Kind::kNone};
  const auto again = last_request_ + options_.stream_timeout;
  if (unanswered_ >= std::max(options_.max_silent_requests, 1u)) return {again, Kind::kDead};
  if (unanswered_ > 0) return {again, Kind::kAgain};
  if (answering_) return {last_activity_ + options_.stream_timeout, Kind::kOverdue};
  const auto overdue = last_activity_ + overdue_after();
  const auto& n = learnt_.readings_per_request;
  if (n && readings_since_request_ >= *n) {
    // Its next frame would be due a period after the N-th; the answer takes answer_time.
    const auto period = learnt_.period.value_or(options_.nominal_period);
    const auto answer = learnt_.answer_time.value_or(Clock::duration::zero());
    const auto ahead = last_activity_ + std::max(period - answer, Clock::duration::zero());
    if (ahead < overdue) return {ahead, Kind::kAhead};
  }
  return {overdue, Kind::kOverdue};
}

PollPolicy::Action PollPolicy::due(Clock::time_point now) const {
  const Plan p = plan();
  if (p.kind == Kind::kNone || now < p.at) return Action::kWait;
  return p.kind == Kind::kDead ? Action::kDead : Action::kRequest;
}

void PollPolicy::on_request(Clock::time_point now) {
  const Kind kind = plan().kind;
  if (kind == Kind::kNone) return;
  ++(kind == Kind::kAhead     ? counts_.ahead
     : kind == Kind::kOverdue ? counts_.overdue
                              : counts_.again);
  // Readings came since the last request and then stopped: the unit stopped after them.
  // (Not while it answers something else: its pace then says nothing.)
  const bool learn = kind == Kind::kOverdue && !answering_;
  if (learn && readings_since_request_ > 0) observe_stop(readings_since_request_);
  // No period known: the unit may be slower than assumed. Wait as long as allowed next time.
  if (learn && !learnt_.period) learnt_.slow = true;
  if (kind == Kind::kAhead) {
    asked_stopped_.reset();  // the unit may still be streaming: its next frame is no answer
  } else {
    ++unanswered_;
    asked_stopped_ = now;
  }
  last_request_ = now;
  last_reading_.reset();
  readings_since_request_ = 0;
}

void PollPolicy::observe_stop(unsigned readings) {
  const auto& seen = learnt_.stop_seen;
  if (seen && readings + 1 >= *seen && readings <= *seen + 1)
    learnt_.readings_per_request = std::min(readings, *seen);
  learnt_.stop_seen = readings;
}

void PollPolicy::on_reading(Clock::time_point now) {
  if (!started_) return;
  // Readings closer together than a connection interval can be (7.5 ms) came in one
  // connection event: queued at the unit (a missed event, a busy radio), not its pace.
  if (last_reading_ && now - *last_reading_ >= kShortestConnectionInterval)
    learnt_.period = follow(learnt_.period, now - *last_reading_);
  if (asked_stopped_) learnt_.answer_time = follow(learnt_.answer_time, now - *asked_stopped_);
  asked_stopped_.reset();
  last_reading_ = now;
  last_activity_ = now;
  ++readings_since_request_;
  unanswered_ = 0;
}

void PollPolicy::on_busy(Clock::time_point now) {
  if (!started_) return;
  last_activity_ = now;
  // The pace of readings around a download says nothing, nor does their count.
  last_reading_.reset();
  readings_since_request_ = 0;
  asked_stopped_.reset();
  unanswered_ = 0;
}

}  // namespace bm6
