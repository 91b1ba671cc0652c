// <Plugin bm6> as collectd hands it over, turned into device options, with one clear
// message per mistake.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "device/adapter_watch.h"
#include "device/bm6_device.h"
#include "plugin/collectd_api.h"

namespace bm6::plugin {

struct DeviceConfig {
  DeviceOptions options;
  std::chrono::milliseconds interval{0};  // 0: collectd's interval for the plugin
};

// MaxLinks when neither <Plugin bm6> nor the adapter's <Adapter> block gives one: about
// what a small controller (a Raspberry Pi's) holds.
inline constexpr unsigned kDefaultMaxLinks = 5;

struct PluginConfig {
  std::vector<DeviceConfig> devices;
  // Plugin-level MaxLinks, if given: for every adapter without its own. Unset: 5 for a
  // Bluetooth adapter, no limit for simulated (unix:) devices, which use no radio.
  std::optional<unsigned> max_links;
  // <Adapter "hci0"> MaxLinks N </Adapter>: by adapter name ("unix" for simulated devices).
  std::map<std::string, unsigned> adapter_max_links;
  // <Adapter "hci0"> ResetAdapter true, StuckAfter SECONDS </Adapter>: how its stuck-adapter
  // watch acts (device/adapter_watch.h); adapters not named keep the defaults (no reset).
  std::map<std::string, AdapterWatch::Options> adapter_watch;
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

// What makes two addresses one device: Bluetooth addresses in upper case; a socket path
// normalised ("unix:/d/./a.sock" and "unix:/d//a.sock" are "unix:/d/a.sock"), its directory
// resolved through symlinks when it exists. For comparing only; the address as written is
// what is used and logged.
std::string address_key(const std::string& address);

}  // namespace bm6::plugin
