#include "tools/ctl/format.h"

#include <cstdio>

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

}  // namespace bm6::ctl
