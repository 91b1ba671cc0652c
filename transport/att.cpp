#include "transport/att.h"

#include <algorithm>
#include <cstdio>

namespace bm6::att {

PduKind classify(std::uint8_t opcode) {
  switch (opcode) {
    case kErrorRsp:
    case kExchangeMtuRsp:
    case kFindInformationRsp:
    case kFindByTypeValueRsp:
    case kReadByTypeRsp:
    case kReadRsp:
    case kReadBlobRsp:
    case kReadMultipleRsp:
    case kReadByGroupTypeRsp:
    case kWriteRsp:
    case kPrepareWriteRsp:
    case kExecuteWriteRsp:
    case kReadMultipleVariableRsp:
      return PduKind::kResponse;
    case kHandleValueNotification:
      return PduKind::kNotification;
    case kHandleValueIndication:
      return PduKind::kIndication;
    case kHandleValueConfirmation:
      return PduKind::kConfirmation;
    default:
      return (opcode & 0x40) ? PduKind::kCommand : PduKind::kRequest;
  }
}

std::uint8_t response_to(std::uint8_t request_opcode) {
  return static_cast<std::uint8_t>(request_opcode + 1);
}

const char* opcode_name(std::uint8_t opcode) {
  switch (opcode) {
    case kErrorRsp:
      return "Error Response";
    case kExchangeMtuReq:
      return "Exchange MTU Request";
    case kExchangeMtuRsp:
      return "Exchange MTU Response";
    case kFindInformationReq:
      return "Find Information Request";
    case kFindInformationRsp:
      return "Find Information Response";
    case kFindByTypeValueReq:
      return "Find By Type Value Request";
    case kFindByTypeValueRsp:
      return "Find By Type Value Response";
    case kReadByTypeReq:
      return "Read By Type Request";
    case kReadByTypeRsp:
      return "Read By Type Response";
    case kReadReq:
      return "Read Request";
    case kReadRsp:
      return "Read Response";
    case kReadByGroupTypeReq:
      return "Read By Group Type Request";
    case kReadByGroupTypeRsp:
      return "Read By Group Type Response";
    case kWriteReq:
      return "Write Request";
    case kWriteRsp:
      return "Write Response";
    case kWriteCmd:
      return "Write Command";
    case kHandleValueNotification:
      return "Handle Value Notification";
    case kHandleValueIndication:
      return "Handle Value Indication";
    case kHandleValueConfirmation:
      return "Handle Value Confirmation";
    default:
      return "ATT PDU";
  }
}

const char* error_name(std::uint8_t code) {
  switch (code) {
    case kInvalidHandle:
      return "Invalid Handle";
    case kReadNotPermitted:
      return "Read Not Permitted";
    case kWriteNotPermitted:
      return "Write Not Permitted";
    case kInvalidPdu:
      return "Invalid PDU";
    case kRequestNotSupported:
      return "Request Not Supported";
    case kInvalidOffset:
      return "Invalid Offset";
    case kAttributeNotFound:
      return "Attribute Not Found";
    case kInvalidAttributeValueLength:
      return "Invalid Attribute Value Length";
    case kUnlikelyError:
      return "Unlikely Error";
    case kUnsupportedGroupType:
      return "Unsupported Group Type";
    default:
      return "ATT error";
  }
}

std::optional<Uuid> Uuid::from_wire(std::span<const std::uint8_t> le) {
  if (le.size() == 2) return Uuid(get_le16(le.data()));
  if (le.size() != 16) return std::nullopt;
  Uuid u;
  std::reverse_copy(le.begin(), le.end(), u.bytes_.begin());
  return u;
}

std::optional<Uuid> Uuid::parse(const std::string& text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string digits;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash_slot = text.size() == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
    if (dash_slot) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    if (hex(text[i]) < 0) return std::nullopt;
    digits.push_back(text[i]);
  }
  if (text.size() == 4 && digits.size() == 4)
    return Uuid(static_cast<std::uint16_t>(std::stoul(digits, nullptr, 16)));
  if (text.size() != 36 || digits.size() != 32) return std::nullopt;
  Uuid u;
  for (std::size_t i = 0; i < 16; ++i)
    u.bytes_[i] = static_cast<std::uint8_t>(hex(digits[2 * i]) << 4 | hex(digits[2 * i + 1]));
  return u;
}

bool Uuid::is_16bit() const {
  const auto b = base();
  return bytes_[0] == 0 && bytes_[1] == 0 &&
         std::equal(bytes_.begin() + 4, bytes_.end(), b.begin() + 4);
}

void Uuid::append_wire(std::vector<std::uint8_t>& out) const {
  if (is_16bit()) {
    put_le16(out, as_16bit());
  } else {
    out.insert(out.end(), bytes_.rbegin(), bytes_.rend());
  }
}

std::string Uuid::to_string() const {
  char buf[37];
  std::snprintf(
      buf, sizeof buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      bytes_[0], bytes_[1], bytes_[2], bytes_[3], bytes_[4], bytes_[5], bytes_[6], bytes_[7],
      bytes_[8], bytes_[9], bytes_[10], bytes_[11], bytes_[12], bytes_[13], bytes_[14], bytes_[15]);
  return buf;
}

std::optional<PduView> split(std::span<const std::uint8_t> pdu) {
  if (pdu.empty()) return std::nullopt;
  return PduView{pdu[0], pdu.subspan(1)};
}

std::optional<ErrorRsp> decode_error_rsp(std::span<const std::uint8_t> p) {
  if (p.size() != 4) return std::nullopt;
  return ErrorRsp{p[0], get_le16(&p[1]), p[3]};
}

std::optional<std::uint16_t> decode_mtu(std::span<const std::uint8_t> p) {
  if (p.size() != 2) return std::nullopt;
  return get_le16(p.data());
}

namespace {
std::optional<HandleRange> decode_range(std::span<const std::uint8_t> p) {
  HandleRange r{get_le16(&p[0]), get_le16(&p[2])};
  if (r.start == 0 || r.start > r.end) return std::nullopt;
  return r;
}
}  // namespace

std::optional<RangeTypeReq> decode_find_information_req(std::span<const std::uint8_t> p) {
  if (p.size() != 4) return std::nullopt;
  auto range = decode_range(p);
  if (!range) return std::nullopt;
  return RangeTypeReq{*range, std::nullopt};
}

std::optional<RangeTypeReq> decode_read_by_type_req(std::span<const std::uint8_t> p) {
  if (p.size() != 6 && p.size() != 20) return std::nullopt;
  auto range = decode_range(p);
  if (!range) return std::nullopt;
  return RangeTypeReq{*range, Uuid::from_wire(p.subspan(4))};
}

std::optional<std::vector<ServiceEntry>> decode_read_by_group_type_rsp(
    std::span<const std::uint8_t> p) {
  if (p.empty()) return std::nullopt;
  const std::size_t len = p[0];
  if (len != 6 && len != 20) return std::nullopt;
  const auto body = p.subspan(1);
  if (body.empty() || body.size() % len != 0) return std::nullopt;
  std::vector<ServiceEntry> out;
  out.reserve(body.size() / len);
  for (std::size_t off = 0; off < body.size(); off += len) {
    const auto e = body.subspan(off, len);
    HandleRange r{get_le16(&e[0]), get_le16(&e[2])};
    if (r.start == 0 || r.end < r.start) return std::nullopt;
    out.push_back({r, *Uuid::from_wire(e.subspan(4))});
  }
  return out;
}

std::optional<std::vector<TypeEntry>> decode_read_by_type_rsp(std::span<const std::uint8_t> p) {
  if (p.empty()) return std::nullopt;
  const std::size_t len = p[0];
  if (len < 2) return std::nullopt;
  const auto body = p.subspan(1);
  if (body.empty() || body.size() % len != 0) return std::nullopt;
  std::vector<TypeEntry> out;
  out.reserve(body.size() / len);
  for (std::size_t off = 0; off < body.size(); off += len) {
    const auto e = body.subspan(off, len);
    const std::uint16_t handle = get_le16(&e[0]);
    if (handle == 0) return std::nullopt;
    out.push_back({handle, e.subspan(2)});
  }
  return out;
}

std::optional<CharacteristicDecl> decode_characteristic_decl(std::uint16_t decl_handle,
                                                             std::span<const std::uint8_t> v) {
  if (v.size() != 5 && v.size() != 19) return std::nullopt;
  CharacteristicDecl d{decl_handle, v[0], get_le16(&v[1]), *Uuid::from_wire(v.subspan(3))};
  // The value attribute follows its declaration (Core Vol 3 Part G 3.3).
  if (d.value_handle <= decl_handle) return std::nullopt;
  return d;
}

std::optional<std::vector<DescriptorEntry>> decode_find_information_rsp(
    std::span<const std::uint8_t> p) {
  if (p.empty()) return std::nullopt;
  std::size_t len;
  if (p[0] == 0x01) {
    len = 4;
  } else if (p[0] == 0x02) {
    len = 18;
  } else {
    return std::nullopt;
  }
  const auto body = p.subspan(1);
  if (body.empty() || body.size() % len != 0) return std::nullopt;
  std::vector<DescriptorEntry> out;
  out.reserve(body.size() / len);
  for (std::size_t off = 0; off < body.size(); off += len) {
    const auto e = body.subspan(off, len);
    const std::uint16_t handle = get_le16(&e[0]);
    if (handle == 0) return std::nullopt;
    out.push_back({handle, *Uuid::from_wire(e.subspan(2))});
  }
  return out;
}

std::optional<HandleValue> decode_handle_value(std::span<const std::uint8_t> p) {
  if (p.size() < 2) return std::nullopt;
  const std::uint16_t handle = get_le16(p.data());
  if (handle == 0) return std::nullopt;
  return HandleValue{handle, p.subspan(2)};
}

std::vector<std::uint8_t> encode_error_rsp(std::uint8_t request_opcode, std::uint16_t handle,
                                           std::uint8_t code) {
  std::vector<std::uint8_t> out{kErrorRsp, request_opcode};
  put_le16(out, handle);
  out.push_back(code);
  return out;
}

std::vector<std::uint8_t> encode_mtu(std::uint8_t opcode, std::uint16_t mtu) {
  std::vector<std::uint8_t> out{opcode};
  put_le16(out, mtu);
  return out;
}

std::vector<std::uint8_t> encode_range_req(std::uint8_t opcode, HandleRange range,
                                           const std::optional<Uuid>& type) {
  std::vector<std::uint8_t> out{opcode};
  put_le16(out, range.start);
  put_le16(out, range.end);
  if (type) type->append_wire(out);
  return out;
}

std::vector<std::uint8_t> encode_handle_value(std::uint8_t opcode, std::uint16_t handle,
                                              std::span<const std::uint8_t> value) {
  std::vector<std::uint8_t> out{opcode};
  put_le16(out, handle);
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

std::vector<std::uint8_t> encode_empty(std::uint8_t opcode) { return {opcode}; }

}  // namespace bm6::att
