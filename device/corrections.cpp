#include "device/corrections.h"

#include <strings.h>

#include <cmath>
#include <cstdio>
#include <iterator>

namespace bm6 {

namespace {

// One point of an open-circuit voltage table: a rest voltage and its state of charge.
struct Point {
  double volts;
  double percent;
};

// 12 V flooded lead-acid at 80 F (26.7 C), Battery Council International's table as
// reproduced in "State Of Charge (SOC) measurement"
// (https://studylib.net/doc/18054160/state-of-charge---soc-measurement, "[Source: BCI]").
constexpr Point kLeadAcid[] = {
    {11.89, 0}, {12.06, 25}, {12.24, 50}, {12.45, 75}, {12.65, 100},
};

// 12 V AGM: Concorde's Lifeline AGM batteries, "Knowing when to recharge"
// (https://batterymanagement.concordebattery.com/BatteryImages/manual2.htm); its 100 % is
// "12.80 volts or greater".
constexpr Point kAgm[] = {
    {10.50, 0}, {11.75, 25}, {12.20, 50}, {12.55, 75}, {12.80, 100},
};

// 12 V LiFePO4 (4 cells in series): the "LiFePO4 Voltage Reference" table of
// https://gridwright.com/calculators/solar/lifepo4-voltage-chart, every point as given
// (its 14.6 V is the full charging voltage; at rest a full battery settles near 13.6 V,
// its 99 %). The curve is flat from 30 to 90 %: a few hundredths of a volt there move
// the estimate by tens of percent.
constexpr Point kLifePo4[] = {
    {10.0, 0},  {12.0, 10}, {12.8, 20}, {13.0, 30},  {13.2, 40},
    {13.3, 70}, {13.4, 90}, {13.6, 99}, {14.6, 100},
};

template <std::size_t N>
double interpolate(const Point (&table)[N], double volts) {
  if (std::isnan(volts) || volts <= table[0].volts) return table[0].percent;
  for (std::size_t i = 1; i < N; ++i) {
    if (volts <= table[i].volts) {
      const Point& a = table[i - 1];
      const Point& b = table[i];
      return a.percent + (volts - a.volts) * (b.percent - a.percent) / (b.volts - a.volts);
    }
  }
  return table[N - 1].percent;
}

struct Named {
  Chemistry chemistry;
  const char* name;
};
constexpr Named kNames[] = {
    {Chemistry::kLeadAcid, "lead-acid"},
    {Chemistry::kAgm, "agm"},
    {Chemistry::kLifePo4, "lifepo4"},
};

// "must be from -2 to 2 V" for a value that is not a finite number within +-limit.
std::string offset_problem(double value, double limit, const char* unit) {
  if (std::isfinite(value) && std::fabs(value) <= limit) return "";
  char text[64];
  std::snprintf(text, sizeof text, "must be from %g to %g %s", -limit, limit, unit);
  return text;
}

}  // namespace

std::optional<Chemistry> parse_chemistry(std::string_view name) {
  for (const auto& n : kNames)
    if (name.size() == std::char_traits<char>::length(n.name) &&
        ::strncasecmp(name.data(), n.name, name.size()) == 0)
      return n.chemistry;
  return std::nullopt;
}

const char* to_string(Chemistry c) {
  for (const auto& n : kNames)
    if (n.chemistry == c) return n.name;
  return "?";
}

std::string chemistry_names() {
  std::string list;
  for (const auto& n : kNames) list += (list.empty() ? "\"" : ", \"") + std::string(n.name) + "\"";
  return list;
}

double rest_voltage_soc(Chemistry c, double volts) {
  switch (c) {
    case Chemistry::kLeadAcid:
      return interpolate(kLeadAcid, volts);
    case Chemistry::kAgm:
      return interpolate(kAgm, volts);
    case Chemistry::kLifePo4:
      return interpolate(kLifePo4, volts);
  }
  return 0;
}

// A monitor 2 V off is broken rather than off calibration (the whole span of a 12 V
// battery, empty to full, is about 1-3 V): a larger offset is a typo, such as a voltage
// written where its correction belongs.
std::string voltage_offset_problem(double volts) {
  return offset_problem(volts, kMaxVoltageOffset, "V");
}

// The BM6 reports its chip's temperature, some 18 C above the air's in reports: 30 C
// covers that with room to spare; more is a typo or a Fahrenheit difference.
std::string temperature_offset_problem(double degrees) {
  return offset_problem(degrees, kMaxTemperatureOffset, "degrees C");
}

double corrected_volts(const Corrections& c, double volts) {
  return std::round((volts + c.voltage_offset) * 1000) / 1000;
}

double corrected_temperature(const Corrections& c, double degrees) {
  return std::round((degrees + c.temperature_offset) * 100) / 100;
}

std::optional<double> estimated_soc(const Corrections& c, double corrected_volts) {
  if (!c.chemistry) return std::nullopt;
  return rest_voltage_soc(*c.chemistry, corrected_volts);
}

}  // namespace bm6
