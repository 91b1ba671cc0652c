// LE discovery through the kernel's Bluetooth management interface (mgmt), as bluetoothd
// does it: active scanning, so the scan response (where many peripherals put their name) is
// included.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace bm6::scan {

struct Advertisement {
  std::string name;                    // complete or shortened local name
  std::vector<std::uint16_t> uuids16;  // 16-bit service UUIDs
};
// Parses EIR/advertising data (length, type, data...); stops at the first malformed field.
Advertisement parse_eir(std::span<const std::uint8_t> eir);

struct FoundDevice {
  std::string address;   // "AA:BB:CC:DD:EE:FF"
  bool random = false;   // LE address type
  int rssi = 0;          // dBm, strongest seen
  Advertisement advert;  // merged over everything seen
};

// Runs discovery on `adapter_id` for `duration`. Returns false with `error` set when it
// cannot (no permission, no adapter, no kernel support).
bool discover(int adapter_id, std::chrono::milliseconds duration,
              std::map<std::string, FoundDevice>& found, std::string& error);

}  // namespace bm6::scan
