#include "tools/sim/attribute_server.h"

#include <algorithm>

namespace bm6::sim {

using att::Uuid;

void DatabaseBuilder::service(const Uuid& uuid) {
  std::vector<std::uint8_t> value;
  uuid.append_wire(value);
  add(att::kPrimaryService, std::move(value));
}

std::uint16_t DatabaseBuilder::characteristic(const Uuid& uuid, std::uint8_t props,
                                              std::vector<std::uint8_t> value, bool writable) {
  const std::uint16_t value_handle = static_cast<std::uint16_t>(next_ + 1);
  std::vector<std::uint8_t> decl{props};
  att::put_le16(decl, value_handle);
  uuid.append_wire(decl);
  add(att::kCharacteristic, decl);
  add(uuid, std::move(value), (props & att::kPropRead) != 0, writable);
  return value_handle;
}

std::uint16_t DatabaseBuilder::descriptor(const Uuid& uuid, std::vector<std::uint8_t> value,
                                          bool writable) {
  return add(uuid, std::move(value), true, writable);
}

std::uint16_t DatabaseBuilder::add(const Uuid& type, std::vector<std::uint8_t> value, bool readable,
                                   bool writable) {
  attrs_.push_back({next_, type, std::move(value), readable, writable});
  return next_++;
}

const GattAttribute* AttributeServer::find(std::uint16_t handle) const {
  for (const auto& a : attributes_)
    if (a.handle == handle) return &a;
  return nullptr;
}

std::uint16_t AttributeServer::group_end(std::size_t index) const {
  for (std::size_t i = index + 1; i < attributes_.size(); ++i)
    if (attributes_[i].type == att::kPrimaryService)
      return static_cast<std::uint16_t>(attributes_[i].handle - 1);
  return 0xffff;
}

std::vector<std::uint8_t> AttributeServer::answer(std::uint8_t opcode,
                                                  std::span<const std::uint8_t> params,
                                                  std::uint16_t mtu) {
  switch (opcode) {
    case att::kReadByGroupTypeReq:
      return read_by_group_type(params, mtu);
    case att::kReadByTypeReq:
      return read_by_type(params, mtu);
    case att::kFindInformationReq:
      return find_information(params, mtu);
    case att::kFindByTypeValueReq:
      return find_by_type_value(params, mtu);
    case att::kReadReq:
      return read(params, mtu);
    case att::kWriteReq: {
      const auto hv = att::decode_handle_value(params);
      if (!hv) return att::encode_error_rsp(opcode, 0, att::kInvalidPdu);
      const std::uint8_t err = write(hv->handle, hv->value);
      if (err != 0) return att::encode_error_rsp(opcode, hv->handle, err);
      return att::encode_empty(att::kWriteRsp);
    }
    default:
      return att::encode_error_rsp(opcode, 0, att::kRequestNotSupported);
  }
}

void AttributeServer::command(std::uint8_t opcode, std::span<const std::uint8_t> params) {
  if (opcode != att::kWriteCmd) return;
  if (const auto hv = att::decode_handle_value(params)) write(hv->handle, hv->value);
}

std::vector<std::uint8_t> AttributeServer::read_by_group_type(std::span<const std::uint8_t> params,
                                                              std::uint16_t mtu) const {
  const auto req = att::decode_read_by_type_req(params);
  if (!req) return att::encode_error_rsp(att::kReadByGroupTypeReq, 0, att::kInvalidPdu);
  if (!(req->type == att::kPrimaryService))
    return att::encode_error_rsp(att::kReadByGroupTypeReq, req->range.start,
                                 att::kUnsupportedGroupType);
  std::vector<std::uint8_t> out{att::kReadByGroupTypeRsp, 0};
  std::size_t entry_len = 0;
  for (std::size_t i = 0; i < attributes_.size(); ++i) {
    const auto& a = attributes_[i];
    if (a.handle < req->range.start || a.handle > req->range.end) continue;
    if (!(a.type == att::kPrimaryService)) continue;
    const std::size_t len = 4 + a.value.size();
    if (entry_len == 0) entry_len = len;
    if (len != entry_len || out.size() + len > mtu) break;  // one UUID size per response
    att::put_le16(out, a.handle);
    att::put_le16(out, group_end(i));
    out.insert(out.end(), a.value.begin(), a.value.end());
  }
  if (entry_len == 0)
    return att::encode_error_rsp(att::kReadByGroupTypeReq, req->range.start,
                                 att::kAttributeNotFound);
  out[1] = static_cast<std::uint8_t>(entry_len);
  return out;
}

std::vector<std::uint8_t> AttributeServer::read_by_type(std::span<const std::uint8_t> params,
                                                        std::uint16_t mtu) const {
  const auto req = att::decode_read_by_type_req(params);
  if (!req) return att::encode_error_rsp(att::kReadByTypeReq, 0, att::kInvalidPdu);
  std::vector<std::uint8_t> out{att::kReadByTypeRsp, 0};
  std::size_t entry_len = 0;
  for (const auto& a : attributes_) {
    if (a.handle < req->range.start || a.handle > req->range.end) continue;
    if (!(a.type == *req->type)) continue;
    const std::size_t value_len = std::min<std::size_t>(a.value.size(), mtu - 4u);
    const std::size_t len = 2 + value_len;
    if (entry_len == 0) entry_len = len;
    if (len != entry_len || out.size() + len > mtu) break;
    att::put_le16(out, a.handle);
    out.insert(out.end(), a.value.begin(), a.value.begin() + static_cast<long>(value_len));
  }
  if (entry_len == 0)
    return att::encode_error_rsp(att::kReadByTypeReq, req->range.start, att::kAttributeNotFound);
  out[1] = static_cast<std::uint8_t>(entry_len);
  return out;
}

std::vector<std::uint8_t> AttributeServer::find_information(std::span<const std::uint8_t> params,
                                                            std::uint16_t mtu) const {
  const auto req = att::decode_find_information_req(params);
  if (!req) return att::encode_error_rsp(att::kFindInformationReq, 0, att::kInvalidPdu);
  std::vector<std::uint8_t> out{att::kFindInformationRsp, 0};
  std::size_t uuid_len = 0;
  for (const auto& a : attributes_) {
    if (a.handle < req->range.start || a.handle > req->range.end) continue;
    const std::size_t len = a.type.wire_size();
    if (uuid_len == 0) uuid_len = len;
    if (len != uuid_len || out.size() + 2 + len > mtu) break;
    att::put_le16(out, a.handle);
    a.type.append_wire(out);
  }
  if (uuid_len == 0)
    return att::encode_error_rsp(att::kFindInformationReq, req->range.start,
                                 att::kAttributeNotFound);
  out[1] = uuid_len == 2 ? 0x01 : 0x02;
  return out;
}

std::vector<std::uint8_t> AttributeServer::find_by_type_value(std::span<const std::uint8_t> params,
                                                              std::uint16_t mtu) const {
  if (params.size() < 6)
    return att::encode_error_rsp(att::kFindByTypeValueReq, 0, att::kInvalidPdu);
  const std::uint16_t start = att::get_le16(&params[0]);
  const std::uint16_t end = att::get_le16(&params[2]);
  const std::uint16_t type = att::get_le16(&params[4]);
  const auto value = params.subspan(6);
  if (start == 0 || start > end)
    return att::encode_error_rsp(att::kFindByTypeValueReq, start, att::kInvalidHandle);
  std::vector<std::uint8_t> out{att::kFindByTypeValueRsp};
  for (std::size_t i = 0; i < attributes_.size(); ++i) {
    const auto& a = attributes_[i];
    if (a.handle < start || a.handle > end || !(a.type == Uuid(type))) continue;
    if (!std::equal(a.value.begin(), a.value.end(), value.begin(), value.end())) continue;
    if (out.size() + 4 > mtu) break;
    att::put_le16(out, a.handle);
    att::put_le16(out, a.type == att::kPrimaryService ? group_end(i) : a.handle);
  }
  if (out.size() == 1)
    return att::encode_error_rsp(att::kFindByTypeValueReq, start, att::kAttributeNotFound);
  return out;
}

std::vector<std::uint8_t> AttributeServer::read(std::span<const std::uint8_t> params,
                                                std::uint16_t mtu) const {
  if (params.size() != 2) return att::encode_error_rsp(att::kReadReq, 0, att::kInvalidPdu);
  const std::uint16_t handle = att::get_le16(params.data());
  const GattAttribute* a = find(handle);
  if (!a) return att::encode_error_rsp(att::kReadReq, handle, att::kInvalidHandle);
  if (!a->readable) return att::encode_error_rsp(att::kReadReq, handle, att::kReadNotPermitted);
  std::vector<std::uint8_t> out{att::kReadRsp};
  out.insert(
      out.end(), a->value.begin(),
      a->value.begin() + static_cast<long>(std::min<std::size_t>(a->value.size(), mtu - 1u)));
  return out;
}

std::uint8_t AttributeServer::write(std::uint16_t handle, std::span<const std::uint8_t> value) {
  auto it = std::find_if(attributes_.begin(), attributes_.end(),
                         [handle](const GattAttribute& a) { return a.handle == handle; });
  if (it == attributes_.end()) return att::kInvalidHandle;
  if (!it->writable) return att::kWriteNotPermitted;
  if (it->type == att::kClientCharacteristicConfig && value.size() != 2)
    return att::kInvalidAttributeValueLength;
  if (on_write_) {
    const std::uint8_t err = on_write_(*it, value);
    if (err != 0) return err;
  }
  it->value.assign(value.begin(), value.end());
  return 0;
}

}  // namespace bm6::sim
