#include "plugin/backfill.h"

#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "device/history_download.h"
#include "plugin/bm6_values.h"

namespace bm6::plugin {
namespace {

// The file is written ahead of what goes out, by this much or a record period if shorter:
// a write a minute at most (a Pi's SD card wears), and a crash loses at most that much of
// the records (never writes one twice).
constexpr std::chrono::minutes kSaveAhead{1};

void write_state(const std::string& name, BackfillState& st, SysTime t) {
  std::string error;
  if (save_state(*st.dir, name, t, error)) {
    st.saved = t;
    st.save_failed = false;
    return;
  }
  if (!st.save_failed)
    plugin_log(LOG_WARNING,
               "bm6 plugin: device \"%s\": backfill state not saved (%s): a gap while collectd "
               "is down will not be filled, and after a crash records may be written twice",
               name.c_str(), error.c_str());
  st.save_failed = true;
  st.retry_at = std::chrono::steady_clock::now() + kSaveAhead;
}

// Before anything up to `newest` goes out: the file says a time at or after it, so that
// after a crash no record that went out is written again.
void save_ahead(const std::string& name, BackfillState& st, SysTime newest) {
  if (!st.dir || (st.saved && newest <= *st.saved)) return;
  if (st.save_failed && std::chrono::steady_clock::now() < st.retry_at) return;
  write_state(name, st, newest + std::min<std::chrono::milliseconds>(st.record_period, kSaveAhead));
}

// At shutdown: exactly the last reading dispatched, so that nothing of the gap is lost.
void save_last(const std::string& name, BackfillState& st) {
  if (st.dir && st.last && st.last != st.saved) write_state(name, st, *st.last);
}

void note_dispatched(ReadingSlot& slot, BackfillState& st, SysTime at) {
  if (st.last && at <= *st.last) return;  // the state file's time, ahead of a live reading
  st.last = at;
  tell_gap_start(slot, at);
}

int write_now(const value_list_t* vl) { return plugin_write(nullptr, nullptr, vl); }

// A stored record as the values a live reading carries (as_reading), at its estimated
// time. Written to every writer at once, in order, from this thread (plugin_write), not
// through collectd's write queue: its several write threads may take a burst of one
// series' values out of order, and the value cache then refuses the older ones ("Value too
// old") while writers get them out of order. Records so bypass the cache and filter
// chains, as the "write" target does.
// Records skip the filter chains, so a target_scale calibration never reaches them; the
// plugin's own corrections do, as they do the live readings.
void write_record(const std::string& device, const Corrections& corrections,
                  const TimedHistoryRecord& r, cdtime_t interval) {
  deliver_gauges(device, hostname_g != nullptr ? hostname_g : "", as_reading(r), interval,
                 write_now, corrections);
}

// StateDir as configured, or "bm6" under collectd's BaseDir.
std::string state_dir_path(const PluginConfig& config) {
  if (!config.state_dir.empty()) return config.state_dir;
  const char* base = global_option_get("BaseDir");
  return std::string(base != nullptr && *base != '\0' ? base : ".") + "/bm6";
}

}  // namespace

std::shared_ptr<const StateDir> open_state_dir(const PluginConfig& config) {
  const auto any = [&](bool DeviceOptions::*flag) {
    return std::any_of(config.devices.begin(), config.devices.end(),
                       [flag](const DeviceConfig& d) { return d.options.*flag; });
  };
  const bool backfill = any(&DeviceOptions::backfill);
  const bool needed = backfill || any(&DeviceOptions::passive);
  const std::string path = state_dir_path(config);
  struct stat st {};
  if (!needed && ::lstat(path.c_str(), &st) != 0) return nullptr;
  std::string error;
  std::shared_ptr<const StateDir> dir = StateDir::open(path, error);
  if (!dir && needed)
    plugin_log(LOG_ERR, "bm6 plugin: StateDir %s: not used; %s", error.c_str(),
               backfill ? "backfill fills only gaps while collectd runs"
                        : "passive mode cannot record the addresses it registers with the "
                          "kernel; if collectd is killed they stay registered");
  return dir;
}

BackfillStates load_backfill_states(const PluginConfig& config,
                                    const std::shared_ptr<const StateDir>& dir) {
  BackfillStates out;
  const auto now = std::chrono::system_clock::now();
  for (const auto& d : config.devices) {
    if (!d.options.backfill) continue;
    auto st = std::make_shared<BackfillState>();
    st->dir = dir;
    st->record_period = d.options.record_period;
    out.emplace(d.options.name, st);
    if (!dir) continue;
    const char* name = d.options.name.c_str();
    const std::string path = dir->file_path(state_file(d.options.name));
    const LoadedState loaded = load_state(*dir, d.options.name, now);
    if (loaded.last_dispatched) {
      st->last = st->saved = loaded.last_dispatched;
    } else if (!loaded.problem.empty()) {
      plugin_log(LOG_WARNING,
                 "bm6 plugin: device \"%s\": state file %s is ignored (%s): no gap known; it "
                 "is rewritten from the next reading",
                 name, path.c_str(), loaded.problem.c_str());
    } else {
      plugin_log(LOG_INFO, "bm6 plugin: device \"%s\": no state file %s yet: no gap known", name,
                 path.c_str());
    }
  }
  return out;
}

void tell_gap_start(ReadingSlot& slot, SysTime at) {
  slot.last_dispatched_ns.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count(),
      std::memory_order_relaxed);
}

// Times only go up, also in the whole seconds rrdtool files them under (records are
// stamped at whole seconds; none goes out in the second of the last value dispatched, nor
// a live reading within a second of a record).
void dispatch_backfilled(const std::string& device, const Corrections& corrections,
                         ReadingSlot& slot, BackfillState& st,
                         const std::function<std::optional<TimedReading>()>& take_live,
                         cdtime_t interval) {
  std::lock_guard lock(st.mutex);
  const auto whole = [](SysTime t) { return std::chrono::floor<std::chrono::seconds>(t); };
  std::vector<TimedHistoryRecord> records;
  std::optional<SysTime> after = st.last;
  for (auto& record : slot.take_history()) {
    // Dispatched already, or in the second rrdtool files the last value under.
    if (after && !files_after(record.at, *after)) continue;
    after = record.at;
    records.push_back(std::move(record));
  }
  auto live = take_live();
  // Never one older than, or in the same second as, a record that went out before it.
  const auto newest_record = records.empty() ? st.newest_record : records.back().at;
  if (live && newest_record && whole(live->received) <= whole(*newest_record)) live.reset();
  // (The live reading, if any, is later than every record.)
  if (live || !records.empty()) save_ahead(device, st, live ? live->received : records.back().at);
  for (const auto& record : records) {
    write_record(device, corrections, record, to_cdtime(st.record_period));
    st.newest_record = record.at;
    note_dispatched(slot, st, record.at);
  }
  if (live) {
    dispatch_reading(device, *live, interval, corrections);
    note_dispatched(slot, st, live->received);
  }
}

void save_backfill_states(const BackfillStates& states) {
  for (const auto& [name, st] : states) {
    std::lock_guard lock(st->mutex);
    save_last(name, *st);
  }
}

}  // namespace bm6::plugin
