// libFuzzer: every ATT decoder on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "transport/att.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bm6::att;
  const std::span<const std::uint8_t> in(data, size);
  if (auto pdu = split(in)) {
    classify(pdu->opcode);
    const auto p = pdu->params;
    decode_error_rsp(p);
    decode_mtu(p);
    decode_find_information_req(p);
    decode_read_by_type_req(p);
    decode_read_by_group_type_rsp(p);
    decode_find_information_rsp(p);
    decode_handle_value(p);
    if (auto entries = decode_read_by_type_rsp(p))
      for (const auto& e : *entries) decode_characteristic_decl(e.handle, e.value);
  }
  Uuid::from_wire(in);
  return 0;
}
