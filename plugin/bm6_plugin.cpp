// collectd glue: config -> init (start the I/O thread, register one read per device) ->
// read (dispatch the newest reading, never wait on the network) -> shutdown.
// No exception leaves a function collectd calls.
#include <pthread.h>
#include <sys/stat.h>

#include <algorithm>
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
#include "device/link_errors.h"
#include "device/link_log.h"
#include "plugin/bm6_config.h"
#include "plugin/bm6_state.h"
#include "plugin/bm6_values.h"
#include "plugin/collectd_api.h"

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

// Backfill, per device: the last reading dispatched and its state file. Read callbacks of
// one device run one at a time, and shutdown after them; the mutex makes that not matter.
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
  std::shared_ptr<const StateDir> state_dir;                       // null: none needed, or refused
  std::map<std::string, std::shared_ptr<BackfillState>> backfill;  // saved at shutdown
  pthread_t thread{};
  bool thread_running = false;
};

PluginState& state() {
  static PluginState s;
  return s;
}

void tick(DeviceLog& log);

// A stored record as the values a live reading carries (voltage, temperature when known,
// percent-charged), at its estimated time; no state, no RSSI. Written to every writer at
// once, in order, from this thread (plugin_write), not through collectd's write queue: its
// several write threads may take a burst of one series' values out of order, and the value
// cache then refuses the older ones ("Value too old") while writers get them out of order.
// Records so bypass the cache and filter chains, as the "write" target does.
void write_record(const std::string& device, const TimedHistoryRecord& r, cdtime_t interval) {
  value_t value;
  value_list_t vl{};
  vl.values = &value;
  vl.values_len = 1;
  vl.time = to_cdtime(r.at);
  vl.interval = interval;
  std::snprintf(vl.host, sizeof vl.host, "%s", hostname_g != nullptr ? hostname_g : "");
  std::snprintf(vl.plugin, sizeof vl.plugin, "%s", kPlugin);
  std::snprintf(vl.plugin_instance, sizeof vl.plugin_instance, "%s", device.c_str());
  auto send = [&](const char* type, const char* type_instance, double v) {
    value.gauge = v;
    std::snprintf(vl.type, sizeof vl.type, "%s", type);
    std::snprintf(vl.type_instance, sizeof vl.type_instance, "%s", type_instance);
    plugin_write(nullptr, nullptr, &vl);
  };
  send("voltage", "", r.record.volts());
  if (r.record.temperature_c) send("temperature", "", *r.record.temperature_c);
  send("percent", "charged", r.record.soc_percent);
}

// Where the I/O thread sees a gap start.
void tell_gap_start(const ReadContext& ctx, SysTime at) {
  ctx.slot->last_dispatched_ns.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count(),
      std::memory_order_relaxed);
}

void note_dispatched(const ReadContext& ctx, BackfillState& st, SysTime at) {
  if (st.last && at <= *st.last) return;  // the state file's time, ahead of a live reading
  st.last = at;
  tell_gap_start(ctx, at);
}

// Stored records first, oldest first, then the live reading: times only go up, as rrdtool
// wants them, also in the whole seconds it files them under (records are stamped at whole
// seconds; none goes out in the second of the last value dispatched, nor a live reading
// within a second of a record). The state file is written before they go out.
void read_backfilled(ReadContext& ctx, cdtime_t interval, SysTime not_before) {
  BackfillState& st = *ctx.backfill;
  std::lock_guard lock(st.mutex);
  const auto whole = [](SysTime t) { return std::chrono::floor<std::chrono::seconds>(t); };
  std::vector<TimedHistoryRecord> records;
  std::optional<SysTime> after = st.last;
  for (auto& record : ctx.slot->take_history()) {
    // Dispatched already, or in the second rrdtool files the last value under.
    if (after && !files_after(record.at, *after)) continue;
    after = record.at;
    records.push_back(std::move(record));
  }
  auto live = take_live(ctx, not_before);
  // Never one older than, or in the same second as, a record that went out before it.
  const auto newest_record = records.empty() ? st.newest_record : records.back().at;
  if (live && newest_record && whole(live->received) <= whole(*newest_record)) live.reset();
  // (The live reading, if any, is later than every record.)
  if (live || !records.empty()) save_ahead(ctx.name, st, live ? live->received : records.back().at);
  for (const auto& record : records) {
    write_record(ctx.name, record, to_cdtime(st.record_period));
    st.newest_record = record.at;
    note_dispatched(ctx, st, record.at);
  }
  if (live) {
    dispatch_reading(ctx.name, *live, interval);
    note_dispatched(ctx, st, live->received);
  }
}

int bm6_read(user_data_t* ud) noexcept {
  try {
    auto* ctx = static_cast<ReadContext*>(ud->data);
    const cdtime_t interval = plugin_get_interval();
    // Nothing older than one interval: a reading that sat unread is not "now".
    const auto not_before = std::chrono::system_clock::now() - from_cdtime(interval);
    if (ctx->backfill) {
      read_backfilled(*ctx, interval, not_before);
    } else if (const auto r = take_live(*ctx, not_before)) {
      dispatch_reading(ctx->name, *r, interval);
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

// "45 s", "12 min", "3 h".
std::string format_duration(LinkLog::Clock::duration d) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  char buf[32];
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(s));
  } else if (s < 7200) {
    std::snprintf(buf, sizeof buf, "%lld min", static_cast<long long>((s + 30) / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld h", static_cast<long long>((s + 1800) / 3600));
  }
  return buf;
}

// Logs (and notifies) what LinkLog decided. Called with log.mutex held.
void say(const DeviceLog& log, const std::vector<LinkLog::Note>& notes) {
  const auto& device = log.device;
  const char* name = device.name.c_str();
  const std::string address_text = device.address.text();
  const char* address = address_text.c_str();
  const std::string backoff = format_seconds(device.reconnect_max);
  const std::string who = "BM6 \"" + device.name + "\" (" + address_text + ") ";
  for (const auto& note : notes) {
    std::string notification;
    switch (note.kind) {
      case LinkLog::Note::Kind::kConnected:
        plugin_log(LOG_INFO, "bm6 plugin: device \"%s\" (%s) %s: readings flow", name, address,
                   device.passive ? "heard (passive)" : "connected");
        break;
      case LinkLog::Note::Kind::kDown:
        if (device.passive) {
          plugin_log(LOG_WARNING, "bm6 plugin: device \"%s\" (%s) is silent: %s", name, address,
                     log.cause.c_str());
          notification = who + "is silent: " + log.cause;
        } else if (log.lost) {
          plugin_log(LOG_WARNING,
                     "bm6 plugin: device \"%s\" (%s): link lost (%s); reconnecting with backoff "
                     "up to %s",
                     name, address, log.cause.c_str(), backoff.c_str());
          notification = who + "link lost (" + log.cause + "); reconnecting";
        } else {
          plugin_log(LOG_ERR,
                     "bm6 plugin: device \"%s\" (%s) is unreachable: %s; retrying with backoff "
                     "up to %s",
                     name, address, log.cause.c_str(), backoff.c_str());
          notification = who + "is unreachable: " + log.cause + "; retrying";
        }
        break;
      case LinkLog::Note::Kind::kCauseChanged:
        if (device.passive) {
          plugin_log(LOG_ERR, "bm6 plugin: device \"%s\" (%s) is still silent, now: %s", name,
                     address, log.cause.c_str());
          break;
        }
        plugin_log(LOG_ERR,
                   "bm6 plugin: device \"%s\" (%s) is still down, now for another reason: %s; "
                   "retrying with backoff up to %s",
                   name, address, log.cause.c_str(), backoff.c_str());
        break;
      case LinkLog::Note::Kind::kBack:
        plugin_log(LOG_INFO, "bm6 plugin: device \"%s\" (%s) is back: readings flow again%s", name,
                   address, device.passive ? " (passive)" : "");
        notification = who + "is back: readings flow again";
        break;
      case LinkLog::Note::Kind::kFlapping: {
        const std::string now = note.up ? "up now" : "down now: " + log.cause;
        if (device.passive) {
          plugin_log(LOG_WARNING,
                     "bm6 plugin: device \"%s\" (%s): silent %llu times in the last %s; it keeps "
                     "going quiet and being heard again (%s); next summary in %s at the earliest",
                     name, address, static_cast<unsigned long long>(note.losses),
                     format_duration(note.over).c_str(), now.c_str(),
                     format_duration(note.next_summary).c_str());
          break;
        }
        plugin_log(LOG_WARNING,
                   "bm6 plugin: device \"%s\" (%s): link lost %llu times in the last %s; it keeps "
                   "coming back and going (%s); next summary in %s at the earliest",
                   name, address, static_cast<unsigned long long>(note.losses),
                   format_duration(note.over).c_str(), now.c_str(),
                   format_duration(note.next_summary).c_str());
        break;
      }
      case LinkLog::Note::Kind::kStable:
        if (device.passive) {
          plugin_log(LOG_INFO,
                     "bm6 plugin: device \"%s\" (%s): heard steadily again, after falling silent "
                     "%llu times in %s",
                     name, address, static_cast<unsigned long long>(note.losses),
                     format_duration(note.over).c_str());
          notification = who + "heard steadily again";
          break;
        }
        plugin_log(LOG_INFO,
                   "bm6 plugin: device \"%s\" (%s): link stable again, after being lost %llu "
                   "times in %s",
                   name, address, static_cast<unsigned long long>(note.losses),
                   format_duration(note.over).c_str());
        notification = who + "link stable again";
        break;
      case LinkLog::Note::Kind::kStillDown:
        if (device.passive) {
          plugin_log(LOG_ERR,
                     "bm6 plugin: device \"%s\" (%s): silent for good after falling silent %llu "
                     "times in %s: %s",
                     name, address, static_cast<unsigned long long>(note.losses),
                     format_duration(note.over).c_str(), log.cause.c_str());
          notification = who + "is silent: " + log.cause;
          break;
        }
        plugin_log(LOG_ERR,
                   "bm6 plugin: device \"%s\" (%s): down for good after being lost %llu times "
                   "in %s: %s; retrying with backoff up to %s",
                   name, address, static_cast<unsigned long long>(note.losses),
                   format_duration(note.over).c_str(), log.cause.c_str(), backoff.c_str());
        notification = who + "is down: " + log.cause + "; retrying";
        break;
    }
    if (note.notify == LinkLog::Notify::kFailure) notify(device, NOTIF_FAILURE, notification);
    if (note.notify == LinkLog::Notify::kOkay) notify(device, NOTIF_OKAY, notification);
  }
}

// Runs on the I/O thread.
void on_device_event(DeviceLog& log, DeviceEvent event, const std::string& detail) {
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
  // Passive silence: heard nothing, or only data that was not a reading (a wrong Model).
  const FailureKind kind =
      event == DeviceEvent::kSilent
          ? (detail.find("were not readings") != std::string::npos ? FailureKind::kProtocol
                                                                   : FailureKind::kUnreachable)
          : failure_kind(log.lost, detail);
  say(log, log.link.on_down(now, kind));
}

// Runs on collectd's read threads.
void tick(DeviceLog& log) {
  std::lock_guard lock(log.mutex);
  say(log, log.link.tick(LinkLog::Clock::now()));
}

// Runs on the I/O thread: an adapter's advertisement scanner (passive devices), once per
// change: the adapter going down and coming back each say one line.
void on_scanner_status(int adapter, AdvScanner::Status status, const std::string& detail) noexcept {
  switch (status) {
    case AdvScanner::Status::kScanning:
      plugin_log(LOG_INFO, "bm6 plugin: passive: %s", detail.c_str());
      break;
    case AdvScanner::Status::kAdapterDown:
      plugin_log(LOG_WARNING,
                 "bm6 plugin: passive: adapter hci%d is down (%s): its passive devices hear "
                 "nothing until it is back",
                 adapter, detail.c_str());
      break;
    case AdvScanner::Status::kAdapterUp:
      plugin_log(LOG_INFO, "bm6 plugin: passive: adapter %s", detail.c_str());
      break;
    case AdvScanner::Status::kError:
      plugin_log(LOG_WARNING, "bm6 plugin: passive: %s", detail.c_str());
      break;
  }
}

// "\"van\", \"boat\"".
std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out;
}

// What was seen that makes the adapter, not the monitors, the suspect.
std::string evidence(const AdapterWatch::Note& note) {
  std::string out;
  if (!note.read_before.empty()) out = quoted_list(note.read_before) + " read through it before";
  if (!note.heard.empty())
    out += (out.empty() ? "" : ", and ") + quoted_list(note.heard) + " still heard advertising";
  return out;
}

void say_stuck(const std::string& adapter, const AdapterWatch::Note& note, bool reset) {
  const std::string index = adapter.substr(3);
  plugin_log(LOG_ERR,
             "bm6 plugin: adapter %s looks stuck: every connect through it went unanswered for "
             "%s (%llu attempts, by %s), although %s; %s",
             adapter.c_str(), format_duration(note.over).c_str(),
             static_cast<unsigned long long>(note.failures), quoted_list(note.failing).c_str(),
             evidence(note).c_str(),
             reset ? "resetting it (ResetAdapter)"
                   : ("power-cycle it (btmgmt --index " + index + " power off, then on), or " +
                      "set ResetAdapter true in its <Adapter> block to have it done")
                         .c_str());
}

// Runs on the I/O thread: what an adapter's stuck watch says. Each line once per event.
void on_adapter_note(const std::string& adapter, const AdapterWatch::Note& note,
                     const AdapterWatch::Options& options) {
  const char* name = adapter.c_str();
  switch (note.kind) {
    case AdapterWatch::Note::Kind::kStuck:
      return say_stuck(adapter, note, options.reset);
    case AdapterWatch::Note::Kind::kReset:
      plugin_log(LOG_WARNING,
                 "bm6 plugin: adapter %s: power-cycling it through the management interface "
                 "(reset %u of this spell; at most %u an hour)",
                 name, note.resets, options.max_per_hour);
      return;
    case AdapterWatch::Note::Kind::kResetDone:
      if (note.ok)
        plugin_log(LOG_INFO, "bm6 plugin: adapter %s: reset done (powered off and on)", name);
      else
        plugin_log(LOG_ERR, "bm6 plugin: adapter %s: reset failed: %s", name, note.detail.c_str());
      return;
    case AdapterWatch::Note::Kind::kResetCapped:
      plugin_log(LOG_ERR,
                 "bm6 plugin: adapter %s still looks stuck, but it was reset %u times in the "
                 "last hour, the most ResetAdapter does: no more resets for now",
                 name, options.max_per_hour);
      return;
    case AdapterWatch::Note::Kind::kRecovered:
      plugin_log(LOG_INFO, "bm6 plugin: adapter %s makes links again (after %u reset(s))", name,
                 note.resets);
      return;
  }
}

// The configured watch options go to the engine; an <Adapter> with ResetAdapter that no
// connected device uses is said once.
void watch_adapters(Bm6Engine& engine, const PluginConfig& config) {
  auto options = config.adapter_watch;
  engine.set_adapter_handler([options](const AdapterId& adapter, const AdapterWatch::Note& note) {
    const auto it = options.find(adapter);
    try {  // a log line that cannot be made must not stop the I/O thread
      on_adapter_note(adapter.text(), note,
                      it != options.end() ? it->second : AdapterWatch::Options{});
    } catch (...) {
    }
  });
  for (const auto& [adapter, o] : config.adapter_watch)
    if (!engine.set_adapter_options(adapter, o) && o.reset)
      plugin_log(LOG_WARNING,
                 "bm6 plugin: adapter \"%s\": ResetAdapter does nothing: no connected device "
                 "uses it",
                 adapter.text().c_str());
}

void* io_thread(void* arg) {
  auto* engine = static_cast<Bm6Engine*>(arg);
  try {
    engine->run();
  } catch (const std::exception& e) {
    plugin_log(LOG_ERR, "bm6 plugin: I/O thread stopped: %s", e.what());
  } catch (...) {
    plugin_log(LOG_ERR, "bm6 plugin: I/O thread stopped");
  }
  return nullptr;
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

int bm6_shutdown() noexcept;

// StateDir as configured, or "bm6" under collectd's BaseDir.
std::string state_dir_path(const PluginConfig& config) {
  if (!config.state_dir.empty()) return config.state_dir;
  const char* base = global_option_get("BaseDir");
  return std::string(base != nullptr && *base != '\0' ? base : ".") + "/bm6";
}

// StateDir, opened and checked once per start when a device keeps a file there (backfill's
// state, passive mode's registration record), or when it is there already (a record a
// killed run left); null, said once if needed, when it cannot be used.
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

// Each Backfill device's state: the last reading dispatched before collectd stopped. A
// missing or corrupt file is "no gap known", said once; it never stops the plugin.
std::map<std::string, std::shared_ptr<BackfillState>> load_backfill_states(
    const PluginConfig& config, const std::shared_ptr<const StateDir>& dir) {
  std::map<std::string, std::shared_ptr<BackfillState>> out;
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

// init could not start: nothing of it may stay registered with collectd.
void abandon_init() {
  auto& s = state();
  plugin_unregister_read_group(kPlugin);  // frees the ReadContexts
  s.engine.reset();
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
    std::vector<DeviceOptions> devices;
    DeviceLogs logs;
    s.state_dir = open_state_dir(s.config);
    const auto backfill = load_backfill_states(s.config, s.state_dir);
    for (const auto& d : s.config.devices) {
      devices.push_back(d.options);
      // The device is read once per interval: its own, or collectd's for the plugin.
      devices.back().read_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
          d.interval.count() > 0 ? std::chrono::system_clock::duration(d.interval)
                                 : from_cdtime(plugin_get_interval()));
      logs.emplace(d.options.name, std::make_shared<DeviceLog>(d.options));
    }
    // The handler keeps its own copy of the map, which nobody changes: no lock for lookups.
    s.engine = std::make_unique<Bm6Engine>(
        devices, s.config.link_limits,
        [logs](const DeviceOptions& device, DeviceEvent event, const std::string& detail) {
          if (const auto it = logs.find(device.name); it != logs.end())
            on_device_event(*it->second, event, detail);
        },
        on_scanner_status, AdvScanner::open_mgmt_socket,
        s.state_dir ? s.state_dir->path() : std::string());
    watch_adapters(*s.engine, s.config);
    // Devices without an Interval of their own read at collectd's, which the plugin's
    // floor for Interval applies to as well: once, for all of them.
    const auto collectd_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(from_cdtime(plugin_get_interval()));
    const auto read_interval = [&](const DeviceConfig& d) -> cdtime_t {
      if (d.interval.count() > 0) return to_cdtime(d.interval);
      return collectd_interval < kMinInterval ? to_cdtime(kMinInterval) : 0;
    };
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
                                  std::nullopt};
      // Where a gap starts, for the I/O thread, before it runs.
      if (st && st->last) tell_gap_start(*ctx, *st->last);
      user_data_t ud{};
      ud.data = ctx;
      ud.free_func = free_read_context;
      if (plugin_register_complex_read(kPlugin, read_name.c_str(), bm6_read, read_interval(d),
                                       &ud) != 0) {
        delete ctx;  // collectd frees user_data only on success
        plugin_log(LOG_ERR, "bm6 plugin: registering the read callback %s failed",
                   read_name.c_str());
        abandon_init();
        return -1;
      }
    }
    if (plugin_thread_create(&s.thread, io_thread, s.engine.get(), "bm6") != 0) {
      plugin_log(LOG_ERR, "bm6 plugin: starting the I/O thread failed");
      abandon_init();
      return -1;
    }
    s.thread_running = true;
    s.backfill = backfill;
    plugin_log(LOG_INFO, "bm6 plugin: %zu device(s), I/O thread started", devices.size());
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
    if (s.engine && s.thread_running) {
      s.engine->stop();
      pthread_join(s.thread, nullptr);
      s.thread_running = false;
    }
    plugin_unregister_read_group(kPlugin);
    s.engine.reset();
    for (auto& [name, st] : s.backfill) {
      std::lock_guard lock(st->mutex);
      save_last(name, *st);
    }
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
