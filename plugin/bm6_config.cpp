// <Plugin bm6> in collectd's snmp.c style: one function per block and per option kind,
// each appending its own sentence to `errors`.
#include "plugin/bm6_config.h"

#include <limits.h>
#include <stdlib.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "transport/connector.h"

namespace bm6::plugin {

namespace {

using Errors = std::vector<std::string>;

bool is(const oconfig_item_t& item, const char* key) {
  return item.key != nullptr && ::strcasecmp(item.key, key) == 0;
}

const char* value_type(const oconfig_value_t& v) {
  switch (v.type) {
    case OCONFIG_TYPE_STRING:
      return "a string";
    case OCONFIG_TYPE_NUMBER:
      return "a number";
    case OCONFIG_TYPE_BOOLEAN:
      return "a boolean";
    default:
      return "an unknown value";
  }
}

struct Where {
  std::string device;          // empty at plugin level
  Errors* warnings = nullptr;  // where a value that works but makes little sense is said
  std::string prefix(const oconfig_item_t& item) const {
    const std::string option = std::string("option \"") + item.key + "\"";
    return device.empty() ? option : "device \"" + device + "\": " + option;
  }
};

// ---- option kinds ----

bool get_string(const oconfig_item_t& item, const Where& where, std::string& out, Errors& errors) {
  if (item.values_num != 1 || item.values[0].type != OCONFIG_TYPE_STRING) {
    errors.push_back(
        where.prefix(item) + " needs exactly one quoted string" +
        (item.values_num == 1 ? std::string(", not ") + value_type(item.values[0]) : ""));
    return false;
  }
  out = item.values[0].value.string;
  return true;
}

// What a duration option can sensibly be for a BM6. Below kAbsurd nothing works (the loop
// would spin, collectd's own clock resolution is near), so it is an error. Below `floor`
// the value works but costs CPU for nothing or fails healthy links: one warning, naming
// the option and why; tests use such short timeouts on purpose. `clamp`: below the floor
// the floor is used (the interval: a read more often than a BM6 sends finds nothing new).
struct Floor {
  double seconds;
  const char* why;
  bool clamp = false;
};
constexpr double kAbsurd = 0.01;

// A duration in seconds, from kAbsurd to a day.
bool get_seconds(const oconfig_item_t& item, const Where& where, std::chrono::milliseconds& out,
                 Errors& errors, const Floor& floor) {
  if (item.values_num != 1 || item.values[0].type != OCONFIG_TYPE_NUMBER) {
    errors.push_back(
        where.prefix(item) + " needs one number of seconds" +
        (item.values_num == 1 ? std::string(", not ") + value_type(item.values[0]) : ""));
    return false;
  }
  double s = item.values[0].value.number;
  if (!std::isfinite(s) || s < kAbsurd || s > 86400) {
    errors.push_back(where.prefix(item) + " must be from 0.01 to 86400 seconds");
    return false;
  }
  if (s < floor.seconds) {
    char text[64];
    std::snprintf(text, sizeof text, " is %g s, below %g s: ", s, floor.seconds);
    std::string warning = where.prefix(item) + text + floor.why;
    if (floor.clamp) {
      std::snprintf(text, sizeof text, "; using %g s", floor.seconds);
      warning += text;
      s = floor.seconds;
    }
    if (where.warnings != nullptr) where.warnings->push_back(warning);
  }
  out = std::chrono::milliseconds(std::llround(s * 1000));
  return true;
}

// The floors, and why (the monitor sends one reading a second).
const Floor kIntervalFloor{1,
                           "a BM6 sends one reading a second, so more frequent reads find "
                           "nothing new and only cost CPU",
                           true};
const Floor kConnectTimeoutFloor{1,
                                 "an LE connection takes several advertising and connection "
                                 "events; shorter attempts fail on monitors that are there"};
const Floor kReconnectMinFloor{0.1,
                               "retrying a device that is away this often costs CPU and "
                               "radio time and brings it back no sooner"};
const Floor kReconnectMaxFloor{1,
                               "a device that stays away is retried this often for ever, "
                               "which costs CPU and radio time"};
const Floor kStreamTimeoutFloor{2,
                                "a BM6 sends one reading a second, so a frame that is only "
                                "late counts as silence and the link is asked again or dropped"};
const Floor kResponseTimeoutFloor{1,
                                  "an answer takes a few connection events, longer with a "
                                  "weak signal; healthy links would be dropped"};

const Floor kPassiveTimeoutFloor{2,
                                 "a monitor advertises about once a second at best, and a "
                                 "few advertisements are always lost: healthy monitors would "
                                 "be reported silent"};

// Timing options valid both in <Plugin bm6> (defaults) and in <Device>; false if unknown.
bool parse_timing(const oconfig_item_t& item, const Where& where, DeviceOptions& o,
                  Errors& errors) {
  auto seconds = [&](std::chrono::milliseconds& out, const Floor& floor) {
    get_seconds(item, where, out, errors, floor);
    return true;
  };
  if (is(item, "ConnectTimeout")) return seconds(o.connect_timeout, kConnectTimeoutFloor);
  if (is(item, "ReconnectMin")) return seconds(o.reconnect_min, kReconnectMinFloor);
  if (is(item, "ReconnectMax")) return seconds(o.reconnect_max, kReconnectMaxFloor);
  if (is(item, "StreamTimeout")) return seconds(o.stream_timeout, kStreamTimeoutFloor);
  if (is(item, "ResponseTimeout")) return seconds(o.response_timeout, kResponseTimeoutFloor);
  if (is(item, "PassiveTimeout")) return seconds(o.passive_timeout, kPassiveTimeoutFloor);
  return false;
}

// Model "auto" | "BM6" | "BM7" | "BM2", in any case: the monitor's family, or detection.
void parse_model(const oconfig_item_t& opt, const Where& where, DeviceOptions& o, Errors& errors) {
  std::string name;
  if (!get_string(opt, where, name, errors)) return;
  if (::strcasecmp(name.c_str(), "auto") == 0) {
    o.model.reset();
  } else if (const auto family = parse_family(name)) {
    o.model = family;
  } else {
    std::string known = "\"auto\"";
    for (const Family f : kAllFamilies) known += std::string(", \"") + to_string(f) + "\"";
    errors.push_back(where.prefix(opt) + ": \"" + name +
                     "\" is not a monitor model (known: " + known + ")");
  }
}

// Mode "connected" | "passive", in any case: hold a link, or read the advertisements.
void parse_mode(const oconfig_item_t& opt, const Where& where, DeviceOptions& o, Errors& errors) {
  std::string mode;
  if (!get_string(opt, where, mode, errors)) return;
  if (::strcasecmp(mode.c_str(), "connected") == 0) {
    o.passive = false;
  } else if (::strcasecmp(mode.c_str(), "passive") == 0) {
    o.passive = true;
  } else {
    errors.push_back(where.prefix(opt) + ": \"" + mode +
                     "\" is neither \"connected\" nor \"passive\"");
  }
}

// Link "persistent" | "per-read", in any case.
void parse_link(const oconfig_item_t& opt, const Where& where, DeviceOptions& o, Errors& errors) {
  std::string mode;
  if (!get_string(opt, where, mode, errors)) return;
  if (::strcasecmp(mode.c_str(), "persistent") == 0) {
    o.link = LinkMode::kPersistent;
  } else if (::strcasecmp(mode.c_str(), "per-read") == 0) {
    o.link = LinkMode::kPerRead;
  } else {
    errors.push_back(where.prefix(opt) + ": \"" + mode +
                     "\" is neither \"persistent\" nor \"per-read\"");
  }
}

// MaxLinks N: links at once on one adapter, 1 to 64 (no controller holds more).
bool parse_max_links(const oconfig_item_t& opt, const std::string& where, unsigned& out,
                     Errors& errors) {
  const bool number = opt.values_num == 1 && opt.values[0].type == OCONFIG_TYPE_NUMBER;
  const double v = number ? opt.values[0].value.number : 0;
  if (!number || v != std::floor(v) || v < 1 || v > 64) {
    errors.push_back(where + "option \"MaxLinks\" needs a whole number from 1 to 64");
    return false;
  }
  out = static_cast<unsigned>(v);
  return true;
}

bool valid_adapter_name(const std::string& a) {
  return a.size() > 3 && a.size() < 8 && a.rfind("hci", 0) == 0 &&
         a.find_first_not_of("0123456789", 3) == std::string::npos;
}

// ResetAdapter true|false, StuckAfter SECONDS (10 s to a day) in <Adapter "hciN">: a
// controller, so not "unix".
void parse_adapter_watch(const oconfig_item_t& opt, const std::string& name,
                         const std::string& where, PluginConfig& config, Errors& errors) {
  const std::string option = where + "option \"" + opt.key + "\"";
  if (name == "unix") {
    errors.push_back(option + ": simulated devices have no controller to watch or reset");
    return;
  }
  auto& watch = config.adapter_watch[name];
  if (is(opt, "ResetAdapter")) {
    if (opt.values_num != 1 || opt.values[0].type != OCONFIG_TYPE_BOOLEAN)
      errors.push_back(option + " needs true or false");
    else
      watch.reset = opt.values[0].value.boolean != 0;
    return;
  }
  const bool number = opt.values_num == 1 && opt.values[0].type == OCONFIG_TYPE_NUMBER;
  const double s = number ? opt.values[0].value.number : 0;
  // Shorter, and a monitor that is only slow to answer a few times gets its adapter reset.
  if (!number || !std::isfinite(s) || s < 10 || s > 86400) {
    errors.push_back(option + " needs a number of seconds from 10 to 86400");
    return;
  }
  watch.stuck_after = std::chrono::milliseconds(std::llround(s * 1000));
}

// <Adapter "hci0"> MaxLinks N </Adapter> ("unix": the simulated devices' pseudo-adapter).
void parse_adapter_block(const oconfig_item_t& block, PluginConfig& config, Errors& errors) {
  if (block.values_num != 1 || block.values[0].type != OCONFIG_TYPE_STRING) {
    errors.push_back(
        "<Adapter> in <Plugin bm6> needs one quoted adapter name, as in <Adapter \"hci0\">");
    return;
  }
  const std::string name = block.values[0].value.string;
  if (!valid_adapter_name(name) && name != "unix") {
    errors.push_back("<Adapter \"" + name +
                     "\">: not an adapter name like \"hci0\" (or \"unix\" for simulators)");
    return;
  }
  const std::string where = "adapter \"" + name + "\": ";
  for (int i = 0; i < block.children_num; ++i) {
    const auto& opt = block.children[i];
    if (is(opt, "MaxLinks")) {
      unsigned n = 0;
      if (parse_max_links(opt, where, n, errors)) config.adapter_max_links[name] = n;
    } else if (is(opt, "ResetAdapter") || is(opt, "StuckAfter")) {
      parse_adapter_watch(opt, name, where, config, errors);
    } else {
      errors.push_back(where + "unknown option \"" + (opt.key ? opt.key : "") +
                       "\" (known: MaxLinks, ResetAdapter, StuckAfter)");
    }
  }
}

// true|false.
bool get_bool(const oconfig_item_t& opt, const Where& where, bool& out, Errors& errors) {
  if (opt.values_num != 1 || opt.values[0].type != OCONFIG_TYPE_BOOLEAN) {
    errors.push_back(
        where.prefix(opt) + " needs true or false" +
        (opt.values_num == 1 ? std::string(", not ") + value_type(opt.values[0]) : ""));
    return false;
  }
  out = opt.values[0].value.boolean != 0;
  return true;
}

// A whole number of seconds from `lo` to `hi`.
bool get_whole_seconds(const oconfig_item_t& opt, const Where& where, double lo, double hi,
                       std::int64_t& out, Errors& errors) {
  char range[64];
  std::snprintf(range, sizeof range, "from %g to %g", lo, hi);
  if (opt.values_num != 1 || opt.values[0].type != OCONFIG_TYPE_NUMBER) {
    errors.push_back(
        where.prefix(opt) + " needs one whole number of seconds, " + range +
        (opt.values_num == 1 ? std::string(", not ") + value_type(opt.values[0]) : ""));
    return false;
  }
  const double s = opt.values[0].value.number;
  if (!std::isfinite(s) || s != std::floor(s) || s < lo || s > hi) {
    errors.push_back(where.prefix(opt) + " must be a whole number of seconds " + range);
    return false;
  }
  out = static_cast<std::int64_t>(s);
  return true;
}

// BackfillMax SECONDS: the longest gap filled (a monitor keeps ~50 h; 255 pages at most).
void parse_backfill_max(const oconfig_item_t& opt, const Where& where, DeviceOptions& o,
                        Errors& errors) {
  std::int64_t s = 0;
  if (get_whole_seconds(opt, where, 1, 30 * 86400, s, errors))
    o.backfill_max = std::chrono::seconds(s);
}

// RecordPeriod SECONDS: the monitor's time between stored records (120 for a BM6 or BM7;
// the simulator's --record-period): the step of the estimated times.
void parse_record_period(const oconfig_item_t& opt, const Where& where, DeviceOptions& o,
                         Errors& errors) {
  std::int64_t s = 0;
  if (get_whole_seconds(opt, where, 1, 86400, s, errors)) o.record_period = std::chrono::seconds(s);
}

// Backfill options, valid in <Plugin bm6> (defaults) and in <Device>; false if unknown.
bool parse_backfill_option(const oconfig_item_t& item, const Where& where, DeviceOptions& o,
                           Errors& errors) {
  if (is(item, "Backfill")) {
    get_bool(item, where, o.backfill, errors);
  } else if (is(item, "BackfillMax")) {
    parse_backfill_max(item, where, o, errors);
  } else if (is(item, "RecordPeriod")) {
    parse_record_period(item, where, o, errors);
  } else {
    return false;
  }
  return true;
}

// StateDir "/path": an absolute directory for the backfill state files.
void parse_state_dir(const oconfig_item_t& opt, const Where& where, std::string& dir,
                     Errors& errors) {
  if (!get_string(opt, where, dir, errors)) return;
  if (dir.empty() || dir[0] != '/')
    errors.push_back(where.prefix(opt) + ": \"" + dir + "\" is not an absolute path");
}

// ---- <Device> options ----

// Address: validated here; whether another device has it is the block's question.
void parse_address(const oconfig_item_t& opt, const Where& where, DeviceOptions& o,
                   bool& has_address, Errors& errors) {
  if (has_address) {
    errors.push_back(where.prefix(opt) +
                     " is given twice (a device has one address; remove one of them)");
    return;
  }
  if (!get_string(opt, where, o.address, errors)) return;
  has_address = true;
  const std::string problem = validate_address(o.address);
  if (!problem.empty()) errors.push_back(where.prefix(opt) + ": " + problem);
}

void parse_adapter(const oconfig_item_t& opt, const Where& where, DeviceOptions& o,
                   Errors& errors) {
  if (!get_string(opt, where, o.adapter, errors)) return;
  const auto& a = o.adapter;
  if (!valid_adapter_name(a))
    errors.push_back(where.prefix(opt) + ": \"" + a + "\" is not an adapter name like \"hci0\"");
}

void parse_address_type(const oconfig_item_t& opt, const Where& where, DeviceOptions& o,
                        Errors& errors) {
  std::string type;
  if (!get_string(opt, where, type, errors)) return;
  if (::strcasecmp(type.c_str(), "public") == 0) {
    o.random_address = false;
  } else if (::strcasecmp(type.c_str(), "random") == 0) {
    o.random_address = true;
  } else {
    errors.push_back(where.prefix(opt) + ": \"" + type + "\" is neither \"public\" nor \"random\"");
  }
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() >= DATA_MAX_NAME_LEN) return false;
  for (char c : name)
    if (c == '/' || static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

// Devices already accepted, of this block and of earlier ones: names, and addresses by
// address_key() with the device that has it as written.
struct Taken {
  std::set<std::string> names;
  std::map<std::string, std::pair<std::string, std::string>> addresses;  // key -> name, address
};

// A BM6 takes one connection: a second device with the same address, however spelled,
// would be refused by the monitor for as long as the first holds it.
void claim_address(const DeviceOptions& o, Taken& taken, Errors& errors) {
  const auto [it, inserted] =
      taken.addresses.try_emplace(address_key(o.address), o.name, o.address);
  if (inserted) return;
  errors.push_back("device \"" + o.name + "\": option \"Address\": address " + o.address +
                   " belongs to another device already: \"" + it->second.first + "\" has " +
                   it->second.second + " (a BM6 takes one connection)");
}

// Options that contradict each other, or that the device's Model or Mode rules out.
// `passive_temperature_set`: given in the <Device> block itself (a plugin-level default applies to
// the passive devices only).
void check_conflicts(const DeviceOptions& o, bool passive_temperature_set, Errors& errors) {
  const std::string device = "device \"" + o.name + "\": ";
  if (o.reconnect_min > o.reconnect_max)
    errors.push_back(device + "ReconnectMin is greater than ReconnectMax");
  if (o.backfill && o.model && !traits(*o.model).has_history)
    errors.push_back(
        device + "option \"Backfill\": a " + to_string(*o.model) +
        "'s stored history is not supported (only " +
        family_names(families_where([](const FamilyTraits& t) { return t.has_history; }), "and") +
        "); set Backfill false for it");
  if (o.backfill && o.passive)
    errors.push_back(device +
                     "option \"Backfill\": the stored history is downloaded over a link, "
                     "and Mode \"passive\" makes none; use Mode \"connected\" for it");
  if (o.passive && !o.address.empty() && !is_bluetooth_address(o.address))  // empty: missing
    errors.push_back(device + "option \"Address\": Mode \"passive\" " +
                     "reads Bluetooth advertisements, so it needs a Bluetooth address " +
                     "(AA:BB:CC:DD:EE:FF), not \"" + o.address + "\"");
  if (!passive_temperature_set || !o.passive_temperature) return;
  if (!o.passive)
    errors.push_back(device +
                     "option \"PassiveTemperature\": only Mode \"passive\" reads the "
                     "advertisement's byte 10; a connected device's temperature comes from its "
                     "frames");
  else if (o.model && !traits(*o.model).advert.state_and_byte10)
    errors.push_back(device + "option \"PassiveTemperature\": a " + to_string(*o.model) +
                     "'s advertisement has no byte that could be a temperature" +
                     (traits(*o.model).has_temperature
                          ? ""
                          : std::string(" (and a ") + to_string(*o.model) + " has no sensor)"));
}

// One <Device "name"> block: its options on top of the plugin-level defaults. Returns false
// (with errors) if the device cannot be used.
bool parse_device(const oconfig_item_t& dev, const DeviceOptions& defaults, Taken& taken,
                  DeviceConfig& device, Errors& errors, Errors& warnings) {
  const std::size_t errors_before = errors.size();
  if (dev.values_num != 1 || dev.values[0].type != OCONFIG_TYPE_STRING) {
    errors.push_back("<Device> needs one quoted name, as in <Device \"van\">");
    return false;
  }
  device.options = defaults;
  device.options.name = dev.values[0].value.string;
  const Where where{device.options.name, &warnings};
  if (!valid_name(device.options.name)) {
    errors.push_back("device \"" + device.options.name +
                     "\": the name must be 1 to 127 characters with no \"/\"");
    return false;
  }
  if (!taken.names.insert(device.options.name).second) {
    errors.push_back("device \"" + device.options.name + "\" is configured twice");
    return false;
  }
  bool has_address = false, passive_temperature_set = false;
  for (int j = 0; j < dev.children_num; ++j) {
    const auto& opt = dev.children[j];
    if (is(opt, "Address")) {
      parse_address(opt, where, device.options, has_address, errors);
    } else if (is(opt, "Adapter")) {
      parse_adapter(opt, where, device.options, errors);
    } else if (is(opt, "AddressType")) {
      parse_address_type(opt, where, device.options, errors);
    } else if (is(opt, "Interval")) {
      get_seconds(opt, where, device.interval, errors, kIntervalFloor);
    } else if (is(opt, "Model")) {
      parse_model(opt, where, device.options, errors);
    } else if (is(opt, "Mode")) {
      parse_mode(opt, where, device.options, errors);
    } else if (is(opt, "Link")) {
      parse_link(opt, where, device.options, errors);
    } else if (is(opt, "PassiveTemperature")) {
      passive_temperature_set = true;
      get_bool(opt, where, device.options.passive_temperature, errors);
    } else if (!parse_timing(opt, where, device.options, errors) &&
               !parse_backfill_option(opt, where, device.options, errors)) {
      errors.push_back("device \"" + device.options.name + "\": unknown option \"" +
                       (opt.key ? opt.key : "") +
                       "\" (known: Address, AddressType, Adapter, Interval, Model, Mode, Link, "
                       "ConnectTimeout, ReconnectMin, ReconnectMax, StreamTimeout, "
                       "ResponseTimeout, PassiveTimeout, PassiveTemperature, Backfill, "
                       "BackfillMax, RecordPeriod)");
    }
  }
  check_conflicts(device.options, passive_temperature_set, errors);
  if (!has_address)
    errors.push_back("device \"" + device.options.name +
                     "\": option \"Address\" is missing (a Bluetooth address or "
                     "unix:/path/to/socket)");
  else if (validate_address(device.options.address).empty())
    claim_address(device.options, taken, errors);  // even with other mistakes: all at once
  return errors.size() == errors_before;
}

// Plugin-level options: the defaults for every <Device>, wherever they stand in the block.
void parse_defaults(const oconfig_item_t& block, DeviceOptions& defaults, PluginConfig& config,
                    Errors& errors, Errors& warnings) {
  const Where plugin_level{"", &warnings};
  for (int i = 0; i < block.children_num; ++i) {
    const auto& child = block.children[i];
    if (is(child, "Device")) continue;
    if (is(child, "Model")) {
      parse_model(child, plugin_level, defaults, errors);
    } else if (is(child, "Mode")) {
      parse_mode(child, plugin_level, defaults, errors);
    } else if (is(child, "Link")) {
      parse_link(child, plugin_level, defaults, errors);
    } else if (is(child, "MaxLinks")) {
      unsigned n = 0;
      if (parse_max_links(child, "", n, errors)) config.max_links = n;
    } else if (is(child, "Adapter") && child.children_num > 0) {
      parse_adapter_block(child, config, errors);
    } else if (is(child, "StateDir")) {
      parse_state_dir(child, plugin_level, config.state_dir, errors);
    } else if (is(child, "PassiveTemperature")) {
      get_bool(child, plugin_level, defaults.passive_temperature, errors);
    } else if (!parse_timing(child, plugin_level, defaults, errors) &&
               !parse_backfill_option(child, plugin_level, defaults, errors)) {
      errors.push_back(std::string("unknown option \"") + (child.key ? child.key : "") +
                       "\" in <Plugin bm6> (known: Device, Adapter block, Model, Mode, Link, "
                       "MaxLinks, ConnectTimeout, ReconnectMin, ReconnectMax, StreamTimeout, "
                       "ResponseTimeout, PassiveTimeout, PassiveTemperature, Backfill, "
                       "BackfillMax, RecordPeriod, StateDir)");
    }
  }
}

// "/a//b/./c/../d" -> "/a/b/d", by the letters only; a relative path stays relative and
// keeps the ".." it cannot resolve.
std::string lexically_normal(const std::string& path) {
  const bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    const std::size_t end = std::min(path.find('/', i), path.size());
    const std::string part = path.substr(i, end - i);
    i = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);  // above the working directory: keep it
      }                         // "/.." is "/"
      continue;
    }
    parts.push_back(part);
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) out += (k ? "/" : "") + parts[k];
  return out.empty() ? "." : out;
}

// The adapter's own MaxLinks, or the plugin's, or the default; 0: no limit.
unsigned max_links_of(const PluginConfig& config, const std::string& adapter) {
  const auto it = config.adapter_max_links.find(adapter);
  if (it != config.adapter_max_links.end()) return it->second;
  if (config.max_links) return *config.max_links;
  return adapter == "unix" ? 0 : kDefaultMaxLinks;
}

// Each device's MaxLinks from its adapter's <Adapter> block or the plugin's; an adapter with
// more persistent devices than that is an error naming it.
void resolve_max_links(PluginConfig& config, Errors& errors) {
  std::map<std::string, std::vector<std::string>> persistent;  // adapter -> device names
  for (auto& d : config.devices) {
    const bool simulated = d.options.address.rfind("unix:", 0) == 0;
    const std::string adapter = simulated ? "unix" : d.options.adapter;
    d.options.max_links = max_links_of(config, adapter);
    if (d.options.link == LinkMode::kPersistent && !d.options.passive)  // passive: no link
      persistent[adapter].push_back(d.options.name);
  }
  for (const auto& [adapter, names] : persistent) {
    const unsigned max = max_links_of(config, adapter);
    if (max == 0 || names.size() <= max) continue;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "\"" : ", \"") + n + "\"";
    const std::string which =
        adapter.empty() ? std::string("the default adapter") : "adapter \"" + adapter + "\"";
    errors.push_back(which + " has " + std::to_string(names.size()) + " persistent devices (" +
                     list + ") but MaxLinks " + std::to_string(max) +
                     ": each holds a link for good; raise MaxLinks, make some Link "
                     "\"per-read\", or give some another Adapter");
  }
}

}  // namespace

std::string address_key(const std::string& address) {
  if (address.rfind("unix:", 0) != 0) {
    // Bluetooth addresses are hex digits: aa:bb:.. and AA:BB:.. are one device.
    std::string key = address;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return key;
  }
  // A socket path: the letters normalised first ("/d/./a.sock", "/d//a.sock" and
  // "/d/x/../a.sock" are "/d/a.sock"). Then, if its directory exists, the directory is
  // resolved with realpath(): on Debian /var/run is a symlink to /run, and a socket named
  // through both is still one device. The socket itself is not resolved, as a simulator
  // or a proxy may not have created it yet at config time; a directory that does not
  // exist yet keeps the lexical form, which is the same for every spelling of that path
  // that does not go through a symlink.
  const std::string path = lexically_normal(address.substr(5));
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
  const std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  char resolved[PATH_MAX];
  if (file != ".." && ::realpath(dir.c_str(), resolved) != nullptr) {
    const std::string d = resolved;
    return "unix:" + d + (d == "/" ? "" : "/") + file;
  }
  return "unix:" + path;
}

void parse_plugin_block(const oconfig_item_t& block, PluginConfig& config, Errors& errors) {
  Errors warnings;
  parse_plugin_block(block, config, errors, warnings);
}

void parse_plugin_block(const oconfig_item_t& block, PluginConfig& config, Errors& errors,
                        Errors& warnings) {
  const std::size_t errors_before = errors.size();
  DeviceOptions defaults;
  parse_defaults(block, defaults, config, errors, warnings);

  Taken taken;
  for (const auto& d : config.devices) {
    taken.names.insert(d.options.name);
    taken.addresses.try_emplace(address_key(d.options.address), d.options.name, d.options.address);
  }
  std::vector<DeviceConfig> added;
  for (int i = 0; i < block.children_num; ++i) {
    const auto& child = block.children[i];
    if (!is(child, "Device")) continue;
    DeviceConfig device;
    if (parse_device(child, defaults, taken, device, errors, warnings))
      added.push_back(std::move(device));
  }
  if (errors.size() != errors_before) return;
  for (auto& d : added) config.devices.push_back(std::move(d));
  resolve_max_links(config, errors);
}

}  // namespace bm6::plugin
