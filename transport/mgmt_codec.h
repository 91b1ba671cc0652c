// The kernel's Bluetooth management protocol (mgmt, BlueZ doc/mgmt-api.txt) as bytes: the
// opcodes and events this project uses, the status codes with their text, the command
// packets, and the events parsed. Every user of a management socket (the advertisement
// scanner, discovery, the advertiser, the power cycle) goes through it; nothing here does
// I/O (transport/mgmt_socket.h opens the socket).
//
// A packet is a 6-byte header (opcode or event code, controller index, parameter length;
// little-endian, as every multi-byte field) and the parameters. Addresses travel least
// significant byte first; Address here holds them most significant byte first, as written.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bm6::mgmt {

// Commands.
inline constexpr std::uint16_t kOpReadInfo = 0x0004;  // Read Controller Information
inline constexpr std::uint16_t kOpSetPowered = 0x0005;
inline constexpr std::uint16_t kOpDisconnect = 0x0014;
inline constexpr std::uint16_t kOpGetConnections = 0x0015;
inline constexpr std::uint16_t kOpStartDiscovery = 0x0023;
inline constexpr std::uint16_t kOpStopDiscovery = 0x0024;
inline constexpr std::uint16_t kOpAddDevice = 0x0033;
inline constexpr std::uint16_t kOpRemoveDevice = 0x0034;
inline constexpr std::uint16_t kOpAddAdvertising = 0x003e;
inline constexpr std::uint16_t kOpRemoveAdvertising = 0x003f;
inline constexpr std::uint16_t kOpReadMonitorFeatures = 0x0051;
inline constexpr std::uint16_t kOpAddPatternsMonitor = 0x0052;
inline constexpr std::uint16_t kOpRemoveMonitor = 0x0053;
// "Read Controller Information", ...; "command 0xNNNN" for one not listed above.
std::string op_name(std::uint16_t opcode);

// Events.
inline constexpr std::uint16_t kEvCommandComplete = 0x0001;
inline constexpr std::uint16_t kEvCommandStatus = 0x0002;
inline constexpr std::uint16_t kEvIndexAdded = 0x0004;
inline constexpr std::uint16_t kEvIndexRemoved = 0x0005;
inline constexpr std::uint16_t kEvNewSettings = 0x0006;
inline constexpr std::uint16_t kEvDeviceConnected = 0x000b;
inline constexpr std::uint16_t kEvDeviceDisconnected = 0x000c;
inline constexpr std::uint16_t kEvDeviceFound = 0x0012;
inline constexpr std::uint16_t kEvDeviceRemoved = 0x001b;
inline constexpr std::uint16_t kEvMonitorRemoved = 0x0029;
inline constexpr std::uint16_t kEvMonitorDeviceFound = 0x002f;

// Status codes (mgmt-api.txt, "Status codes"), those the code acts on.
inline constexpr std::uint8_t kStatusSuccess = 0x00;
inline constexpr std::uint8_t kStatusNoResources = 0x07;
inline constexpr std::uint8_t kStatusBusy = 0x0a;
inline constexpr std::uint8_t kStatusInvalidParameters = 0x0d;
inline constexpr std::uint8_t kStatusInvalidIndex = 0x11;
inline constexpr std::uint8_t kStatusPermissionDenied = 0x14;
// Every code of mgmt-api.txt in words ("busy", "invalid index (no such adapter)", ...);
// "unknown status 0xNN" for any other.
std::string status_text(std::uint8_t status);

// Address types, and Start Discovery's mask of them.
inline constexpr std::uint8_t kAddrBrEdr = 0, kAddrLePublic = 1, kAddrLeRandom = 2;
inline constexpr std::uint8_t kDiscoverLe = 1u << kAddrLePublic | 1u << kAddrLeRandom;
inline constexpr std::uint32_t kSettingPowered = 1u << 0;  // Current_Settings bit 0
// Add Device's action: the kernel scans for the device in the background and reports it.
inline constexpr std::uint8_t kActionBackgroundScan = 0x00;
// Read Advertisement Monitor Features: Supported_Features bit 0 (the controller offloads
// monitors, and would filter by their patterns).
inline constexpr std::uint32_t kMonitorOffloadOrPatterns = 1u << 0;
// Add Advertising flags.
inline constexpr std::uint32_t kAdvConnectable = 1u << 0;   // connectable, identity address
inline constexpr std::uint32_t kAdvDiscoverable = 1u << 1;  // the kernel prepends Flags (3 bytes)
// Legacy advertising data and scan response: at most 31 bytes each, Flags included.
inline constexpr std::size_t kMaxLegacyData = 31;

inline constexpr std::size_t kHeaderSize = 6;

using Address = std::array<std::uint8_t, 6>;  // most significant byte first
Address address_from_wire(std::span<const std::uint8_t, 6> wire);
void address_to_wire(const Address& address, std::span<std::uint8_t, 6> wire);

// Little-endian fields, as every management field is.
std::uint16_t le16(const std::uint8_t* p);
std::uint32_t le32(const std::uint8_t* p);

// --- Commands ------------------------------------------------------------------------

// A command packet: the header, then `params`.
std::vector<std::uint8_t> encode_command(std::uint16_t opcode, std::uint16_t index,
                                         std::span<const std::uint8_t> params = {});
std::vector<std::uint8_t> encode_set_powered(std::uint16_t index, bool on);
// Add Device / Remove Device of an LE address (random: its type is LE random, else public).
std::vector<std::uint8_t> encode_add_device(std::uint16_t index, const Address& address,
                                            bool random, std::uint8_t action);
std::vector<std::uint8_t> encode_remove_device(std::uint16_t index, const Address& address,
                                               bool random);
// Disconnect (Address, Address_Type) and Get Connections (no parameters).
std::vector<std::uint8_t> encode_disconnect(std::uint16_t index, const Address& address,
                                            std::uint8_t address_type);
std::vector<std::uint8_t> encode_get_connections(std::uint16_t index);
std::vector<std::uint8_t> encode_remove_monitor(std::uint16_t index, std::uint16_t handle);
// Add Advertisement Patterns Monitor with one pattern: AD type `ad_type` at `offset`,
// `value` (at most 31 bytes; more is cut).
std::vector<std::uint8_t> encode_add_patterns_monitor(std::uint16_t index, std::uint8_t ad_type,
                                                      std::uint8_t offset,
                                                      std::span<const std::uint8_t> value);

struct AdvertisingInstance {
  std::uint8_t id = 1;  // 1-254
  std::uint32_t flags = 0;
  std::vector<std::uint8_t> adv_data;  // AD structures (length, type, data...)
  std::vector<std::uint8_t> scan_rsp;
  // Seconds until the kernel removes the instance by itself (0: never): re-adding starts it
  // again, so an advertiser that dies without removing its instances (SIGKILL) leaves them
  // for this long only. The kernel refuses a timeout while the adapter is powered off.
  std::uint16_t timeout_s = 0;
  bool operator==(const AdvertisingInstance&) const = default;
};
// Add Advertising: nullopt when a data field is over 255 bytes (the kernel checks the rest).
std::optional<std::vector<std::uint8_t>> encode_add_advertising(std::uint16_t index,
                                                                const AdvertisingInstance& i);
std::vector<std::uint8_t> encode_remove_advertising(std::uint16_t index, std::uint8_t instance);

// --- Events --------------------------------------------------------------------------

struct Event {
  std::uint16_t code = 0;
  std::uint16_t index = 0;
  std::span<const std::uint8_t> params;  // points into the packet
};
// nullopt when the packet is shorter than its header or its length field does not match
// the packet's size (the kernel sends one event per datagram, exactly).
std::optional<Event> decode_event(std::span<const std::uint8_t> packet);

// A Command Complete or Command Status event.
struct CommandReply {
  std::uint16_t index = 0;
  std::uint16_t opcode = 0;
  std::uint8_t status = 0;             // kStatusSuccess, or what went wrong
  std::span<const std::uint8_t> data;  // Command Complete's return parameters
};
std::optional<CommandReply> decode_command_reply(const Event& event);
std::optional<CommandReply> decode_command_reply(std::span<const std::uint8_t> packet);

// An address and its type: Disconnect's return parameters, a Get Connections entry, the
// start of Device Connected and Device Disconnected (whose Reason follows).
struct DeviceAddressType {
  Address address{};
  std::uint8_t type = 0;
  auto operator<=>(const DeviceAddressType&) const = default;
};
// nullopt when shorter than 7 bytes.
std::optional<DeviceAddressType> decode_address_type(std::span<const std::uint8_t> params);
// Get Connections' return parameters: Connection_Count, then that many addresses and types;
// nullopt when the count does not match the length.
std::optional<std::vector<DeviceAddressType>> decode_connections(
    std::span<const std::uint8_t> data);

// Device Found's parameters (Adv Monitor Device Found's after its monitor handle).
struct DeviceFound {
  Address address{};
  std::uint8_t address_type = 0;  // kAddrBrEdr, kAddrLePublic, kAddrLeRandom
  std::int8_t rssi = 0;           // dBm as sent; 127: the controller has none
  std::uint32_t flags = 0;
  std::span<const std::uint8_t> data;  // the AD (EIR) bytes; points into the packet
  bool le() const { return address_type == kAddrLePublic || address_type == kAddrLeRandom; }
  bool random() const { return address_type == kAddrLeRandom; }
  std::optional<int> rssi_dbm() const {
    return rssi == 127 ? std::nullopt : std::optional<int>(rssi);
  }
};
// nullopt when shorter than the fixed fields or the AD length does not match what follows.
std::optional<DeviceFound> decode_device_found(std::span<const std::uint8_t> params);
std::optional<DeviceFound> decode_monitor_device_found(std::span<const std::uint8_t> params);

}  // namespace bm6::mgmt
