// Per device, the time of the last reading the plugin dispatched, kept across collectd
// restarts in a small file, so that a gap while collectd was down can be backfilled.
// Written atomically (a temporary file, fsync, rename); read strictly: anything but what
// save_state() writes is corrupt, and means "no gap known".
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace bm6::plugin {

using SysTime = std::chrono::system_clock::time_point;

struct LoadedState {
  std::optional<SysTime> last_dispatched;
  bool missing = false;  // no file: a first start
  std::string problem;   // a file that is not a state file: why (then last_dispatched unset)
};

// "DIR/NAME.state".
std::string state_path(const std::string& dir, const std::string& device);
LoadedState load_state(const std::string& path, SysTime now);
// false with `error` set if the file could not be written (the old one, if any, stays).
bool save_state(const std::string& path, SysTime last_dispatched, std::string& error);
// Creates `dir` (its parent must exist) unless it is there; false with `error` otherwise.
bool ensure_state_dir(const std::string& dir, std::string& error);

}  // namespace bm6::plugin
