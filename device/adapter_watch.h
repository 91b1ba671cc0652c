// Whether an adapter (a Bluetooth controller) looks stuck, and when it may be reset: a
// policy with the clock passed in, like LinkLog, so it is tested without waiting.
//
// Readers of these monitors see controllers that work for hours and then fail every
// connect (BlueZ's "Timeout waiting for connect response", status 133) until they are
// power-cycled. The sign here: since the last link that came up on the adapter, every
// connect has failed with the device not answering, at least `min_failures` times over at
// least `stuck_after`, while its monitors are still heard (advertisements) or read fine
// before. Monitors that are merely away look the same to one device; the adapter is
// suspected when they were heard recently or had read on this adapter before.
//
// Said once per stuck spell (kStuck, with what was seen). With `reset` allowed the answer
// asks for a reset (kReset) at most once per backoff (doubling from `first_backoff` to
// `max_backoff`) and `max_per_hour` times in any hour; a reset gives the adapter a new
// `stuck_after` window. A link coming up ends the spell (kRecovered) and the backoff.
//
// Not thread-safe: one caller at a time (the engine's loop thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace bm6 {

class AdapterWatch {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    bool reset = false;  // ResetAdapter: power-cycle the controller when it looks stuck
    Clock::duration stuck_after = std::chrono::minutes(5);
    unsigned min_failures = 3;
    Clock::duration first_backoff = std::chrono::minutes(5);
    Clock::duration max_backoff = std::chrono::hours(1);
    unsigned max_per_hour = 3;
  };

  struct Note {
    enum class Kind {
      kStuck,        // every connect failed for `over`: said once per spell
      kReset,        // do reset now (the `resets`-th of the spell)
      kResetCapped,  // a reset is due but `max_per_hour` were done in the last hour (once)
      kResetDone,    // the reset finished; `detail` says how if it failed
      kRecovered,    // a link came up again after kStuck; `resets` done in the spell
    };
    Kind kind = Kind::kStuck;
    std::uint64_t failures = 0;            // failed connects since the last link came up
    Clock::duration over{};                // since the first of them
    std::vector<std::string> failing;      // devices whose connects failed in that time
    std::vector<std::string> heard;        // devices heard within `stuck_after`
    std::vector<std::string> read_before;  // devices that had read on this adapter
    unsigned resets = 0;
    bool ok = true;      // kResetDone
    std::string detail;  // kResetDone: why it failed
  };

  AdapterWatch() = default;
  explicit AdapterWatch(Options options) : options_(options) {}

  // A connect by `device` failed with the device not answering.
  std::vector<Note> on_connect_failed(Clock::time_point now, const std::string& device);
  // A link by `device` came up (`reading`: readings flow on it).
  std::vector<Note> on_link_up(Clock::time_point now, const std::string& device, bool reading);
  // An advertisement of `device` was heard on this adapter.
  void on_heard(Clock::time_point now, const std::string& device);
  // The reset asked for by kReset finished (`ok`), or failed with `detail`.
  std::vector<Note> on_reset_done(Clock::time_point now, bool ok, const std::string& detail);

  bool stuck() const { return stuck_said_; }
  bool resetting() const { return resetting_; }
  const Options& options() const { return options_; }

 private:
  Note seen(Clock::time_point now, Note::Kind kind) const;
  bool looks_stuck(Clock::time_point now) const;
  void maybe_reset(Clock::time_point now, std::vector<Note>& notes);

  Options options_;
  std::uint64_t failures_ = 0;
  Clock::time_point first_failure_{};
  std::set<std::string> failing_;
  std::map<std::string, Clock::time_point> heard_;
  std::set<std::string> read_before_;
  bool stuck_said_ = false;
  bool capped_said_ = false;
  bool resetting_ = false;
  unsigned spell_resets_ = 0;
  std::deque<Clock::time_point> resets_;  // within the last hour
  Clock::time_point next_reset_{};
  Clock::duration backoff_{};
};

}  // namespace bm6
