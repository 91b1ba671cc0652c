// collectd glue: config -> init (start the I/O thread, register one read per device) ->
// read (dispatch the newest reading, never wait on the network) -> shutdown.
// No exception leaves a function collectd calls.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "device/bm6_engine.h"
#include "device/history_download.h"
#include "device/link_log.h"
#include "plugin/adapter_notes.h"
#include "plugin/backfill.h"
#include "plugin/bm6_config.h"
#include "plugin/bm6_values.h"
#include "plugin/collectd_api.h"
#include "plugin/io_thread.h"
#include "plugin/link_wording.h"

namespace bm6::plugin {
namespace {

constexpr const char* kPlugin = "bm6";
// The shortest read interval that makes sense: a BM6 sends one reading a second.
constexpr std::chrono::milliseconds kMinInterval{1000};

// What is said about a device's link (LinkLog decides, this formats). Events come from the
// I/O thread, ticks from collectd's read threads: each takes the mutex.
struct DeviceLog {
  explicit DeviceLog(DeviceOptions d) : device(std::move(d)) {}
  const DeviceOptions device;
  std::mutex mutex;
  LinkLog link;       // guarded by mutex
  std::string cause;  // of the latest failure; guarded by mutex
  bool lost = false;  // the latest failure was a link lost, not a failed connect
};
using DeviceLogs = std::map<std::string, std::shared_ptr<DeviceLog>>;

// Handed to collectd as a read callback's user_data; collectd frees it. The slot and the
// log are shared with the engine and its event handler, so they outlive both.
struct ReadContext {
  std::string name;
  std::shared_ptr<ReadingSlot> slot;
  std::shared_ptr<DeviceLog> log;
  std::shared_ptr<BackfillState> backfill;  // with Backfill true
  bool per_read = false;
  // ReadingSlot::air_ms at the previous read. collectd never runs one read callback on two
  // threads at once, so no lock.
  std::uint64_t air_ms_seen = 0;
  // The live reading dispatched last: the next goes out only in a later second as rrdtool
  // files it (rounded; two readings 0.5 s apart, from a late read then a prompt one, would
  // share a second and the second be refused).
  std::optional<SysTime> last_live;
  Corrections corrections;  // VoltageOffset, TemperatureOffset, Chemistry
};

// The slot's reading, if it files after the last one dispatched (else the next read has a
// newer one).
std::optional<TimedReading> take_live(ReadContext& ctx, SysTime not_before) {
  auto live = ctx.slot->take(not_before);
  if (live && ctx.last_live && !files_after(live->received, *ctx.last_live)) return {};
  if (live) ctx.last_live = live->received;
  return live;
}

// Touched only by collectd's config, init and shutdown callbacks, which collectd calls
// one at a time from its main thread; the I/O thread and the read callbacks get what they
// need (the engine, slots, logs) through their own pointers.
struct PluginState {
  PluginConfig config;
  bool config_failed = false;
  std::unique_ptr<Bm6Engine> engine;
  std::shared_ptr<const StateDir> state_dir;  // null: none needed, or refused
  BackfillStates backfill;                    // saved at shutdown
  IoThread io;                                // stopped before the engine goes
};

PluginState& state() {
  static PluginState s;
  return s;
}

void tick(DeviceLog& log);

int bm6_read(user_data_t* ud) noexcept {
  try {
    auto* ctx = static_cast<ReadContext*>(ud->data);
    const cdtime_t interval = plugin_get_interval();
    // Nothing older than one interval: a reading that sat unread is not "now".
    const auto not_before = std::chrono::system_clock::now() - from_cdtime(interval);
    if (ctx->backfill) {
      dispatch_backfilled(
          ctx->name, ctx->corrections, *ctx->slot, *ctx->backfill,
          [&] { return take_live(*ctx, not_before); }, interval);
    } else if (const auto r = take_live(*ctx, not_before)) {
      dispatch_reading(ctx->name, *r, interval, ctx->corrections);
    }
    dispatch_counters(ctx->name, *ctx->slot, interval);
    if (ctx->per_read) {
      const auto air = ctx->slot->air_ms.load(std::memory_order_relaxed);
      dispatch_time_on_air(ctx->name, static_cast<double>(air - ctx->air_ms_seen) / 1000.0,
                           interval);
      ctx->air_ms_seen = air;
    }
    tick(*ctx->log);  // a flapping device's summary, or the end of its flapping
    // Success even with nothing to dispatch: an error would make collectd back this read
    // off for ever longer intervals, and the device's state is logged from its events.
    return 0;
  } catch (const std::exception& e) {
    plugin_log(LOG_ERR, "bm6 plugin: read failed: %s", e.what());
  } catch (...) {
    plugin_log(LOG_ERR, "bm6 plugin: read failed");
  }
  return -1;
}

void free_read_context(void* p) { delete static_cast<ReadContext*>(p); }

// A collectd notification about a device's link, so thresholds and notification
// plugins (email, exec, logfile) see it go and come back.
void notify(const DeviceOptions& device, int severity, const std::string& message) {
  notification_t n{};
  n.severity = severity;
  n.time = to_cdtime(std::chrono::system_clock::now());
  std::snprintf(n.message, sizeof n.message, "%s", message.c_str());
  std::snprintf(n.host, sizeof n.host, "%s", hostname_g != nullptr ? hostname_g : "");
  std::snprintf(n.plugin, sizeof n.plugin, "%s", kPlugin);
  std::snprintf(n.plugin_instance, sizeof n.plugin_instance, "%s", device.name.c_str());
  plugin_dispatch_notification(&n);
}

// Logs (and notifies) what LinkLog decided, worded by plugin/link_wording. Called with
// log.mutex held.
void say(const DeviceLog& log, const std::vector<LinkLog::Note>& notes) {
  for (const auto& note : notes) {
    const LinkLine line = link_line(log.device, log.cause, log.lost, note);
    const int severity = line.severity == Severity::kError     ? LOG_ERR
                         : line.severity == Severity::kWarning ? LOG_WARNING
                                                               : LOG_INFO;
    plugin_log(severity, "%s", line.log.c_str());
    if (note.notify == LinkLog::Notify::kFailure)
      notify(log.device, NOTIF_FAILURE, line.notification);
    if (note.notify == LinkLog::Notify::kOkay) notify(log.device, NOTIF_OKAY, line.notification);
  }
}

// Runs on the I/O thread.
void on_device_event(DeviceLog& log, const DeviceReport& report) {
  const DeviceEvent event = report.event;
  const std::string& detail = report.detail;
  const char* name = log.device.name.c_str();
  if (event == DeviceEvent::kModelDetected) {
    // Once per plugin life: later links try this family first.
    plugin_log(LOG_INFO, "bm6 plugin: device \"%s\" is a %s", name, detail.c_str());
    return;
  }
  if (event == DeviceEvent::kAdapterOverbooked) {
    plugin_log(LOG_WARNING, "bm6 plugin: %s", detail.c_str());  // once per adapter
    return;
  }
  if (event == DeviceEvent::kLinksLinger) {
    plugin_log(LOG_NOTICE, "bm6 plugin: %s", detail.c_str());  // once
    return;
  }
  if (event == DeviceEvent::kModelChanged) {
    plugin_log(LOG_WARNING,
               "bm6 plugin: device \"%s\" answers as another model than before (%s): "
               "re-detected; another monitor at its address?",
               name, detail.c_str());
    return;
  }
  if (event == DeviceEvent::kBackfilled) {
    plugin_log(LOG_INFO, "bm6 plugin: device \"%s\": backfill: %s", name, detail.c_str());
    return;
  }
  if (event == DeviceEvent::kBackfillFailed) {
    // Once per gap: a gap is never tried twice.
    plugin_log(LOG_WARNING, "bm6 plugin: device \"%s\": %s", name, detail.c_str());
    return;
  }
  const auto now = LinkLog::Clock::now();
  std::lock_guard lock(log.mutex);
  if (event == DeviceEvent::kFirstReading) return say(log, log.link.on_up(now));
  // The latest cause: a line when it goes down says what took it down; a summary says
  // what keeps it down now. A cause of another kind while down is said once more.
  log.cause = detail;
  log.lost = event == DeviceEvent::kLinkLost;
  say(log, log.link.on_down(now, report.failure.kind));
}

// Runs on collectd's read threads.
void tick(DeviceLog& log) {
  std::lock_guard lock(log.mutex);
  say(log, log.link.tick(LinkLog::Clock::now()));
}

int bm6_config(oconfig_item_t* ci) noexcept {
  try {
    std::vector<std::string> errors, warnings;
    parse_plugin_block(*ci, state().config, errors, warnings);
    for (const auto& w : warnings) plugin_log(LOG_WARNING, "bm6 plugin: %s", w.c_str());
    for (const auto& e : errors) plugin_log(LOG_ERR, "bm6 plugin: %s", e.c_str());
    if (!errors.empty()) {
      state().config_failed = true;
      return -1;
    }
    return 0;
  } catch (const std::exception& e) {
    plugin_log(LOG_ERR, "bm6 plugin: configuration failed: %s", e.what());
  } catch (...) {
    plugin_log(LOG_ERR, "bm6 plugin: configuration failed");
  }
  state().config_failed = true;
  return -1;
}

// init could not start: nothing of it may stay registered with collectd.
void abandon_init() {
  auto& s = state();
  plugin_unregister_read_group(kPlugin);  // frees the ReadContexts
  s.engine.reset();
}

// The devices as the engine runs them: each read once per interval, its own or collectd's
// for the plugin.
std::vector<DeviceOptions> engine_devices(const PluginConfig& config) {
  std::vector<DeviceOptions> devices;
  for (const auto& d : config.devices) {
    devices.push_back(d.options);
    devices.back().read_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
        d.interval.count() > 0 ? std::chrono::system_clock::duration(d.interval)
                               : from_cdtime(plugin_get_interval()));
  }
  return devices;
}

// The engine, with what it reports said: device events through each device's log, the
// scanner's status, the adapters' stuck watch.
std::unique_ptr<Bm6Engine> make_engine(const PluginState& s, const DeviceLogs& logs) {
  // The handler keeps its own copy of the map, which nobody changes: no lock for lookups.
  auto engine = std::make_unique<Bm6Engine>(
      engine_devices(s.config), s.config.link_limits,
      [logs](const DeviceOptions& device, const DeviceReport& report) {
        if (const auto it = logs.find(device.name); it != logs.end())
          on_device_event(*it->second, report);
      },
      on_scanner_status, AdvScanner::open_mgmt_socket,
      s.state_dir ? s.state_dir->path() : std::string());
  watch_adapters(*engine, s.config);
  return engine;
}

// Devices without an Interval of their own read at collectd's, which the plugin's floor
// for Interval applies to as well: once, for all of them (0: collectd's, as it is).
cdtime_t read_interval(const DeviceConfig& d, std::chrono::milliseconds collectd_interval) {
  if (d.interval.count() > 0) return to_cdtime(d.interval);
  return collectd_interval < kMinInterval ? to_cdtime(kMinInterval) : 0;
}

// One read callback per device, its ReadContext handed to collectd; false, said, if
// collectd refuses one.
bool register_reads(const PluginState& s, const DeviceLogs& logs, const BackfillStates& backfill) {
  const auto collectd_interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(from_cdtime(plugin_get_interval()));
  if (collectd_interval < kMinInterval)
    plugin_log(LOG_WARNING,
               "bm6 plugin: collectd's Interval is %s, below %s: a BM6 sends one reading a "
               "second, so more frequent reads find nothing new and only cost CPU; devices "
               "without an Interval of their own are read every %s",
               format_seconds(collectd_interval).c_str(), format_seconds(kMinInterval).c_str(),
               format_seconds(kMinInterval).c_str());
  for (const auto& d : s.config.devices) {
    const std::string read_name = std::string(kPlugin) + "/" + d.options.name;
    std::shared_ptr<BackfillState> st;
    if (const auto it = backfill.find(d.options.name); it != backfill.end()) st = it->second;
    auto* ctx = new ReadContext{d.options.name,
                                s.engine->slot(d.options.name),
                                logs.at(d.options.name),
                                st,
                                d.options.link == LinkMode::kPerRead,
                                0,
                                std::nullopt,
                                d.corrections};
    // Where a gap starts, for the I/O thread, before it runs.
    if (st && st->last) tell_gap_start(*ctx->slot, *st->last);
    user_data_t ud{};
    ud.data = ctx;
    ud.free_func = free_read_context;
    if (plugin_register_complex_read(kPlugin, read_name.c_str(), bm6_read,
                                     read_interval(d, collectd_interval), &ud) != 0) {
      delete ctx;  // collectd frees user_data only on success
      plugin_log(LOG_ERR, "bm6 plugin: registering the read callback %s failed", read_name.c_str());
      return false;
    }
  }
  return true;
}

int bm6_init() noexcept {
  auto& s = state();
  try {
    if (s.config_failed) {
      plugin_log(LOG_ERR, "bm6 plugin: not starting: the configuration has errors (see above)");
      return -1;
    }
    if (s.engine) return 0;  // init runs once per daemon start
    if (s.config.devices.empty()) {
      plugin_log(LOG_WARNING,
                 "bm6 plugin: no <Device> configured in <Plugin bm6>; nothing to read");
      return 0;
    }
    DeviceLogs logs;
    for (const auto& d : s.config.devices)
      logs.emplace(d.options.name, std::make_shared<DeviceLog>(d.options));
    s.state_dir = open_state_dir(s.config);
    auto backfill = load_backfill_states(s.config, s.state_dir);
    s.engine = make_engine(s, logs);
    if (!register_reads(s, logs, backfill)) {
      abandon_init();
      return -1;
    }
    if (!s.io.start(*s.engine)) {
      plugin_log(LOG_ERR, "bm6 plugin: starting the I/O thread failed");
      abandon_init();
      return -1;
    }
    s.backfill = std::move(backfill);
    plugin_log(LOG_INFO, "bm6 plugin: %zu device(s), I/O thread started", s.config.devices.size());
    return 0;
  } catch (const std::exception& e) {
    plugin_log(LOG_ERR, "bm6 plugin: init failed: %s", e.what());
  } catch (...) {
    plugin_log(LOG_ERR, "bm6 plugin: init failed");
  }
  abandon_init();
  return -1;
}

int bm6_shutdown() noexcept {
  auto& s = state();
  try {
    s.io.stop();
    plugin_unregister_read_group(kPlugin);
    s.engine.reset();
    save_backfill_states(s.backfill);
    s.backfill.clear();
    s.state_dir.reset();
    s.config = PluginConfig{};
    s.config_failed = false;
    return 0;
  } catch (...) {
    plugin_log(LOG_ERR, "bm6 plugin: shutdown failed");
    return -1;
  }
}

}  // namespace
}  // namespace bm6::plugin

extern "C" __attribute__((visibility("default"))) void module_register(void) {
  plugin_register_complex_config("bm6", bm6::plugin::bm6_config);
  plugin_register_init("bm6", bm6::plugin::bm6_init);
  plugin_register_shutdown("bm6", bm6::plugin::bm6_shutdown);
}
