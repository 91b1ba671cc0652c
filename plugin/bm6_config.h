// <Plugin bm6> as collectd hands it over, turned into device options, with one clear
// message per mistake.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "device/adapter_watch.h"
#include "device/bm6_device.h"
#include "device/corrections.h"
#include "device/link_limits.h"
#include "plugin/collectd_api.h"
#include "transport/address.h"

namespace bm6::plugin {

struct DeviceConfig {
  DeviceOptions options;
  std::chrono::milliseconds interval{0};  // 0: collectd's interval for the plugin
  // VoltageOffset, TemperatureOffset, Chemistry: applied to live readings and backfilled
  // records alike (plugin/bm6_values).
  Corrections corrections;
};

struct PluginConfig {
  std::vector<DeviceConfig> devices;
  // MaxLinks: the plugin-level one for every adapter without its own, and each <Adapter>
  // block's. The engine takes them as they are and checks the devices against them as the
  // config did (device/link_limits.h).
  LinkLimits link_limits;
  // One entry per <Adapter> block: how its stuck-adapter watch acts
  // (device/adapter_watch.h); adapters not named keep the defaults (no reset).
  std::map<AdapterId, AdapterWatch::Options> adapter_watch;
  // StateDir: where each device's state file goes (backfill); empty: "bm6" under
  // collectd's BaseDir.
  std::string state_dir;
};

// Adds the devices of one <Plugin bm6> block to `config`. Every mistake is appended to
// `errors` as a sentence naming the device and option; nothing is added then.
void parse_plugin_block(const oconfig_item_t& block, PluginConfig& config,
                        std::vector<std::string>& errors);
// The same, and a sentence in `warnings` for each value that works but makes little sense
// for a BM6 (a duration below what the monitor can do: see the floors in the .cpp).
void parse_plugin_block(const oconfig_item_t& block, PluginConfig& config,
                        std::vector<std::string>& errors, std::vector<std::string>& warnings);

}  // namespace bm6::plugin
