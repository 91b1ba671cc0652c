// device/corrections: the rest-voltage curves against the points of their public tables,
// interpolation between them, clamping beyond them; the offsets and their bounds.
#include "device/corrections.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace bm6 {
namespace {

struct TablePoint {
  Chemistry chemistry;
  double volts;
  double percent;
};

// Every point of each source's table, as printed there (device/corrections.cpp names them).
const TablePoint kSourcePoints[] = {
    // BCI, 12 V flooded lead-acid at 80 F.
    {Chemistry::kLeadAcid, 12.65, 100},
    {Chemistry::kLeadAcid, 12.45, 75},
    {Chemistry::kLeadAcid, 12.24, 50},
    {Chemistry::kLeadAcid, 12.06, 25},
    {Chemistry::kLeadAcid, 11.89, 0},
    // Concorde Lifeline AGM.
    {Chemistry::kAgm, 12.80, 100},
    {Chemistry::kAgm, 12.55, 75},
    {Chemistry::kAgm, 12.20, 50},
    {Chemistry::kAgm, 11.75, 25},
    {Chemistry::kAgm, 10.50, 0},
    // gridwright's 12 V LiFePO4 reference.
    {Chemistry::kLifePo4, 14.6, 100},
    {Chemistry::kLifePo4, 13.6, 99},
    {Chemistry::kLifePo4, 13.4, 90},
    {Chemistry::kLifePo4, 13.3, 70},
    {Chemistry::kLifePo4, 13.2, 40},
    {Chemistry::kLifePo4, 13.0, 30},
    {Chemistry::kLifePo4, 12.8, 20},
    {Chemistry::kLifePo4, 12.0, 10},
    {Chemistry::kLifePo4, 10.0, 0},
};

TEST(RestVoltageSoc, GivesEverySourcePointExactly) {
  for (const auto& p : kSourcePoints)
    EXPECT_NEAR(rest_voltage_soc(p.chemistry, p.volts), p.percent, 1e-9)
        << to_string(p.chemistry) << " at " << p.volts << " V";
}

TEST(RestVoltageSoc, InterpolatesLinearlyBetweenPoints) {
  // Half-way between BCI's 12.24 V (50 %) and 12.45 V (75 %).
  EXPECT_NEAR(rest_voltage_soc(Chemistry::kLeadAcid, 12.345), 62.5, 1e-9);
  // A quarter of the way from AGM 12.20 V (50 %) to 12.55 V (75 %).
  EXPECT_NEAR(rest_voltage_soc(Chemistry::kAgm, 12.2875), 56.25, 1e-9);
  // LiFePO4's plateau: 13.25 V is half-way from 40 to 70 %.
  EXPECT_NEAR(rest_voltage_soc(Chemistry::kLifePo4, 13.25), 55, 1e-9);
  EXPECT_NEAR(rest_voltage_soc(Chemistry::kLifePo4, 11.0), 5, 1e-9);
}

TEST(RestVoltageSoc, RisesWithTheVoltageAcrossEachTable) {
  for (const Chemistry c : {Chemistry::kLeadAcid, Chemistry::kAgm, Chemistry::kLifePo4}) {
    double before = -1;
    for (double v = 9.0; v <= 15.5; v += 0.01) {
      const double soc = rest_voltage_soc(c, v);
      EXPECT_GE(soc, before) << to_string(c) << " at " << v << " V";
      before = soc;
    }
  }
}

TEST(RestVoltageSoc, ClampsToZeroAndAHundred) {
  EXPECT_EQ(rest_voltage_soc(Chemistry::kLeadAcid, 11.0), 0);
  EXPECT_EQ(rest_voltage_soc(Chemistry::kLeadAcid, 14.4), 100);  // on charge: not a rest value
  EXPECT_EQ(rest_voltage_soc(Chemistry::kAgm, 0), 0);
  EXPECT_EQ(rest_voltage_soc(Chemistry::kAgm, 13.2), 100);
  EXPECT_EQ(rest_voltage_soc(Chemistry::kLifePo4, -3), 0);
  EXPECT_EQ(rest_voltage_soc(Chemistry::kLifePo4, 15.0), 100);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(rest_voltage_soc(Chemistry::kLifePo4, nan), 0);
  EXPECT_EQ(rest_voltage_soc(Chemistry::kLifePo4, inf), 100);
  EXPECT_EQ(rest_voltage_soc(Chemistry::kLifePo4, -inf), 0);
}

TEST(Chemistry, NamesInAnyCaseAndNothingElse) {
  EXPECT_EQ(parse_chemistry("lead-acid"), Chemistry::kLeadAcid);
  EXPECT_EQ(parse_chemistry("AGM"), Chemistry::kAgm);
  EXPECT_EQ(parse_chemistry("LiFePO4"), Chemistry::kLifePo4);
  EXPECT_EQ(parse_chemistry("lifepo"), std::nullopt);
  EXPECT_EQ(parse_chemistry("lifepo4 "), std::nullopt);
  EXPECT_EQ(parse_chemistry(""), std::nullopt);
  EXPECT_EQ(parse_chemistry("lithium"), std::nullopt);
  EXPECT_STREQ(to_string(Chemistry::kLifePo4), "lifepo4");
  EXPECT_EQ(chemistry_names(), "\"lead-acid\", \"agm\", \"lifepo4\"");
}

TEST(Offsets, AreAddedAndRoundedToTheResolutionWritersShow) {
  Corrections c;
  c.voltage_offset = 0.1;
  c.temperature_offset = -18.5;
  EXPECT_EQ(corrected_volts(c, 12.74), 12.84);  // exactly the double 12.84, no noise
  EXPECT_EQ(corrected_temperature(c, 23), 4.5);
  EXPECT_EQ(corrected_volts(Corrections{}, 12.74), 12.74);
  EXPECT_EQ(corrected_temperature(Corrections{}, -4), -4);
}

TEST(Offsets, EstimateOnlyWithAChemistry) {
  Corrections c;
  EXPECT_EQ(estimated_soc(c, 12.24), std::nullopt);
  c.chemistry = Chemistry::kLeadAcid;
  EXPECT_NEAR(*estimated_soc(c, 12.24), 50, 1e-9);
}

TEST(Offsets, BoundsRefuseTyposAndNonNumbers) {
  EXPECT_EQ(voltage_offset_problem(0), "");
  EXPECT_EQ(voltage_offset_problem(2), "");
  EXPECT_EQ(voltage_offset_problem(-2), "");
  EXPECT_EQ(voltage_offset_problem(2.01), "must be from -2 to 2 V");
  EXPECT_EQ(voltage_offset_problem(-12.8), "must be from -2 to 2 V");
  EXPECT_EQ(voltage_offset_problem(std::nan("")), "must be from -2 to 2 V");
  EXPECT_EQ(voltage_offset_problem(std::numeric_limits<double>::infinity()),
            "must be from -2 to 2 V");
  EXPECT_EQ(temperature_offset_problem(-30), "");
  EXPECT_EQ(temperature_offset_problem(30.5), "must be from -30 to 30 degrees C");
  EXPECT_EQ(temperature_offset_problem(-std::numeric_limits<double>::infinity()),
            "must be from -30 to 30 degrees C");
}

}  // namespace
}  // namespace bm6
