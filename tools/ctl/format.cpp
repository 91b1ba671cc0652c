#include "tools/ctl/format.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "tools/ctl/text.h"

namespace bm6::ctl {

namespace {

std::string padded(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// The controller's "RSSI not available" (HCI: 127).
constexpr int kNoRssi = 127;

// The fields of a decoded reading after "{\"address\":...", each with its leading comma.
std::string decoded_fields(const Decoded& d) {
  std::string out;
  if (d.model) out += std::string(",\"model\":\"") + to_string(*d.model) + "\"";
  if (d.centivolts) {
    char volts[32];
    std::snprintf(volts, sizeof volts, ",\"voltage\":%.2f", *d.centivolts / 100.0);
    out += volts;
  }
  if (d.temperature_c) out += ",\"temperature\":" + std::to_string(*d.temperature_c);
  out += ",\"soc\":" + std::to_string(d.soc_percent);
  if (d.state) out += std::string(",\"state\":\"") + to_string(*d.state) + "\"";
  if (d.byte10) out += ",\"byte10_unconfirmed\":" + std::to_string(*d.byte10);
  return out + ",\"source\":\"" + to_string(d.source) + "\"";
}

}  // namespace

std::string decoded_json(const std::string& address, const Decoded& d) {
  return "{\"address\":" + json_string(address) + decoded_fields(d) + "}";
}

std::string decoded_text(const Decoded& d) {
  std::string out = d.source == Decoded::Source::kIBeacon ? "iBeacon"
                    : d.model                             ? to_string(*d.model)
                                                          : "?";
  if (d.centivolts) {
    char volts[32];
    std::snprintf(volts, sizeof volts, ", %.2f V", *d.centivolts / 100.0);
    out += volts;
  }
  if (d.temperature_c) out += ", " + std::to_string(*d.temperature_c) + " C";
  out += ", " + std::to_string(d.soc_percent) + " %";
  if (d.state) out += std::string(", ") + to_string(*d.state);
  if (d.byte10) out += ", byte10 (unconfirmed) " + std::to_string(*d.byte10);
  return out;
}

std::string scan_header() {
  return padded("ADDRESS", 17) + "  " + padded("TYPE", 6) + "  " + padded("NAME", 12) + "  " +
         padded("RSSI", 8) + "  READING";
}

std::string scan_row(const scan::FoundDevice& d, bool json) {
  const std::string type = d.random ? "random" : "public";
  std::string why;
  const auto reading = decode_found(d, why);
  const auto& data = d.advert.manufacturer_data;
  if (json) {
    const std::string rssi = d.rssi == kNoRssi ? "null" : std::to_string(d.rssi);
    std::string out = "{\"address\":" + json_string(d.address) + ",\"address_type\":\"" + type +
                      "\",\"name\":" + json_string(d.advert.name) + ",\"rssi\":" + rssi;
    if (reading)
      out += decoded_fields(*reading);
    else if (!why.empty())
      out += ",\"undecoded\":" + json_string(why);
    out += ",\"manufacturer_data\":[";
    for (std::size_t i = 0; i < data.size(); ++i) out += (i ? ",\"" : "\"") + hex(data[i]) + "\"";
    return out + "]}";
  }
  const std::string rssi = d.rssi == kNoRssi ? "n/a" : std::to_string(d.rssi) + " dBm";
  const std::string name = d.advert.name.empty() ? "-" : terminal_safe(d.advert.name);
  // Undecoded data is shown as the newest field's hex (escaped all the same).
  const std::string shown = reading       ? decoded_text(*reading)
                            : why.empty() ? "-"
                                          : "undecoded (" + why + "): " + hex(data.back());
  return padded(terminal_safe(d.address), 17) + "  " + padded(type, 6) + "  " + padded(name, 12) +
         "  " + padded(rssi, 8) + "  " + terminal_safe(shown);
}

std::string scan_socket_row(const std::string& address, bool json) {
  return json ? "{\"address\":" + json_string(address) + "}" : terminal_safe(address);
}

std::string reading_line(const std::string& address, Family model, const Reading& r,
                         std::optional<int> rssi, bool json) {
  char values[160];
  if (json) {
    const std::string temperature =
        r.temperature_c ? ",\"temperature\":" + std::to_string(*r.temperature_c) : "";
    std::snprintf(
        values, sizeof values, "\"model\":\"%s\",\"voltage\":%.2f%s,\"soc\":%u,\"state\":\"%s\"",
        to_string(model), r.volts(), temperature.c_str(), r.soc_percent, to_string(r.state));
    return "{\"address\":" + json_string(address) + "," + values +
           (rssi ? ",\"rssi\":" + std::to_string(*rssi) : "") + "}";
  }
  const std::string temperature = r.temperature_c ? std::to_string(*r.temperature_c) + " C, " : "";
  std::snprintf(values, sizeof values, "%s, %.2f V, %s%u %%, %s", to_string(model), r.volts(),
                temperature.c_str(), r.soc_percent, to_string(r.state));
  return terminal_safe(address) + ": " + values +
         (rssi ? ", " + std::to_string(*rssi) + " dBm" : "");
}

namespace {
// A corrected value as short as it is exact: 12.45, 6.5, 75, 86.25.
std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}
// A voltage as read prints it (12.40 V), with the millivolt an offset may add (12.405 V).
std::string volts_text(double v) {
  char text[32];
  const bool centivolts = std::fabs(v * 100 - std::round(v * 100)) < 1e-6;
  std::snprintf(text, sizeof text, centivolts ? "%.2f" : "%.3f", v);
  return text;
}
}  // namespace

std::string corrected_reading_line(const std::string& address, Family model, const Reading& r,
                                   std::optional<int> rssi, bool json, const std::string& device,
                                   const Corrections& corrections) {
  const double volts = corrected_volts(corrections, r.volts());
  // A BM2 has no sensor: no temperature (and no "C" field), as in reading_line.
  const bool has_temperature = r.temperature_c.has_value();
  const double temperature =
      corrected_temperature(corrections, static_cast<double>(r.temperature_c.value_or(0)));
  const std::optional<double> estimate = estimated_soc(corrections, volts);
  const char* chemistry = corrections.chemistry ? to_string(*corrections.chemistry) : "";
  if (json) {
    std::string out = "{\"address\":" + json_string(address) +
                      ",\"device\":" + json_string(device) + ",\"model\":\"" + to_string(model) +
                      "\",\"voltage\":" + number(volts);
    if (has_temperature) out += ",\"temperature\":" + number(temperature);
    out += ",\"soc\":" + std::to_string(r.soc_percent);
    if (estimate)
      out += ",\"soc_estimated\":" + number(*estimate) + ",\"chemistry\":\"" + chemistry + "\"";
    out += std::string(",\"state\":\"") + to_string(r.state) + "\"";
    if (rssi) out += ",\"rssi\":" + std::to_string(*rssi);
    return out + ",\"voltage_offset\":" + number(corrections.voltage_offset) +
           ",\"temperature_offset\":" + number(corrections.temperature_offset) + "}";
  }
  std::string out =
      terminal_safe(address) + ": " + to_string(model) + ", " + volts_text(volts) + " V, " +
      (has_temperature ? number(temperature) + " C, " : "") + std::to_string(r.soc_percent) +
      " %, " + to_string(r.state) + (rssi ? ", " + std::to_string(*rssi) + " dBm" : "") + "; " +
      terminal_safe("\"" + device + "\"") + ": offsets " + number(corrections.voltage_offset) +
      " V, " + number(corrections.temperature_offset) + " C";
  if (estimate) out += std::string("; at rest (") + chemistry + ") " + number(*estimate) + " %";
  return out;
}

namespace {
std::string clock_time(std::chrono::system_clock::time_point t, bool utc) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (utc)
    ::gmtime_r(&s, &tm);
  else
    ::localtime_r(&s, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}
}  // namespace

std::string history_note(const std::string& address, Family model, std::size_t records,
                         std::chrono::seconds uncertainty) {
  if (records == 0) return "# " + terminal_safe(address) + ": " + to_string(model) + ", no records";
  return "# " + terminal_safe(address) + ": " + to_string(model) + ", " + std::to_string(records) +
         " stored records, oldest first; times are estimated: each record was taken up to " +
         std::to_string(uncertainty.count()) + " s before the time shown";
}

std::string history_csv_header() {
  return "time,epoch,uncertainty_s,voltage,soc,temperature,event,slot";
}

std::string history_row(const std::string& address, const TimedHistoryRecord& t,
                        std::chrono::seconds uncertainty, HistoryFormat format) {
  const HistoryRecord& r = t.record;
  const long long epoch =
      std::chrono::duration_cast<std::chrono::seconds>(t.at.time_since_epoch()).count();
  char values[200];
  switch (format) {
    case HistoryFormat::kJson: {
      const std::string temperature =
          r.temperature_c ? std::to_string(*r.temperature_c) : std::string("null");
      std::snprintf(values, sizeof values,
                    "\"time\":\"%s\",\"epoch\":%lld,\"uncertainty_s\":%lld,\"voltage\":%.2f,"
                    "\"soc\":%u,\"temperature\":%s,\"event\":%u,\"slot\":%u",
                    clock_time(t.at, true).c_str(), epoch,
                    static_cast<long long>(uncertainty.count()), r.volts(), r.soc_percent,
                    temperature.c_str(), r.event, r.slot);
      return "{\"address\":" + json_string(address) + "," + values + "}";
    }
    case HistoryFormat::kCsv: {
      const std::string temperature = r.temperature_c ? std::to_string(*r.temperature_c) : "";
      std::snprintf(values, sizeof values, "%s,%lld,%lld,%.2f,%u,%s,%u,%u",
                    clock_time(t.at, true).c_str(), epoch,
                    static_cast<long long>(uncertainty.count()), r.volts(), r.soc_percent,
                    temperature.c_str(), r.event, r.slot);
      return values;
    }
    case HistoryFormat::kText:
      break;
  }
  const std::string temperature =
      r.temperature_c ? std::to_string(*r.temperature_c) + " C" : std::string("? C");
  std::snprintf(values, sizeof values, "%s  %6.2f V  %3u %%  %5s  event %u",
                clock_time(t.at, false).c_str(), r.volts(), r.soc_percent, temperature.c_str(),
                r.event);
  return values;
}

}  // namespace bm6::ctl
