// collectd glue: config -> init (start the I/O thread, register one read per device) ->
// read (dispatch the newest reading, never wait on the network) -> shutdown.
// No exception leaves a function collectd calls.
#include <pthread.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plugin/bm6_config.h"
#include "plugin/bm6_values.h"
#include "plugin/collectd_api.h"
#include "device/bm6_engine.h"

namespace bm6::plugin {
namespace {

constexpr const char* kPlugin = "bm6";

// What the I/O thread knows of a device for logging: a dead device logs once when it goes
// and once when it comes back.
struct DeviceLog {
  c_complain_t complaint = C_COMPLAIN_INIT_STATIC;
  bool ever_streamed = false;
  bool down = false;  // a FAILURE notification went out, its OKAY has not
};

// Handed to collectd as a read callback's user_data; collectd frees it.
struct ReadContext {
  std::string name;
  std::shared_ptr<ReadingSlot> slot;
};

struct PluginState {
  PluginConfig config;
  bool config_failed = false;
  std::unique_ptr<Bm6Engine> engine;
  std::map<std::string, DeviceLog> logs;  // touched by the I/O thread only, once running
  pthread_t thread{};
  bool thread_running = false;
};

PluginState& state() {
  static PluginState s;
  return s;
}

int bm6_read(user_data_t* ud) noexcept {
  try {
    const auto* ctx = static_cast<const ReadContext*>(ud->data);
    const cdtime_t interval = plugin_get_interval();
    // Nothing older than one interval: a reading that sat unread is not "now".
    const auto not_before = std::chrono::system_clock::now() - from_cdtime(interval);
    if (const auto r = ctx->slot->take(not_before)) dispatch_reading(ctx->name, *r, interval);
    dispatch_counters(ctx->name, *ctx->slot, interval);
    // Success even with nothing to dispatch: an error would make collectd back this read
    // off for ever longer intervals, and the device's state is logged by the I/O thread.
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

// Runs on the I/O thread.
void on_device_event(const DeviceOptions& device, DeviceEvent event, const std::string& detail) {
  auto& log = state().logs[device.name];
  const char* name = device.name.c_str();
  const char* address = device.address.c_str();
  switch (event) {
    case DeviceEvent::kFirstReading:
      if (log.down) {
        log.down = false;
        notify(device, NOTIF_OKAY,
               "BM6 \"" + device.name + "\" (" + device.address + ") is back: readings flow again");
      }
      if (c_would_release(&log.complaint)) {
        c_release(LOG_INFO, &log.complaint,
                  "bm6 plugin: device \"%s\" (%s) is back: readings flow again", name, address);
      } else if (!log.ever_streamed) {
        plugin_log(LOG_INFO, "bm6 plugin: device \"%s\" (%s) connected: readings flow", name,
                   address);
      }
      log.ever_streamed = true;
      return;
    case DeviceEvent::kLinkLost:
    case DeviceEvent::kConnectFailed: {
      const bool lost = event == DeviceEvent::kLinkLost;
      const std::string what = lost ? "link lost (" + detail + "); reconnecting"
                                    : "is unreachable: " + detail + "; retrying";
      if (!log.down) {  // one FAILURE notification until it is back
        log.down = true;
        notify(device, NOTIF_FAILURE,
               "BM6 \"" + device.name + "\" (" + device.address + ") " + what);
      }
      c_complain_once(lost ? LOG_WARNING : LOG_ERR, &log.complaint,
                      "bm6 plugin: device \"%s\" (%s)%s %s with backoff up to %s", name, address,
                      lost ? ":" : "", what.c_str(), format_seconds(device.reconnect_max).c_str());
      return;
    }
  }
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
    std::vector<std::string> errors;
    parse_plugin_block(*ci, state().config, errors);
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
    for (const auto& d : s.config.devices) {
      devices.push_back(d.options);
      s.logs[d.options.name];
    }
    s.engine = std::make_unique<Bm6Engine>(devices, on_device_event);
    for (const auto& d : s.config.devices) {
      const std::string read_name = std::string(kPlugin) + "/" + d.options.name;
      auto* ctx = new ReadContext{d.options.name, s.engine->slot(d.options.name)};
      user_data_t ud{};
      ud.data = ctx;
      ud.free_func = free_read_context;
      if (plugin_register_complex_read(kPlugin, read_name.c_str(), bm6_read,
                                       d.interval.count() > 0 ? to_cdtime(d.interval) : 0,
                                       &ud) != 0) {
        delete ctx;  // collectd frees user_data only on success
        plugin_log(LOG_ERR, "bm6 plugin: registering the read callback %s failed",
                   read_name.c_str());
        bm6_shutdown();
        return -1;
      }
    }
    if (plugin_thread_create(&s.thread, io_thread, s.engine.get(), "bm6") != 0) {
      plugin_log(LOG_ERR, "bm6 plugin: starting the I/O thread failed");
      s.engine.reset();
      return -1;
    }
    s.thread_running = true;
    plugin_log(LOG_INFO, "bm6 plugin: %zu device(s), I/O thread started", devices.size());
    return 0;
  } catch (const std::exception& e) {
    plugin_log(LOG_ERR, "bm6 plugin: init failed: %s", e.what());
  } catch (...) {
    plugin_log(LOG_ERR, "bm6 plugin: init failed");
  }
  s.engine.reset();
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
    s.config = PluginConfig{};
    s.config_failed = false;
    s.logs.clear();
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
