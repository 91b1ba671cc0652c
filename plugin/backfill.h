// Backfill in the plugin: per device, the last reading or record dispatched, kept in its
// state file under StateDir across restarts, and the order in which stored records and
// the live reading go out (times only go up, as rrdtool wants them).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "device/bm6_device.h"
#include "plugin/bm6_config.h"
#include "plugin/bm6_state.h"
#include "plugin/collectd_api.h"

namespace bm6::plugin {

// One device's. Read callbacks of one device run one at a time, and shutdown after them;
// the mutex makes that not matter.
struct BackfillState {
  std::shared_ptr<const StateDir> dir;  // null: StateDir refused, nothing kept
  std::chrono::milliseconds record_period{0};
  std::mutex mutex;
  // The last reading or record dispatched, or the state file's time if later: no record
  // at or before it goes out (it may have, before a crash).
  std::optional<SysTime> last;
  std::optional<SysTime> saved;                      // what the file holds
  std::optional<SysTime> newest_record;              // dispatched by this process
  std::chrono::steady_clock::time_point retry_at{};  // after a failed save
  bool save_failed = false;                          // said once
};
using BackfillStates = std::map<std::string, std::shared_ptr<BackfillState>>;

// StateDir, opened and checked once per start when a device keeps a file there (backfill's
// state, passive mode's registration record), or when it is there already (a record a
// killed run left); null, said once if needed, when it cannot be used.
std::shared_ptr<const StateDir> open_state_dir(const PluginConfig& config);

// Each Backfill device's state: the last reading dispatched before collectd stopped. A
// missing or corrupt file is "no gap known", said once; it never stops the plugin.
BackfillStates load_backfill_states(const PluginConfig& config,
                                    const std::shared_ptr<const StateDir>& dir);

// Tells the I/O thread where the device's gap starts: after `at`.
void tell_gap_start(ReadingSlot& slot, SysTime at);

// One read of a Backfill device: the slot's stored records first, oldest first, then the
// live reading `take_live` gives (called after the records are taken). Records are written
// at once (plugin_write); the state file is written before anything goes out.
// The device's corrections apply to records and live readings alike.
void dispatch_backfilled(const std::string& device, const Corrections& corrections,
                         ReadingSlot& slot, BackfillState& st,
                         const std::function<std::optional<TimedReading>()>& take_live,
                         cdtime_t interval);

// At shutdown: each state file says exactly the last reading dispatched, so that nothing
// of the gap is lost.
void save_backfill_states(const BackfillStates& states);

}  // namespace bm6::plugin
