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

}  // namespace

std::string scan_header() {
  return padded("ADDRESS", 17) + "  " + padded("TYPE", 6) + "  " + padded("NAME", 12) + "  RSSI";
}

std::string scan_row(const scan::FoundDevice& d, bool json) {
  const std::string type = d.random ? "random" : "public";
  if (json) {
    const std::string rssi = d.rssi == kNoRssi ? "null" : std::to_string(d.rssi);
    return "{\"address\":" + json_string(d.address) + ",\"address_type\":\"" + type +
           "\",\"name\":" + json_string(d.advert.name) + ",\"rssi\":" + rssi + "}";
  }
  const std::string rssi = d.rssi == kNoRssi ? "n/a" : std::to_string(d.rssi) + " dBm";
  const std::string name = d.advert.name.empty() ? "-" : terminal_safe(d.advert.name);
  return padded(terminal_safe(d.address), 17) + "  " + padded(type, 6) + "  " + padded(name, 12) +
         "  " + rssi;
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
