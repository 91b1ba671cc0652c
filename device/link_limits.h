// MaxLinks: how many links each adapter holds at once, as the configuration gives them, and
// the one check of a set of devices against them (the config and the engine ask the same).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "device/bm6_device.h"
#include "transport/address.h"

namespace bm6 {

// MaxLinks when neither the plugin nor the adapter's own block gives one: about what a small
// controller (a Raspberry Pi's) holds.
inline constexpr unsigned kDefaultMaxLinks = 5;

struct LinkLimits {
  std::optional<unsigned> all;             // for every adapter without its own
  std::map<AdapterId, unsigned> adapters;  // an adapter's own
  // The adapter's own, else `all`, else 5 for a Bluetooth adapter and no limit (0) for the
  // simulated one, which uses no radio.
  unsigned of(const AdapterId& adapter) const;
};

// The adapter whose links a device's count against (AdapterId::of).
AdapterId link_adapter(const DeviceOptions& device);

// One sentence per adapter that cannot hold its devices: more persistent (connected) devices
// than its MaxLinks, or persistent devices taking every link while per-read devices need one.
// Passive devices take no link.
std::vector<std::string> link_limit_problems(const std::vector<DeviceOptions>& devices,
                                             const LinkLimits& limits);

}  // namespace bm6
