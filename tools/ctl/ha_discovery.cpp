#include "tools/ctl/ha_discovery.h"

#include <netdb.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "tools/ctl/cli.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/text.h"
#include "transport/address.h"

#ifndef BM6_VERSION
#error "BM6_VERSION must be defined (the project version, from CMake)"
#endif

namespace bm6::ctl {

namespace {

constexpr double kCollectdInterval = 10;  // collectd's default Interval

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Options a <Plugin bm6> sets for every device and a <Device> for itself.
struct DeviceDefaults {
  std::optional<Family> model;
  bool passive = false;
  bool passive_temperature = false;
};

// Model, Mode, PassiveTemperature: the options discovery needs; the plugin checks the rest.
bool read_device_option(const ConfItem& o, DeviceDefaults& d, const std::string& who,
                        std::string& error) {
  const auto bad = [&](const std::string& what) {
    error = o.where + ": " + who + "option " + quoted(o.key) + ": " + what;
    return false;
  };
  if (o.is("Model")) {
    const auto s = o.string();
    if (!s) return bad("needs one quoted string");
    if (::strcasecmp(s->c_str(), "auto") == 0) {
      d.model.reset();
    } else if (const auto f = parse_family(*s)) {
      d.model = f;
    } else {
      return bad(quoted(*s) + " is not a monitor model");
    }
  } else if (o.is("Mode")) {
    const auto s = o.string();
    if (!s || (::strcasecmp(s->c_str(), "passive") != 0 && ::strcasecmp(s->c_str(), "connected")))
      return bad("needs \"connected\" or \"passive\"");
    d.passive = ::strcasecmp(s->c_str(), "passive") == 0;
  } else if (o.is("PassiveTemperature")) {
    if (!o.boolean()) return bad("needs true or false");
    d.passive_temperature = *o.boolean();
  }
  return true;
}

bool read_device(const ConfItem& block, const DeviceDefaults& defaults, double interval,
                 HaDevice& out, std::string& error) {
  const auto name = block.string();
  if (!name || name->empty()) {
    error = block.where + ": <Device> needs one quoted name, as in <Device \"van\">";
    return false;
  }
  out.name = *name;
  out.interval_s = interval;
  const std::string who = "device " + quoted(*name) + ": ";
  DeviceDefaults d = defaults;
  for (const auto& o : block.children) {
    if (!read_device_option(o, d, who, error)) return false;
    if (o.is("Address") && o.string()) out.address = *o.string();
    if (o.is("Interval") && o.number() && *o.number() > 0) out.interval_s = *o.number();
  }
  std::string why;
  const auto address = DeviceAddress::parse(out.address, why);
  if (!address) {
    error =
        block.where + ": " + who + "option \"Address\": " + (out.address.empty() ? "missing" : why);
    return false;
  }
  out.bluetooth = address->is_bluetooth();
  out.address = address->text();
  out.model = d.model;
  out.passive = d.passive;
  out.passive_temperature = d.passive_temperature;
  return true;
}

bool read_bm6_block(const ConfItem& block, double interval, CollectdSetup& setup,
                    std::string& error) {
  DeviceDefaults defaults;
  for (const auto& o : block.children)
    if (o.children.empty() && !read_device_option(o, defaults, "", error)) return false;
  for (const auto& o : block.children) {
    if (!o.is("Device")) continue;
    HaDevice d;
    if (!read_device(o, defaults, interval, d, error)) return false;
    setup.devices.push_back(std::move(d));
  }
  return true;
}

void read_mqtt_block(const ConfItem& block, CollectdSetup& setup) {
  for (const auto& publish : block.children) {
    if (!publish.is("Publish") || setup.mqtt_host || setup.mqtt_prefix) continue;
    setup.mqtt_host = "localhost";  // the plugin's defaults
    setup.mqtt_prefix = "collectd";
    for (const auto& o : publish.children) {
      if (o.is("Host") && o.string()) setup.mqtt_host = o.string();
      if (o.is("Port") && o.number()) setup.mqtt_port = static_cast<unsigned>(*o.number());
      if (o.is("Port") && o.string()) setup.mqtt_port = std::atoi(o.string()->c_str());
      if (o.is("Prefix") && o.string()) setup.mqtt_prefix = o.string();
      if (o.is("User") && o.string()) setup.mqtt_user = o.string();
      if (o.is("Password") && o.string()) setup.mqtt_password = o.string();
    }
  }
}

// The interval bm6 reads at: <LoadPlugin bm6> Interval, else the global one.
double plugin_interval(const std::vector<ConfItem>& items) {
  double interval = kCollectdInterval;
  for (const auto& i : items)
    if (i.is("Interval") && i.number() && *i.number() > 0) interval = *i.number();
  for (const auto& i : items)
    if (i.is("LoadPlugin") && i.string() == "bm6")
      for (const auto& o : i.children)
        if (o.is("Interval") && o.number() && *o.number() > 0) interval = *o.number();
  return interval;
}

bool is_plugin(const ConfItem& i, const char* name) {
  return i.is("Plugin") && i.string() && ::strcasecmp(i.string()->c_str(), name) == 0;
}

}  // namespace

std::optional<CollectdSetup> collectd_setup(const std::vector<ConfItem>& items,
                                            std::string& error) {
  CollectdSetup setup;
  const double interval = plugin_interval(items);
  for (const auto& i : items) {
    if (i.is("Hostname") && i.string()) setup.hostname = i.string();
    if (i.is("FQDNLookup") && i.boolean()) setup.fqdn_lookup = *i.boolean();
    if (is_plugin(i, "bm6") && !read_bm6_block(i, interval, setup, error)) return std::nullopt;
    if (is_plugin(i, "mqtt")) read_mqtt_block(i, setup);
  }
  return setup;
}

std::string collectd_hostname(const CollectdSetup& setup) {
  if (setup.hostname) return *setup.hostname;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  if (!setup.fqdn_lookup) return name;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_CANONNAME;
  addrinfo* found = nullptr;
  std::string out = name;
  if (::getaddrinfo(name, nullptr, &hints, &found) == 0) {
    for (const addrinfo* a = found; a; a = a->ai_next)
      if (a->ai_canonname && *a->ai_canonname) {
        out = a->ai_canonname;
        break;
      }
    ::freeaddrinfo(found);
  }
  return out;
}

std::string ha_node_id(const HaDevice& device) {
  std::string why;
  const auto address = DeviceAddress::parse(device.address, why);
  if (address && address->is_bluetooth()) {
    std::string hex;
    for (const char c : to_string(address->bdaddr()))
      if (c != ':') hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "bm6_" + hex;
  }
  std::uint64_t h = 0xcbf29ce484222325u;  // FNV-1a, 64 bits: stable across runs and builds
  for (const unsigned char c : device.address) h = (h ^ c) * 0x100000001b3u;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("bm6_sim_") + buf;
}

std::string collectd_value_topic(const HaTopics& t, const std::string& device,
                                 const std::string& type) {
  std::string topic = t.hostname + "/bm6-" + device + "/" + type;
  if (!t.state_prefix.empty()) topic = t.state_prefix + "/" + topic;
  for (char& c : topic)
    if (c == '#' || c == '+') c = '_';  // as collectd's mqtt plugin does
  return topic;
}

namespace {

struct SensorSpec {
  const char* key;  // the object id and the unique id's end
  const char* name;
  const char* type;  // collectd's type[-instance]
  const char* device_class;
  const char* unit;
  const char* state_class;
  const char* entity_category;
  int precision;  // suggested_display_precision; -1: none
};

const SensorSpec kSensors[] = {
    {"voltage", "Voltage", "voltage", "voltage", "V", "measurement", nullptr, 2},
    {"temperature", "Temperature", "temperature", "temperature", "°C", "measurement", nullptr, 0},
    {"charge", "Charge", "percent-charged", "battery", "%", "measurement", nullptr, 0},
    {"state", "State", "gauge-state", "enum", nullptr, nullptr, nullptr, -1},
    {"rssi", "Signal strength", "signal_power", "signal_strength", "dBm", "measurement",
     "diagnostic", 0},
};

bool has_sensor(const HaDevice& d, const std::string& key) {
  const bool bm2 = d.model == Family::kBm2;
  if (key == "temperature") return !bm2 && (!d.passive || d.passive_temperature);
  if (key == "state") return !(bm2 && d.passive);
  if (key == "rssi") return d.bluetooth;
  return true;
}

// collectd's payload is "TIME:VALUE" followed by a NUL byte, which HA keeps in the string.
constexpr const char* kValue = "value.split(':')[1].rstrip('\\x00')";

std::string value_template(const SensorSpec& s) {
  if (std::string(s.key) != "state") return std::string("{{ ") + kValue + " }}";
  std::string names;
  for (unsigned i = 0; i < static_cast<unsigned>(kStateCount); ++i)
    names += std::string(i ? "," : "") + "'" + to_string(static_cast<State>(i)) + "'";
  return "{{ [" + names + "][" + kValue + " | int] }}";
}

std::string state_options() {
  std::string out;
  for (unsigned i = 0; i < static_cast<unsigned>(kStateCount); ++i)
    out += std::string(i ? "," : "") + json_string(to_string(static_cast<State>(i)));
  return "[" + out + "]";
}

std::string device_json(const HaDevice& d, const std::string& node) {
  std::string out = "{\"identifiers\":[" + json_string(node) + "],\"name\":" + json_string(d.name) +
                    ",\"manufacturer\":\"Leagend\"";
  if (d.model) out += ",\"model\":" + json_string(to_string(*d.model));
  if (d.bluetooth) out += ",\"connections\":[[\"bluetooth\"," + json_string(d.address) + "]]";
  return out + "}";
}

std::string sensor_json(const HaDevice& d, const HaTopics& t, const SensorSpec& s,
                        const std::string& node) {
  std::string out = "{\"name\":" + json_string(s.name) +
                    ",\"unique_id\":" + json_string(node + "_" + s.key) +
                    ",\"state_topic\":" + json_string(collectd_value_topic(t, d.name, s.type)) +
                    ",\"value_template\":" + json_string(value_template(s)) +
                    ",\"device_class\":" + json_string(s.device_class);
  if (s.unit) out += ",\"unit_of_measurement\":" + json_string(s.unit);
  if (s.state_class) out += ",\"state_class\":" + json_string(s.state_class);
  if (s.entity_category) out += ",\"entity_category\":" + json_string(s.entity_category);
  if (s.precision >= 0) out += ",\"suggested_display_precision\":" + std::to_string(s.precision);
  if (std::string(s.key) == "state") out += ",\"options\":" + state_options();
  const unsigned expire =
      t.expire_after ? *t.expire_after : static_cast<unsigned>(std::ceil(3 * d.interval_s));
  if (expire > 0) out += ",\"expire_after\":" + std::to_string(expire);
  return out + ",\"device\":" + device_json(d, node) +
         ",\"origin\":{\"name\":\"bm6-collectd\",\"sw_version\":\"" BM6_VERSION "\"}}";
}

}  // namespace

std::vector<MqttMessage> ha_messages(const HaDevice& device, const HaTopics& t, bool remove) {
  const std::string node = ha_node_id(device);
  std::vector<MqttMessage> out;
  for (const auto& s : kSensors) {
    if (!has_sensor(device, s.key)) continue;
    MqttMessage m;
    m.topic = t.discovery_prefix + "/sensor/" + node + "/" + s.key + "/config";
    if (!remove) m.payload = sensor_json(device, t, s, node);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace bm6::ctl
