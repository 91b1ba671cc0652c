// bm6ctl's output lines, text and JSON. Everything from outside (names, addresses, paths)
// passes through json_string() or terminal_safe() here; the lines end without '\n'.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "device/corrections.h"
#include "protocol/family.h"
#include "protocol/history.h"
#include "tools/ctl/decode.h"
#include "transport/mgmt_scan.h"

namespace bm6::ctl {

std::string scan_header();
// One device found by scan: a table row, or a JSON object (rssi null when unknown), with the
// reading its advertisements carry (decode_found): in JSON the keys of decode's, or
// "undecoded" with the reason, and the manufacturer data heard as hex strings.
std::string scan_row(const scan::FoundDevice& d, bool json);
// One listening simulator socket found by scan --adapter unix:DIR.
std::string scan_socket_row(const std::string& address, bool json);
// The reading of read: "ADDR: BM7, 11.94 V, -7 C, 23 %, low[, -71 dBm]", or JSON with "model"
// before "voltage"; a reading without temperature (a BM2) has none in either.
std::string reading_line(const std::string& address, Family model, const Reading& r,
                         std::optional<int> rssi, bool json);
// read --config: the reading as the plugin dispatches it for the <Device> `device`, its
// voltage and temperature with the offsets added and, with a Chemistry, the rest-voltage
// estimate: text "ADDR: BM6, 12.45 V, 7 C, 60 %, normal, -71 dBm; \"van\": offsets -0.2 V,
// -18 C; at rest (lead-acid) 75 %"; JSON with "device", "voltage_offset",
// "temperature_offset", and "chemistry" and "soc_estimated" when a Chemistry is set.
std::string corrected_reading_line(const std::string& address, Family model, const Reading& r,
                                   std::optional<int> rssi, bool json, const std::string& device,
                                   const Corrections& corrections);
// decode's answer: one JSON object with the keys of read --json that the input carries
// (address, model, voltage, temperature, soc, state), an advertisement's raw
// "byte10_unconfirmed", and "source".
std::string decoded_json(const std::string& address, const Decoded& d);
// "BM6, 13.51 V, 100 %, charging, byte10 (unconfirmed) 2"; a notification's: "BM6, 13.40 V,
// 23 C, 100 %, normal"; an iBeacon's: "iBeacon, 77 %".
std::string decoded_text(const Decoded& d);

// history: the note that times are estimates (text: a "#" line first; CSV: the header).
std::string history_note(const std::string& address, Family model, std::size_t records,
                         std::chrono::seconds uncertainty);
std::string history_csv_header();
// One stored record with its estimated time: a text row (local time), a CSV row or a JSON
// object (UTC, ISO 8601).
enum class HistoryFormat { kText, kCsv, kJson };
std::string history_row(const std::string& address, const TimedHistoryRecord& r,
                        std::chrono::seconds uncertainty, HistoryFormat format);

}  // namespace bm6::ctl
