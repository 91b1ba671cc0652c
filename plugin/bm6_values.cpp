#include "plugin/bm6_values.h"

#include <cstring>
#include <optional>

namespace bm6::plugin {

namespace {
void copy(char (&dst)[DATA_MAX_NAME_LEN], const char* src) {
  std::strncpy(dst, src, DATA_MAX_NAME_LEN - 1);
  dst[DATA_MAX_NAME_LEN - 1] = '\0';
}
}  // namespace

cdtime_t to_cdtime(std::chrono::system_clock::time_point t) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const auto u = static_cast<std::uint64_t>(ns);
  return ((u / 1000000000u) << 30) | ((((u % 1000000000u) << 30) + 500000000u) / 1000000000u);
}

cdtime_t to_cdtime(std::chrono::milliseconds d) {
  const auto u = static_cast<std::uint64_t>(d.count());
  return ((u / 1000u) << 30) | ((((u % 1000u) << 30) + 500u) / 1000u);
}

std::chrono::system_clock::duration from_cdtime(cdtime_t t) {
  const std::uint64_t ns =
      (t >> 30) * 1000000000u + (((t & 0x3fffffffu) * 1000000000u + (1u << 29)) >> 30);
  return std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(ns));
}

Gauges gauges(const TimedReading& r, const Corrections& corrections) {
  Gauges out;
  auto add = [&out](const char* type, const char* type_instance, double value) {
    out.values[out.count++] = {type, type_instance, value};
  };
  // Passive mode: a BM2's advertisement has no state, an iBeacon only the charge.
  const std::optional<double> volts =
      r.voltage_known ? std::optional(corrected_volts(corrections, r.reading.volts()))
                      : std::nullopt;
  if (volts) add("voltage", "", *volts);
  // A BM2 has no temperature sensor: no temperature value, rather than a made-up one.
  if (r.reading.temperature_c)
    add("temperature", "",
        corrected_temperature(corrections, static_cast<double>(*r.reading.temperature_c)));
  add("percent", "charged", static_cast<double>(r.reading.soc_percent));
  // The monitor's own charge stays as it is; the estimate goes beside it, never for it.
  if (const auto estimate = volts ? estimated_soc(corrections, *volts) : std::nullopt)
    add("percent", "charged_estimated", *estimate);
  // 0 normal, 1 low, 2 charging, 3 critical, 4 floating (the last two: BM2 only).
  if (r.state_known) add("gauge", "state", static_cast<double>(static_cast<int>(r.reading.state)));
  if (r.rssi_dbm) add("signal_power", "", static_cast<double>(*r.rssi_dbm));  // no radio, none
  return out;
}

TimedReading as_reading(const TimedHistoryRecord& r) {
  TimedReading out;
  out.reading.centivolts = r.record.centivolts;
  out.reading.temperature_c = r.record.temperature_c;
  out.reading.soc_percent = r.record.soc_percent;
  out.received = r.at;
  out.state_known = false;  // a record has none
  return out;
}

void deliver_gauges(const std::string& device, const char* host, const TimedReading& r,
                    cdtime_t interval, int (*deliver)(const value_list_t*),
                    const Corrections& corrections) {
  const Gauges g = gauges(r, corrections);
  value_t value;
  value_list_t vl{};
  vl.values = &value;
  vl.values_len = 1;
  vl.time = to_cdtime(r.received);
  vl.interval = interval;
  copy(vl.host, host);
  copy(vl.plugin, "bm6");
  copy(vl.plugin_instance, device.c_str());
  for (std::size_t i = 0; i < g.count; ++i) {
    value.gauge = g.values[i].value;
    copy(vl.type, g.values[i].type);
    copy(vl.type_instance, g.values[i].type_instance);
    deliver(&vl);  // collectd copies the list
  }
}

void dispatch_reading(const std::string& device, const TimedReading& r, cdtime_t interval,
                      const Corrections& corrections) {
  deliver_gauges(device, "", r, interval, plugin_dispatch_values, corrections);
}

void dispatch_counters(const std::string& device, const ReadingSlot& slot, cdtime_t interval) {
  value_t value;
  value_list_t vl{};
  vl.values = &value;
  vl.values_len = 1;
  vl.time = to_cdtime(std::chrono::system_clock::now());
  vl.interval = interval;
  copy(vl.plugin, "bm6");
  copy(vl.plugin_instance, device.c_str());
  // DERIVE, not COUNTER: both start at 0 with each collectd start, and a COUNTER that goes
  // down is taken for a 32- or 64-bit wrap, stored as a rate of ~1e9/s or more; a DERIVE
  // with min 0 (types.db: derive) stores the drop as unknown.
  copy(vl.type, "derive");
  value.derive = static_cast<derive_t>(slot.frames_dropped.load(std::memory_order_relaxed));
  copy(vl.type_instance, "frames_dropped");
  plugin_dispatch_values(&vl);
  value.derive = static_cast<derive_t>(slot.reconnects.load(std::memory_order_relaxed));
  copy(vl.type_instance, "reconnects");
  plugin_dispatch_values(&vl);
}

void dispatch_time_on_air(const std::string& device, double seconds, cdtime_t interval) {
  value_t value;
  value.gauge = seconds;
  value_list_t vl{};
  vl.values = &value;
  vl.values_len = 1;
  vl.time = to_cdtime(std::chrono::system_clock::now());
  vl.interval = interval;
  copy(vl.plugin, "bm6");
  copy(vl.plugin_instance, device.c_str());
  copy(vl.type, "duration");  // types.db: seconds, GAUGE, 0 to U
  copy(vl.type_instance, "time_on_air");
  plugin_dispatch_values(&vl);
}

}  // namespace bm6::plugin
