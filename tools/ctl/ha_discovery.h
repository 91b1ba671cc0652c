// bm6ctl ha-discovery: Home Assistant MQTT discovery messages for the monitors configured in
// collectd, whose values collectd's mqtt plugin publishes as
// PREFIX/HOST/bm6-DEVICE/TYPE[-INSTANCE] with the payload "TIME:VALUE" (and a NUL byte).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "protocol/family.h"
#include "tools/ctl/collectd_conf.h"
#include "tools/ctl/mqtt_publish.h"

namespace bm6::ctl {

struct Command;

// One <Device> of <Plugin bm6>, as far as discovery needs it.
struct HaDevice {
  std::string name;             // the plugin instance: bm6-NAME
  std::string address;          // as written: AA:BB:CC:DD:EE:FF or unix:/path
  bool bluetooth = false;       // false: a simulator's socket (no radio, no RSSI)
  std::optional<Family> model;  // unset: "auto"
  bool passive = false;         // Mode "passive"
  bool passive_temperature = false;
  double interval_s = 10;  // the device's, else the plugin's, else collectd's
};

// What the collectd configuration says: the devices, the host name in the value topics,
// and the first <Plugin mqtt> <Publish> block's broker, prefix and credentials.
struct CollectdSetup {
  std::vector<HaDevice> devices;
  std::optional<std::string> hostname;  // Hostname; unset: the system's (see below)
  bool fqdn_lookup = true;              // FQDNLookup
  std::optional<std::string> mqtt_host, mqtt_prefix, mqtt_user, mqtt_password;
  std::optional<unsigned> mqtt_port;
};

// The setup from parsed items, or an error naming the place ("FILE:LINE: device \"van\":
// option \"Address\": ...").
std::optional<CollectdSetup> collectd_setup(const std::vector<ConfItem>& items, std::string& error);
// collectd's own host name when the configuration sets none: gethostname(), made fully
// qualified through getaddrinfo(AI_CANONNAME) unless FQDNLookup is false.
std::string collectd_hostname(const CollectdSetup& setup);

struct HaTopics {
  std::string hostname;
  std::string state_prefix = "collectd";  // collectd's mqtt Prefix
  std::string discovery_prefix = "homeassistant";
  std::optional<unsigned> expire_after;  // unset: 3 of the device's intervals; 0: never
};

// "bm6_aabbccddeeff" for a Bluetooth address; "bm6_sim_" and a hash of the path for a
// simulator's socket: the HA device identifier and the discovery topics' node id.
std::string ha_node_id(const HaDevice& device);
// The value topic of one collectd type (and instance), as collectd's mqtt plugin forms it:
// '#' and '+' become '_'.
std::string collectd_value_topic(const HaTopics& t, const std::string& device,
                                 const std::string& type);
// The retained discovery messages of one device: voltage, temperature (not for a BM2, nor
// passive without PassiveTemperature), charge, state (not for a passive BM2), RSSI (not
// for a simulator's socket). `remove`: the same topics with empty payloads.
std::vector<MqttMessage> ha_messages(const HaDevice& device, const HaTopics& t, bool remove);

int run_ha_discovery(const Command& cmd);

}  // namespace bm6::ctl
