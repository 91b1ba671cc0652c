// When a link writes the live-data request again: a policy with the clock passed in, so it is
// tested without waiting (as device/link_log.h).
//
// Owners report that some BM6s stop notifying after a while unless the request is written
// again (../shared/bm6-protocol.md, "Live-data frame"). So the request goes out again as soon
// as a reading is overdue: 1.5 of the unit's frame period after the latest one, never later
// than stream_timeout. The period is measured on the link, between two readings with no
// request written between them (a reading after a request may be its answer, not the pace);
// until then it is taken as the nominal one (a BM6 sends about one frame a second), and
// after one overdue reading so, the wait is stream_timeout until a period is measured: a unit
// slower than the nominal is asked again once, a unit that sends one reading per request
// shows that it stopped (and is not merely slow) once.
//
// A unit seen to stop after N readings twice in a row (the same N, give or take one: a stop
// once may be one lost frame) is asked again before it stops: once it has sent N readings
// since the last request, at the time its next frame is due less the time it takes to
// answer a request (measured from requests written to a unit that had stopped). A unit that
// streams on is never asked again.
//
// A request that brings no reading is written again every stream_timeout; after
// max_silent_requests of them in a row, stream_timeout after the last, the link is dead: the
// bound the link had before this policy (it then wrote every stream_timeout of silence).
//
// What it learns (period, answer time, N) belongs to the unit, not the link: one object per
// device serves its links in turn (start_link), and forget() drops it for another unit.
// Not thread-safe: one caller at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace bm6 {

class PollPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // The longest silence before the request is written again, and the wait between
    // requests that bring nothing.
    Clock::duration stream_timeout = std::chrono::seconds(5);
    // Requests in a row that bring nothing: the link is dead stream_timeout after the last.
    unsigned max_silent_requests = 3;
    // The frame period assumed until one is measured.
    Clock::duration nominal_period = std::chrono::seconds(1);
  };

  enum class Action {
    kWait,     // nothing due yet
    kRequest,  // write the request (then on_request)
    kDead,     // the requests went unanswered for the bound: close the link
  };

  PollPolicy() = default;
  explicit PollPolicy(Options options) : options_(options) {}

  // The link's stream starts with the request written at `now` (set-up, or again after a
  // rediscovery): what was said on an earlier link is forgotten, what was learnt is kept.
  void start_link(Clock::time_point now);
  // The request that due() asked for was written at `now` (or was due and not written: a
  // BM2 needs none, or an earlier write is unanswered; it counts the same).
  void on_request(Clock::time_point now);
  // A reading arrived.
  void on_reading(Clock::time_point now);
  // A frame that is no reading but shows the unit busy answering something else (a history
  // download): not silence, and not a frame period either.
  void on_busy(Clock::time_point now);
  // The unit is answering another request (a history download, whose end is a silence of its
  // own): until false, the request is written only after stream_timeout without a frame,
  // as before this policy, and nothing is learnt. start_link() ends it.
  void set_answering(bool answering) { answering_ = answering; }

  // What is due at `now`.
  Action due(Clock::time_point now) const;
  // When due() stops saying kWait; Clock::time_point::max() before start_link().
  Clock::time_point deadline() const { return plan().at; }

  // Another unit answers at the address: learn afresh.
  void forget() { learnt_ = {}; }

  // Requests in a row that brought no reading (on this link).
  unsigned silent_requests() const { return unanswered_; }
  // The unit's frame period as measured; nullopt while none was.
  std::optional<Clock::duration> period() const { return learnt_.period; }
  // N, once the unit was seen to stop after N readings twice in a row.
  std::optional<unsigned> readings_per_request() const { return learnt_.readings_per_request; }
  // How late after a request its first reading comes; nullopt while not measured.
  std::optional<Clock::duration> answer_time() const { return learnt_.answer_time; }
  // Requests asked for (on_request), by why, over every link.
  struct Counts {
    std::uint64_t ahead = 0;    // before a unit that stops after N readings stops
    std::uint64_t overdue = 0;  // a reading was overdue
    std::uint64_t again = 0;    // the previous one brought nothing
  };
  const Counts& counts() const { return counts_; }
  // How long after the latest reading the next one is overdue.
  Clock::duration overdue_after() const;

 private:
  enum class Kind { kNone, kAhead, kOverdue, kAgain, kDead };
  struct Plan {
    Clock::time_point at;
    Kind kind;
  };
  Plan plan() const;
  void observe_stop(unsigned readings);
  Clock::duration assumed_period() const;

  struct Learnt {
    std::optional<Clock::duration> period;
    std::optional<Clock::duration> answer_time;
    std::optional<unsigned> readings_per_request;
    std::optional<unsigned> stop_seen;  // the latest stop, waiting to be seen again
    bool slow = false;                  // no period measured, one overdue: wait stream_timeout
  };

  Options options_;
  Learnt learnt_;
  Counts counts_;
  // This link.
  bool started_ = false;
  Clock::time_point last_request_{};
  Clock::time_point last_activity_{};               // a reading or a busy frame
  std::optional<Clock::time_point> last_reading_;   // for a period: unset across a request
  std::optional<Clock::time_point> asked_stopped_;  // a request to a unit that had stopped
  unsigned readings_since_request_ = 0;
  unsigned unanswered_ = 0;  // requests since the latest reading, not counting one ahead
  bool answering_ = false;
};

}  // namespace bm6
