#include "plugin/bm6_config.h"

#include <strings.h>

#include <cmath>
#include <set>

#include "transport/connector.h"

namespace bm6::plugin {

namespace {

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
  std::string device;  // empty at plugin level
  std::string prefix(const oconfig_item_t& item) const {
    const std::string option = std::string("option \"") + item.key + "\"";
    return device.empty() ? option : "device \"" + device + "\": " + option;
  }
};

bool get_string(const oconfig_item_t& item, const Where& where, std::string& out,
                std::vector<std::string>& errors) {
  if (item.values_num != 1 || item.values[0].type != OCONFIG_TYPE_STRING) {
    errors.push_back(
        where.prefix(item) + " needs exactly one quoted string" +
        (item.values_num == 1 ? std::string(", not ") + value_type(item.values[0]) : ""));
    return false;
  }
  out = item.values[0].value.string;
  return true;
}

// A duration in seconds, > 0 and at most a day.
bool get_seconds(const oconfig_item_t& item, const Where& where, std::chrono::milliseconds& out,
                 std::vector<std::string>& errors) {
  if (item.values_num != 1 || item.values[0].type != OCONFIG_TYPE_NUMBER) {
    errors.push_back(
        where.prefix(item) + " needs one number of seconds" +
        (item.values_num == 1 ? std::string(", not ") + value_type(item.values[0]) : ""));
    return false;
  }
  const double s = item.values[0].value.number;
  if (!std::isfinite(s) || s < 0.001 || s > 86400) {
    errors.push_back(where.prefix(item) + " must be from 0.001 to 86400 seconds");
    return false;
  }
  out = std::chrono::milliseconds(std::llround(s * 1000));
  return true;
}

// Timing options valid both in <Plugin bm6> (defaults) and in <Device>; false if unknown.
bool parse_timing(const oconfig_item_t& item, const Where& where, DeviceOptions& o,
                  std::vector<std::string>& errors) {
  if (is(item, "ConnectTimeout")) return get_seconds(item, where, o.connect_timeout, errors), true;
  if (is(item, "ReconnectMin")) return get_seconds(item, where, o.reconnect_min, errors), true;
  if (is(item, "ReconnectMax")) return get_seconds(item, where, o.reconnect_max, errors), true;
  if (is(item, "StreamTimeout")) return get_seconds(item, where, o.stream_timeout, errors), true;
  if (is(item, "ResponseTimeout"))
    return get_seconds(item, where, o.response_timeout, errors), true;
  return false;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() >= DATA_MAX_NAME_LEN) return false;
  for (char c : name)
    if (c == '/' || static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

}  // namespace

void parse_plugin_block(const oconfig_item_t& block, PluginConfig& config,
                        std::vector<std::string>& errors) {
  const std::size_t errors_before = errors.size();
  DeviceOptions defaults;
  const Where plugin_level;
  // Plugin-level defaults first, wherever they stand in the block.
  for (int i = 0; i < block.children_num; ++i) {
    const auto& child = block.children[i];
    if (is(child, "Device")) continue;
    if (!parse_timing(child, plugin_level, defaults, errors))
      errors.push_back(std::string("unknown option \"") + (child.key ? child.key : "") +
                       "\" in <Plugin bm6> (known: Device, ConnectTimeout, ReconnectMin, "
                       "ReconnectMax, StreamTimeout, ResponseTimeout)");
  }

  std::set<std::string> names, addresses;
  for (const auto& d : config.devices) {
    names.insert(d.options.name);
    addresses.insert(d.options.address);
  }
  std::vector<DeviceConfig> added;
  for (int i = 0; i < block.children_num; ++i) {
    const auto& dev = block.children[i];
    if (!is(dev, "Device")) continue;
    DeviceConfig device;
    device.options = defaults;
    if (dev.values_num != 1 || dev.values[0].type != OCONFIG_TYPE_STRING) {
      errors.push_back("<Device> needs one quoted name, as in <Device \"van\">");
      continue;
    }
    device.options.name = dev.values[0].value.string;
    const Where where{device.options.name};
    if (!valid_name(device.options.name)) {
      errors.push_back("device \"" + device.options.name +
                       "\": the name must be 1 to 127 characters with no \"/\"");
      continue;
    }
    if (!names.insert(device.options.name).second) {
      errors.push_back("device \"" + device.options.name + "\" is configured twice");
      continue;
    }
    bool has_address = false;
    for (int j = 0; j < dev.children_num; ++j) {
      const auto& opt = dev.children[j];
      if (is(opt, "Address")) {
        if (!get_string(opt, where, device.options.address, errors)) continue;
        has_address = true;
        const std::string problem = validate_address(device.options.address);
        if (!problem.empty()) {
          errors.push_back(where.prefix(opt) + ": " + problem);
        } else if (!addresses.insert(device.options.address).second) {
          errors.push_back(where.prefix(opt) + ": address " + device.options.address +
                           " belongs to another device already (a BM6 takes one connection)");
        }
      } else if (is(opt, "Adapter")) {
        if (get_string(opt, where, device.options.adapter, errors)) {
          const auto& a = device.options.adapter;
          const bool ok = a.size() > 3 && a.size() < 8 && a.rfind("hci", 0) == 0 &&
                          a.find_first_not_of("0123456789", 3) == std::string::npos;
          if (!ok)
            errors.push_back(where.prefix(opt) + ": \"" + a +
                             "\" is not an adapter name like \"hci0\"");
        }
      } else if (is(opt, "AddressType")) {
        std::string type;
        if (get_string(opt, where, type, errors)) {
          if (::strcasecmp(type.c_str(), "public") == 0) {
            device.options.random_address = false;
          } else if (::strcasecmp(type.c_str(), "random") == 0) {
            device.options.random_address = true;
          } else {
            errors.push_back(where.prefix(opt) + ": \"" + type +
                             "\" is neither \"public\" nor \"random\"");
          }
        }
      } else if (is(opt, "Interval")) {
        get_seconds(opt, where, device.interval, errors);
      } else if (!parse_timing(opt, where, device.options, errors)) {
        errors.push_back(
            "device \"" + device.options.name + "\": unknown option \"" + (opt.key ? opt.key : "") +
            "\" (known: Address, AddressType, Adapter, Interval, ConnectTimeout, ReconnectMin, "
            "ReconnectMax, StreamTimeout, ResponseTimeout)");
      }
    }
    if (!has_address)
      errors.push_back("device \"" + device.options.name +
                       "\": option \"Address\" is missing (a Bluetooth address or "
                       "unix:/path/to/socket)");
    if (device.options.reconnect_min > device.options.reconnect_max)
      errors.push_back("device \"" + device.options.name +
                       "\": ReconnectMin is greater than ReconnectMax");
    added.push_back(std::move(device));
  }
  if (errors.size() != errors_before) return;
  for (auto& d : added) config.devices.push_back(std::move(d));
}

}  // namespace bm6::plugin
