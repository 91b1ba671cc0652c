#include "device/link_limits.h"

namespace bm6 {

unsigned LinkLimits::of(const AdapterId& adapter) const {
  if (const auto it = adapters.find(adapter); it != adapters.end()) return it->second;
  if (all) return *all;
  return adapter.is_simulated() ? 0 : kDefaultMaxLinks;
}

AdapterId link_adapter(const DeviceOptions& device) {
  return AdapterId::of(device.address, device.adapter);
}

std::vector<std::string> link_limit_problems(const std::vector<DeviceOptions>& devices,
                                             const LinkLimits& limits) {
  struct Use {
    std::vector<std::string> persistent;  // device names
    bool per_read = false;
  };
  std::map<AdapterId, Use> uses;
  for (const auto& d : devices) {
    if (d.passive) continue;
    Use& use = uses[link_adapter(d)];
    if (d.link == LinkMode::kPersistent)
      use.persistent.push_back(d.name);
    else
      use.per_read = true;
  }
  std::vector<std::string> problems;
  for (const auto& [adapter, use] : uses) {
    const unsigned max = limits.of(adapter);
    const std::size_t n = use.persistent.size();
    if (max == 0 || (n < max) || (n == max && !use.per_read)) continue;
    std::string list;
    for (const auto& name : use.persistent) list += (list.empty() ? "\"" : ", \"") + name + "\"";
    const std::string head = "adapter \"" + adapter.text() + "\" has " + std::to_string(n) +
                             " persistent devices (" + list + ") but MaxLinks " +
                             std::to_string(max);
    if (n > max)
      problems.push_back(head +
                         ": each holds a link for good; raise MaxLinks, make some Link "
                         "\"per-read\", or give some another Adapter");
    else
      problems.push_back(head +
                         ": they take every link and none is left for its per-read "
                         "devices; raise MaxLinks");
  }
  return problems;
}

}  // namespace bm6
