// Test helpers: byte builders and a minimal scripted BM6 attribute database, for links run
// against a ScriptedPeer.
#pragma once

#include <initializer_list>
#include <vector>

#include "tests/seqpacket_peer.h"
#include "transport/att.h"

namespace bm6::test {

inline Bytes u16(std::uint16_t v) {
  return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8)};
}

inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Answers one request of a minimal FFF0 database: command at 3, data at 5, its user
// description at 6, CCCD at 7. Every Write Request is answered; Exchange MTU is not.
inline std::vector<Bytes> minimal_bm6(const Bytes& pdu, std::uint8_t command_props) {
  switch (pdu[0]) {
    case att::kReadByGroupTypeReq:
      return {cat({{att::kReadByGroupTypeRsp, 6}, u16(1), u16(0xffff), u16(0xfff0)})};
    case att::kFindByTypeValueReq:  // FFF0 by UUID: the whole database
      return {cat({{att::kFindByTypeValueRsp}, u16(1), u16(0xffff)})};
    case att::kReadByTypeReq:
      if (att::get_le16(&pdu[1]) == 1)
        return {cat({{att::kReadByTypeRsp, 7},
                     u16(2),
                     {command_props},
                     u16(3),
                     u16(0xfff3),
                     u16(4),
                     {att::kPropNotify},
                     u16(5),
                     u16(0xfff4)})};
      return {cat({{att::kErrorRsp, att::kReadByTypeReq}, u16(6), {att::kAttributeNotFound}})};
    case att::kFindInformationReq:  // a user description before the CCCD
      if (att::get_le16(&pdu[1]) <= 7)
        return {cat({{att::kFindInformationRsp, 1}, u16(6), u16(0x2901), u16(7), u16(0x2902)})};
      return {cat({{att::kErrorRsp, att::kFindInformationReq}, u16(8), {att::kAttributeNotFound}})};
    case att::kWriteReq:
      return {{att::kWriteRsp}};
    default:
      return {};
  }
}

}  // namespace bm6::test
