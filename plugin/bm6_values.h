// A reading or a stored record as collectd values, and collectd's time format.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "device/bm6_device.h"
#include "device/corrections.h"
#include "plugin/collectd_api.h"
#include "protocol/history.h"

namespace bm6::plugin {

cdtime_t to_cdtime(std::chrono::system_clock::time_point t);
cdtime_t to_cdtime(std::chrono::milliseconds d);
std::chrono::system_clock::duration from_cdtime(cdtime_t t);

// One value of a reading: the type and type instance it is filed under.
struct Gauge {
  const char* type;
  const char* type_instance;
  double value;
};
struct Gauges {
  Gauge values[6];
  std::size_t count = 0;
};
// The one mapping of a reading to collectd values, for live readings and stored records
// alike: voltage, temperature, percent-charged, gauge-state and signal_power, each only
// when the reading has it. The device's corrections apply here, so to both: voltage and
// temperature with their offsets, and with a Chemistry percent-charged_estimated (the
// rest-voltage estimate from the corrected voltage) after the monitor's percent-charged.
Gauges gauges(const TimedReading& r, const Corrections& corrections = {});
// A stored record as the reading it was: voltage, temperature when known, percent-charged;
// no state, no RSSI.
TimedReading as_reading(const TimedHistoryRecord& r);

// Dispatches gauges(r) through collectd's queue: voltage, temperature (not for a BM2, which
// has no sensor), percent-charged, gauge-state (0 normal, 1 low, 2 charging, 3 critical,
// 4 floating) and, when known, signal_power for `device` (the plugin instance), stamped
// with the frame's arrival time.
void dispatch_reading(const std::string& device, const TimedReading& r, cdtime_t interval,
                      const Corrections& corrections = {});

// Hands `deliver` collectd's value list for each of gauges(r, corrections) in turn, for
// `device` (the plugin instance) on `host` (empty: collectd fills in its own), stamped
// with r.received.
void deliver_gauges(const std::string& device, const char* host, const TimedReading& r,
                    cdtime_t interval, int (*deliver)(const value_list_t*),
                    const Corrections& corrections = {});

// Dispatches the device's health counters as derive-frames_dropped and derive-reconnects
// (they restart at 0 with collectd: a reset is an unknown, never a wrap).
void dispatch_counters(const std::string& device, const ReadingSlot& slot, cdtime_t interval);

// Dispatches duration-time_on_air: the seconds a per-read device's links were up (link up
// to link down) since the previous read; with one link per interval, the time on air of
// the reading dispatched with it.
void dispatch_time_on_air(const std::string& device, double seconds, cdtime_t interval);

}  // namespace bm6::plugin
