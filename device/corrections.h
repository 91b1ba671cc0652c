// The owner's corrections of a monitor's values: offsets added to its voltage and
// temperature (VoltageOffset, TemperatureOffset), and a second state of charge estimated
// from the voltage with the battery's own rest-voltage curve (Chemistry). Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bm6 {

// The battery behind the monitor, for the rest-voltage estimate: 12 V flooded lead-acid,
// 12 V AGM, or a 12 V LiFePO4 of four cells in series.
enum class Chemistry { kLeadAcid, kAgm, kLifePo4 };

// "lead-acid", "agm" or "lifepo4", in any case; nullopt for anything else.
std::optional<Chemistry> parse_chemistry(std::string_view name);
const char* to_string(Chemistry c);
// "\"lead-acid\", \"agm\", \"lifepo4\"": the names parse_chemistry knows, for messages.
std::string chemistry_names();

// The state of charge in percent (0 to 100) that the chemistry's open-circuit voltage
// table gives for `volts`, linearly interpolated between its points and clamped at its
// ends. Only meaningful for a battery at rest (no load, no charge for some hours): under
// load it reads low, while charging high. The tables and their sources are in the .cpp.
double rest_voltage_soc(Chemistry c, double volts);

// The bounds of the offsets (the .cpp says why); beyond them it is a configuration error.
constexpr double kMaxVoltageOffset = 2.0;       // volts, either way
constexpr double kMaxTemperatureOffset = 30.0;  // degrees C, either way

// "" when `volts` can be a VoltageOffset, else what it must be ("must be from -2 to 2 V").
std::string voltage_offset_problem(double volts);
// The same for a TemperatureOffset in degrees C.
std::string temperature_offset_problem(double degrees);

struct Corrections {
  double voltage_offset = 0;             // volts, added to every voltage the monitor reports
  double temperature_offset = 0;         // degrees C, added to every temperature it reports
  std::optional<Chemistry> chemistry{};  // set: a rest-voltage estimate beside its own
  bool operator==(const Corrections&) const = default;
};

// The monitor's voltage with the offset added, to the millivolt (the monitor's own
// resolution is 10 mV; the rounding keeps 12.74 + 0.1 from reaching writers as
// 12.840000000000002).
double corrected_volts(const Corrections& c, double volts);
// Its temperature with the offset added, to the hundredth of a degree.
double corrected_temperature(const Corrections& c, double degrees);
// The estimate from the corrected voltage, when a Chemistry is set.
std::optional<double> estimated_soc(const Corrections& c, double corrected_volts);

}  // namespace bm6
