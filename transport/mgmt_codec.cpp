#include "transport/mgmt_codec.h"

#include <algorithm>
#include <cstdio>

namespace bm6::mgmt {

namespace {

constexpr std::size_t kDeviceFoundFixed = 14;  // address 6, type 1, rssi 1, flags 4, length 2

void put_le16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}

std::vector<std::uint8_t> header(std::uint16_t opcode, std::uint16_t index, std::size_t length) {
  std::vector<std::uint8_t> p;
  p.reserve(kHeaderSize + length);
  put_le16(p, opcode);
  put_le16(p, index);
  put_le16(p, static_cast<std::uint16_t>(length));
  return p;
}

std::vector<std::uint8_t> device_command(std::uint16_t opcode, std::uint16_t index,
                                         const Address& address, bool random,
                                         std::optional<std::uint8_t> action) {
  std::uint8_t p[8];
  address_to_wire(address, std::span<std::uint8_t, 6>(p, 6));
  p[6] = random ? kAddrLeRandom : kAddrLePublic;
  if (action) p[7] = *action;
  return encode_command(opcode, index, {p, action ? 8u : 7u});
}

}  // namespace

std::string op_name(std::uint16_t opcode) {
  switch (opcode) {
    case kOpReadInfo:
      return "Read Controller Information";
    case kOpSetPowered:
      return "Set Powered";
    case kOpDisconnect:
      return "Disconnect";
    case kOpGetConnections:
      return "Get Connections";
    case kOpStartDiscovery:
      return "Start Discovery";
    case kOpStopDiscovery:
      return "Stop Discovery";
    case kOpAddDevice:
      return "Add Device";
    case kOpRemoveDevice:
      return "Remove Device";
    case kOpAddAdvertising:
      return "Add Advertising";
    case kOpRemoveAdvertising:
      return "Remove Advertising";
    case kOpReadMonitorFeatures:
      return "Read Advertisement Monitor Features";
    case kOpAddPatternsMonitor:
      return "Add Advertisement Patterns Monitor";
    case kOpRemoveMonitor:
      return "Remove Advertisement Monitor";
    default: {
      char text[16];
      std::snprintf(text, sizeof text, "command 0x%04x", opcode);
      return text;
    }
  }
}

std::string status_text(std::uint8_t status) {
  // mgmt-api.txt's table, in its order; a few words say what the code means to a user.
  static constexpr const char* kText[] = {
      "success",                                        // 0x00
      "unknown command (kernel too old)",               // 0x01
      "not connected",                                  // 0x02
      "failed",                                         // 0x03
      "connect failed",                                 // 0x04
      "authentication failed",                          // 0x05
      "not paired",                                     // 0x06
      "no resources",                                   // 0x07
      "timeout",                                        // 0x08
      "already connected",                              // 0x09
      "busy",                                           // 0x0a
      "rejected (LE off, or the adapter powered off)",  // 0x0b
      "not supported",                                  // 0x0c
      "invalid parameters",                             // 0x0d
      "disconnected",                                   // 0x0e
      "not powered (the adapter is powered off)",       // 0x0f
      "cancelled",                                      // 0x10
      "invalid index (no such adapter)",                // 0x11
      "rfkilled (the adapter is blocked by rfkill)",    // 0x12
      "already paired",                                 // 0x13
      "permission denied",                              // 0x14
  };
  if (status < std::size(kText)) return kText[status];
  char text[24];
  std::snprintf(text, sizeof text, "unknown status 0x%02x", status);
  return text;
}

Address address_from_wire(std::span<const std::uint8_t, 6> wire) {
  Address a{};
  std::reverse_copy(wire.begin(), wire.end(), a.begin());
  return a;
}

void address_to_wire(const Address& address, std::span<std::uint8_t, 6> wire) {
  std::reverse_copy(address.begin(), address.end(), wire.begin());
}

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }

std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0] | p[1] << 8 | p[2] << 16 | std::uint32_t(p[3]) << 24);
}

std::vector<std::uint8_t> encode_command(std::uint16_t opcode, std::uint16_t index,
                                         std::span<const std::uint8_t> params) {
  auto p = header(opcode, index, params.size());
  p.insert(p.end(), params.begin(), params.end());
  return p;
}

std::vector<std::uint8_t> encode_set_powered(std::uint16_t index, bool on) {
  const std::uint8_t powered = on ? 1 : 0;
  return encode_command(kOpSetPowered, index, {&powered, 1});
}

std::vector<std::uint8_t> encode_add_device(std::uint16_t index, const Address& address,
                                            bool random, std::uint8_t action) {
  return device_command(kOpAddDevice, index, address, random, action);
}

std::vector<std::uint8_t> encode_remove_device(std::uint16_t index, const Address& address,
                                               bool random) {
  return device_command(kOpRemoveDevice, index, address, random, std::nullopt);
}

std::vector<std::uint8_t> encode_disconnect(std::uint16_t index, const Address& address,
                                            std::uint8_t address_type) {
  std::uint8_t p[7];
  address_to_wire(address, std::span<std::uint8_t, 6>(p, 6));
  p[6] = address_type;
  return encode_command(kOpDisconnect, index, p);
}

std::vector<std::uint8_t> encode_get_connections(std::uint16_t index) {
  return encode_command(kOpGetConnections, index);
}

std::optional<DeviceAddressType> decode_address_type(std::span<const std::uint8_t> params) {
  if (params.size() < 7) return std::nullopt;
  return DeviceAddressType{address_from_wire(params.first<6>()), params[6]};
}

std::optional<std::vector<DeviceAddressType>> decode_connections(
    std::span<const std::uint8_t> data) {
  if (data.size() < 2) return std::nullopt;
  const std::size_t count = le16(data.data());
  if (data.size() != 2 + 7 * count) return std::nullopt;
  std::vector<DeviceAddressType> out;
  for (std::size_t i = 0; i < count; ++i)
    out.push_back(*decode_address_type(data.subspan(2 + 7 * i, 7)));
  return out;
}

std::vector<std::uint8_t> encode_remove_monitor(std::uint16_t index, std::uint16_t handle) {
  const std::uint8_t p[2] = {static_cast<std::uint8_t>(handle),
                             static_cast<std::uint8_t>(handle >> 8)};
  return encode_command(kOpRemoveMonitor, index, p);
}

std::vector<std::uint8_t> encode_add_patterns_monitor(std::uint16_t index, std::uint8_t ad_type,
                                                      std::uint8_t offset,
                                                      std::span<const std::uint8_t> value) {
  // Pattern_Count, then each pattern: AD_Type, Offset, Length, Value (31 octets, padded).
  std::uint8_t p[1 + 3 + 31] = {};
  const std::size_t length = std::min<std::size_t>(value.size(), 31);
  p[0] = 1;
  p[1] = ad_type;
  p[2] = offset;
  p[3] = static_cast<std::uint8_t>(length);
  std::copy_n(value.begin(), length, p + 4);
  return encode_command(kOpAddPatternsMonitor, index, p);
}

std::optional<std::vector<std::uint8_t>> encode_add_advertising(std::uint16_t index,
                                                                const AdvertisingInstance& i) {
  if (i.adv_data.size() > 255 || i.scan_rsp.size() > 255) return std::nullopt;
  // Instance, Flags (4), Duration (2), Timeout (2), Adv_Data_Len, Scan_Rsp_Len, the data.
  auto p = header(kOpAddAdvertising, index, 11 + i.adv_data.size() + i.scan_rsp.size());
  p.push_back(i.id);
  for (int shift = 0; shift < 32; shift += 8)
    p.push_back(static_cast<std::uint8_t>(i.flags >> shift));
  put_le16(p, 0);  // duration: the kernel's default rotation between instances (2 s)
  put_le16(p, i.timeout_s);
  p.push_back(static_cast<std::uint8_t>(i.adv_data.size()));
  p.push_back(static_cast<std::uint8_t>(i.scan_rsp.size()));
  p.insert(p.end(), i.adv_data.begin(), i.adv_data.end());
  p.insert(p.end(), i.scan_rsp.begin(), i.scan_rsp.end());
  return p;
}

std::vector<std::uint8_t> encode_remove_advertising(std::uint16_t index, std::uint8_t instance) {
  return encode_command(kOpRemoveAdvertising, index, {&instance, 1});
}

std::optional<Event> decode_event(std::span<const std::uint8_t> packet) {
  if (packet.size() < kHeaderSize || kHeaderSize + le16(&packet[4]) != packet.size())
    return std::nullopt;
  return Event{le16(&packet[0]), le16(&packet[2]), packet.subspan(kHeaderSize)};
}

std::optional<CommandReply> decode_command_reply(const Event& event) {
  if (event.code != kEvCommandComplete && event.code != kEvCommandStatus) return std::nullopt;
  if (event.params.size() < 3) return std::nullopt;  // opcode and status
  return CommandReply{event.index, le16(&event.params[0]), event.params[2],
                      event.params.subspan(3)};
}

std::optional<CommandReply> decode_command_reply(std::span<const std::uint8_t> packet) {
  const auto event = decode_event(packet);
  return event ? decode_command_reply(*event) : std::nullopt;
}

std::optional<DeviceFound> decode_device_found(std::span<const std::uint8_t> p) {
  if (p.size() < kDeviceFoundFixed || kDeviceFoundFixed + le16(&p[12]) != p.size())
    return std::nullopt;
  DeviceFound d;
  d.address = address_from_wire(p.first<6>());
  d.address_type = p[6];
  d.rssi = static_cast<std::int8_t>(p[7]);
  d.flags = le32(&p[8]);
  d.data = p.subspan(kDeviceFoundFixed);
  return d;
}

std::optional<DeviceFound> decode_monitor_device_found(std::span<const std::uint8_t> params) {
  // Monitor_Handle (2), then Device Found's fields.
  if (params.size() < 2) return std::nullopt;
  return decode_device_found(params.subspan(2));
}

}  // namespace bm6::mgmt
