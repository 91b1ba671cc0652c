// ATT PDUs (Bluetooth Core, Vol 3, Part F): opcodes, UUIDs, and strict encode/decode.
// Decoders take the PDU parameters (everything after the opcode) and return nullopt for any
// PDU that is not exactly well formed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bm6::att {

inline constexpr std::uint16_t kDefaultMtu = 23;  // LE minimum
inline constexpr std::uint16_t kMaxMtu = 517;     // largest attribute (512) + header

enum Opcode : std::uint8_t {
  kErrorRsp = 0x01,
  kExchangeMtuReq = 0x02,
  kExchangeMtuRsp = 0x03,
  kFindInformationReq = 0x04,
  kFindInformationRsp = 0x05,
  kFindByTypeValueReq = 0x06,
  kFindByTypeValueRsp = 0x07,
  kReadByTypeReq = 0x08,
  kReadByTypeRsp = 0x09,
  kReadReq = 0x0a,
  kReadRsp = 0x0b,
  kReadBlobReq = 0x0c,
  kReadBlobRsp = 0x0d,
  kReadMultipleReq = 0x0e,
  kReadMultipleRsp = 0x0f,
  kReadByGroupTypeReq = 0x10,
  kReadByGroupTypeRsp = 0x11,
  kWriteReq = 0x12,
  kWriteRsp = 0x13,
  kPrepareWriteReq = 0x16,
  kPrepareWriteRsp = 0x17,
  kExecuteWriteReq = 0x18,
  kExecuteWriteRsp = 0x19,
  kReadMultipleVariableReq = 0x20,
  kReadMultipleVariableRsp = 0x21,
  kHandleValueNotification = 0x1b,
  kHandleValueIndication = 0x1d,
  kHandleValueConfirmation = 0x1e,
  kWriteCmd = 0x52,
  kSignedWriteCmd = 0xd2,
};

enum ErrorCode : std::uint8_t {
  kInvalidHandle = 0x01,
  kReadNotPermitted = 0x02,
  kWriteNotPermitted = 0x03,
  kInvalidPdu = 0x04,
  kRequestNotSupported = 0x06,
  kInvalidOffset = 0x07,
  kAttributeNotFound = 0x0a,
  kInvalidAttributeValueLength = 0x0d,
  kUnlikelyError = 0x0e,
  kUnsupportedGroupType = 0x10,
};

enum class PduKind { kRequest, kResponse, kCommand, kNotification, kIndication, kConfirmation };
// What the opcode is; unknown opcodes are requests unless their command bit (0x40) is set,
// which is what decides whether the peer expects an answer.
PduKind classify(std::uint8_t opcode);
// The response opcode that answers `request_opcode`.
std::uint8_t response_to(std::uint8_t request_opcode);
const char* opcode_name(std::uint8_t opcode);
const char* error_name(std::uint8_t code);

// 16- or 128-bit UUID, stored as 128 bits in big-endian (string) order.
class Uuid {
 public:
  Uuid() = default;
  constexpr explicit Uuid(std::uint16_t short_uuid) : bytes_(base()) {
    bytes_[2] = static_cast<std::uint8_t>(short_uuid >> 8);
    bytes_[3] = static_cast<std::uint8_t>(short_uuid & 0xff);
  }
  // Little-endian wire bytes, 2 or 16 of them.
  static std::optional<Uuid> from_wire(std::span<const std::uint8_t> le);
  static std::optional<Uuid> parse(const std::string& text);  // "fff0" or the 36-char form

  bool is_16bit() const;
  std::uint16_t as_16bit() const { return static_cast<std::uint16_t>(bytes_[2] << 8 | bytes_[3]); }
  void append_wire(std::vector<std::uint8_t>& out) const;  // 2 bytes if 16-bit, else 16
  std::size_t wire_size() const { return is_16bit() ? 2 : 16; }
  std::string to_string() const;
  bool operator==(const Uuid&) const = default;

 private:
  static constexpr std::array<std::uint8_t, 16> base() {
    return {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
            0x80, 0x00, 0x00, 0x80, 0x5f, 0x9b, 0x34, 0xfb};
  }
  std::array<std::uint8_t, 16> bytes_{};
};

inline constexpr Uuid kPrimaryService{0x2800};
inline constexpr Uuid kCharacteristic{0x2803};
inline constexpr Uuid kClientCharacteristicConfig{0x2902};
inline constexpr Uuid kCharacteristicUserDescription{0x2901};
inline constexpr Uuid kGattService{0x1801};
inline constexpr Uuid kServiceChanged{0x2a05};

// Characteristic properties.
enum Property : std::uint8_t {
  kPropRead = 0x02,
  kPropWriteWithoutResponse = 0x04,
  kPropWrite = 0x08,
  kPropNotify = 0x10,
  kPropIndicate = 0x20,
};

// A PDU split into opcode and parameters; nullopt for an empty datagram.
struct PduView {
  std::uint8_t opcode;
  std::span<const std::uint8_t> params;
};
std::optional<PduView> split(std::span<const std::uint8_t> pdu);

// --- decoders (parameters only) ---
struct ErrorRsp {
  std::uint8_t request_opcode;
  std::uint16_t handle;
  std::uint8_t code;
};
std::optional<ErrorRsp> decode_error_rsp(std::span<const std::uint8_t> params);
std::optional<std::uint16_t> decode_mtu(std::span<const std::uint8_t> params);  // req and rsp

struct HandleRange {
  std::uint16_t start;
  std::uint16_t end;
};
// Find Information / Read By Type / Read By Group Type requests.
struct RangeTypeReq {
  HandleRange range;
  std::optional<Uuid> type;  // absent for Find Information
};
std::optional<RangeTypeReq> decode_find_information_req(std::span<const std::uint8_t> params);
std::optional<RangeTypeReq> decode_read_by_type_req(std::span<const std::uint8_t> params);

struct ServiceEntry {
  HandleRange range;
  Uuid uuid;
};
std::optional<std::vector<ServiceEntry>> decode_read_by_group_type_rsp(
    std::span<const std::uint8_t> params);

struct TypeEntry {
  std::uint16_t handle;
  std::span<const std::uint8_t> value;
};
std::optional<std::vector<TypeEntry>> decode_read_by_type_rsp(std::span<const std::uint8_t> params);

struct CharacteristicDecl {
  std::uint16_t decl_handle;
  std::uint8_t properties;
  std::uint16_t value_handle;
  Uuid uuid;
};
std::optional<CharacteristicDecl> decode_characteristic_decl(std::uint16_t decl_handle,
                                                             std::span<const std::uint8_t> value);

struct DescriptorEntry {
  std::uint16_t handle;
  Uuid uuid;
};
std::optional<std::vector<DescriptorEntry>> decode_find_information_rsp(
    std::span<const std::uint8_t> params);

struct HandleValue {
  std::uint16_t handle;
  std::span<const std::uint8_t> value;
};
// Notification, indication, write request and write command share this layout.
std::optional<HandleValue> decode_handle_value(std::span<const std::uint8_t> params);

// --- encoders (whole PDUs) ---
std::vector<std::uint8_t> encode_error_rsp(std::uint8_t request_opcode, std::uint16_t handle,
                                           std::uint8_t code);
std::vector<std::uint8_t> encode_mtu(std::uint8_t opcode, std::uint16_t mtu);
std::vector<std::uint8_t> encode_range_req(std::uint8_t opcode, HandleRange range,
                                           const std::optional<Uuid>& type);
std::vector<std::uint8_t> encode_handle_value(std::uint8_t opcode, std::uint16_t handle,
                                              std::span<const std::uint8_t> value);
std::vector<std::uint8_t> encode_empty(std::uint8_t opcode);

inline std::uint16_t get_le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline void put_le16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}

}  // namespace bm6::att
