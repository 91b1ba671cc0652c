// What an AdvScanner registered with the kernel (mgmt Add Device), kept in a small file.
//
// The kernel keeps an Add Device entry after the process that added it is gone: a collectd
// killed (kill -9, OOM, power cut with the adapter's entries restored by nothing but its next
// start) leaves its addresses scanned for ever. The file says which addresses this program
// added, so its next start removes those it no longer wants, and never an address it did not
// add (bluetoothd adds its own: paired devices, auto-connect). An address goes into the file
// before its Add Device is sent, and out of it after its Remove Device is.
//
// One line per address: "AA:BB:CC:DD:EE:FF public" (or "random"); anything else is ignored.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bm6 {

struct RegisteredAddress {
  std::array<std::uint8_t, 6> address{};  // most significant byte first, as written
  bool random_address = false;
  auto operator<=>(const RegisteredAddress&) const = default;
};
using RegisteredAddresses = std::set<RegisteredAddress>;

// DIR/passive-hciN.registered: one record per adapter.
std::string registration_record_path(const std::string& dir, int adapter_index);

RegisteredAddresses parse_registration_record(std::string_view text);
std::string format_registration_record(const RegisteredAddresses& addresses);

// The file I/O, all of it: a missing file reads as empty. Neither follows a symlink nor waits
// on a FIFO planted at `path` (O_NOFOLLOW, O_NONBLOCK, a regular file only, at most 64 KiB);
// writing goes to a fresh temporary name (mkostemp) renamed over `path`. false with `error`
// set on failure.
bool read_registration_file(const std::string& path, std::string& text, std::string& error);
bool write_registration_file(const std::string& path, const std::string& text, std::string& error);
// The adapters whose record in `dir` is a non-empty regular file (symlinks not followed):
// what a killed run may have left, wherever its devices are configured now.
std::vector<int> adapters_with_registrations(const std::string& dir);

}  // namespace bm6
