// plugin/bm6_values: the one mapping of a live reading or a stored record to collectd
// values, and the value lists handed to collectd.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plugin/bm6_values.h"

// What collectd was handed through plugin_dispatch_values (the plugin's live path).
namespace {
struct Handed {
  std::string host, plugin, plugin_instance, type, type_instance;
  double value;
  cdtime_t time, interval;
};
std::vector<Handed> g_handed;
int record(const value_list_t* vl) {
  g_handed.push_back({vl->host, vl->plugin, vl->plugin_instance, vl->type, vl->type_instance,
                      vl->values[0].gauge, vl->time, vl->interval});
  return 0;
}
}  // namespace
extern "C" int plugin_dispatch_values(value_list_t const* vl) { return record(vl); }

namespace bm6::plugin {
namespace {

using Sys = std::chrono::system_clock;

std::vector<std::string> names(const Gauges& g) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < g.count; ++i)
    out.push_back(std::string(g.values[i].type) + "-" + g.values[i].type_instance);
  return out;
}

TimedReading live() {
  TimedReading r;
  r.reading = Reading{1274, 21, 87, State::kCharging};
  r.received = Sys::time_point(std::chrono::seconds(1'750'000'000));
  r.rssi_dbm = -67;
  return r;
}

TEST(Gauges, LiveReadingCarriesEveryValueItHas) {
  const Gauges g = gauges(live());
  EXPECT_EQ(names(g), (std::vector<std::string>{"voltage-", "temperature-", "percent-charged",
                                                "gauge-state", "signal_power-"}));
  EXPECT_DOUBLE_EQ(g.values[0].value, 12.74);
  EXPECT_DOUBLE_EQ(g.values[1].value, 21);
  EXPECT_DOUBLE_EQ(g.values[2].value, 87);
  EXPECT_DOUBLE_EQ(g.values[3].value, 2);  // charging
  EXPECT_DOUBLE_EQ(g.values[4].value, -67);
}

TEST(Gauges, WhatAReadingDoesNotHaveIsNotDispatched) {
  TimedReading r = live();  // a passive BM2's: no state, no temperature, no link RSSI
  r.reading.temperature_c.reset();
  r.state_known = false;
  r.rssi_dbm.reset();
  EXPECT_EQ(names(gauges(r)), (std::vector<std::string>{"voltage-", "percent-charged"}));
  r.voltage_known = false;  // an iBeacon's: the charge only
  EXPECT_EQ(names(gauges(r)), (std::vector<std::string>{"percent-charged"}));
}

TEST(Gauges, RecordIsVoltageTemperatureAndChargeAtItsTime) {
  TimedHistoryRecord rec;
  rec.record.centivolts = 1311;
  rec.record.soc_percent = 64;
  rec.record.temperature_c = 18;
  rec.at = Sys::time_point(std::chrono::seconds(1'750'000'120));
  const TimedReading r = as_reading(rec);
  EXPECT_EQ(r.received, rec.at);
  const Gauges g = gauges(r);
  EXPECT_EQ(names(g), (std::vector<std::string>{"voltage-", "temperature-", "percent-charged"}));
  EXPECT_DOUBLE_EQ(g.values[0].value, 13.11);
  EXPECT_DOUBLE_EQ(g.values[1].value, 18);
  EXPECT_DOUBLE_EQ(g.values[2].value, 64);
  rec.record.temperature_c.reset();  // the byte was >= 0x80: no temperature
  EXPECT_EQ(names(gauges(as_reading(rec))),
            (std::vector<std::string>{"voltage-", "percent-charged"}));
}

TEST(DeliverGauges, EachValueGoesOutForTheDeviceOnTheHostAtTheReadingsTime) {
  g_handed.clear();
  const TimedReading r = live();
  deliver_gauges("van", "pi", r, to_cdtime(std::chrono::milliseconds(10'000)), record);
  ASSERT_EQ(g_handed.size(), 5u);
  for (const auto& h : g_handed) {
    EXPECT_EQ(h.host, "pi");
    EXPECT_EQ(h.plugin, "bm6");
    EXPECT_EQ(h.plugin_instance, "van");
    EXPECT_EQ(h.time, to_cdtime(r.received));
    EXPECT_EQ(h.interval, cdtime_t{10} << 30);
  }
  EXPECT_EQ(g_handed[3].type, "gauge");
  EXPECT_EQ(g_handed[3].type_instance, "state");
}

TEST(DispatchReading, GoesThroughCollectdsQueueWhichFillsInTheHost) {
  g_handed.clear();
  dispatch_reading("boat", live(), 1u << 30);
  ASSERT_EQ(g_handed.size(), 5u);
  EXPECT_EQ(g_handed[0].host, "");
  EXPECT_EQ(g_handed[0].plugin_instance, "boat");
  EXPECT_EQ(g_handed[0].type, "voltage");
  EXPECT_DOUBLE_EQ(g_handed[0].value, 12.74);
}

}  // namespace
}  // namespace bm6::plugin

namespace bm6::plugin {
namespace {

Corrections van_corrections() {
  Corrections c;
  c.voltage_offset = -0.2;
  c.temperature_offset = -18;
  c.chemistry = Chemistry::kLeadAcid;
  return c;
}

TEST(Corrections, LiveReadingGetsOffsetsAndTheEstimateBesideTheMonitorsCharge) {
  const Gauges g = gauges(live(), van_corrections());
  EXPECT_EQ(names(g), (std::vector<std::string>{"voltage-", "temperature-", "percent-charged",
                                                "percent-charged_estimated", "gauge-state",
                                                "signal_power-"}));
  EXPECT_DOUBLE_EQ(g.values[0].value, 12.54);  // 12.74 - 0.2
  EXPECT_DOUBLE_EQ(g.values[1].value, 3);      // 21 - 18
  EXPECT_DOUBLE_EQ(g.values[2].value, 87);     // the monitor's own, as it is
  // BCI: 12.45 V is 75 %, 12.65 V 100 %; 12.54 V is 45 % of the way.
  EXPECT_NEAR(g.values[3].value, 86.25, 1e-9);
  EXPECT_DOUBLE_EQ(g.values[4].value, 2);
}

TEST(Corrections, RecordsGetTheSameCorrections) {
  TimedHistoryRecord rec;
  rec.record.centivolts = 1265;
  rec.record.soc_percent = 64;
  rec.record.temperature_c = 30;
  const Gauges g = gauges(as_reading(rec), van_corrections());
  EXPECT_EQ(names(g), (std::vector<std::string>{"voltage-", "temperature-", "percent-charged",
                                                "percent-charged_estimated"}));
  EXPECT_DOUBLE_EQ(g.values[0].value, 12.45);
  EXPECT_DOUBLE_EQ(g.values[1].value, 12);
  EXPECT_DOUBLE_EQ(g.values[2].value, 64);
  EXPECT_NEAR(g.values[3].value, 75, 1e-9);  // BCI's 12.45 V, from the corrected voltage
}

TEST(Corrections, NoVoltageNoEstimateAndNoChemistryNoEstimate) {
  TimedReading r = live();
  r.voltage_known = false;  // an iBeacon's
  EXPECT_EQ(names(gauges(r, van_corrections())),
            (std::vector<std::string>{"temperature-", "percent-charged", "gauge-state",
                                      "signal_power-"}));
  Corrections offsets_only = van_corrections();
  offsets_only.chemistry.reset();
  EXPECT_EQ(names(gauges(live(), offsets_only)),
            (std::vector<std::string>{"voltage-", "temperature-", "percent-charged", "gauge-state",
                                      "signal_power-"}));
}

TEST(Corrections, DispatchAndDeliverCarryThem) {
  g_handed.clear();
  dispatch_reading("van", live(), 1u << 30, van_corrections());
  ASSERT_EQ(g_handed.size(), 6u);
  EXPECT_DOUBLE_EQ(g_handed[0].value, 12.54);
  EXPECT_EQ(g_handed[3].type, "percent");
  EXPECT_EQ(g_handed[3].type_instance, "charged_estimated");
  g_handed.clear();
  deliver_gauges("van", "pi", live(), 1u << 30, record, van_corrections());
  ASSERT_EQ(g_handed.size(), 6u);
  EXPECT_DOUBLE_EQ(g_handed[1].value, 3);
}

}  // namespace
}  // namespace bm6::plugin
