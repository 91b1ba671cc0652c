// LE discovery through the kernel's Bluetooth management interface (mgmt), as bluetoothd
// does it: active scanning, so the scan response (where many peripherals put their name) is
// included.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "transport/advertising_data.h"
#include "transport/link_error.h"

namespace bm6::scan {

using Bytes = std::vector<std::uint8_t>;

// Name, 16-bit service UUIDs and manufacturer data (transport/advertising_data.h).
using Advertisement = ad::Advertisement;

struct FoundDevice {
  std::string address;   // "AA:BB:CC:DD:EE:FF"
  bool random = false;   // LE address type
  int rssi = 0;          // dBm, strongest seen
  Advertisement advert;  // merged over everything seen; manufacturer_data: see below
  // The distinct manufacturer data fields heard, oldest first, at most kMaxManufacturerData
  // (a monitor alternates two advertisements, and its data changes with its reading).
  static constexpr std::size_t kMaxManufacturerData = 8;
};
// Merges one report's manufacturer data into `d.advert.manufacturer_data`: a field heard
// again moves to the end; the oldest go beyond the limit.
void merge_manufacturer_data(FoundDevice& d, const std::vector<Bytes>& fields);

// Runs discovery on `adapter_id` for `duration`. Returns false with `error` set when it
// cannot (no permission, no adapter, no kernel support).
bool discover(int adapter_id, std::chrono::milliseconds duration,
              std::map<std::string, FoundDevice>& found, LinkError& error);

}  // namespace bm6::scan
