#include "transport/att.h"

#include <gtest/gtest.h>

namespace bm6::att {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(Uuid, SixteenBitFormsAndWire) {
  const Uuid fff0(0xfff0);
  EXPECT_TRUE(fff0.is_16bit());
  EXPECT_EQ(fff0.to_string(), "0000fff0-0000-1000-8000-00805f9b34fb");
  EXPECT_EQ(Uuid::parse("fff0"), fff0);
  EXPECT_EQ(Uuid::parse("0000FFF0-0000-1000-8000-00805F9B34FB"), fff0);
  Bytes wire;
  fff0.append_wire(wire);
  EXPECT_EQ(wire, (Bytes{0xf0, 0xff}));
  EXPECT_EQ(Uuid::from_wire(wire), fff0);
}

TEST(Uuid, OneTwentyEightBitWireIsLittleEndian) {
  const auto u = Uuid::parse("f000ffc0-0451-4000-b000-000000000000");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->is_16bit());
  Bytes wire;
  u->append_wire(wire);
  ASSERT_EQ(wire.size(), 16u);
  EXPECT_EQ(wire.front(), 0x00);
  EXPECT_EQ(wire.back(), 0xf0);
  EXPECT_EQ(Uuid::from_wire(wire), u);
  // A 128-bit UUID on the base that is a 16-bit one compares equal to it.
  Bytes long_form;
  long_form.assign(16, 0);
  const auto base = Uuid::parse("0000fff4-0000-1000-8000-00805f9b34fb");
  long_form.clear();
  base->append_wire(long_form);
  EXPECT_EQ(long_form.size(), 2u);
}

TEST(Uuid, RejectsMalformedText) {
  EXPECT_FALSE(Uuid::parse(""));
  EXPECT_FALSE(Uuid::parse("fff"));
  EXPECT_FALSE(Uuid::parse("ffg0"));
  EXPECT_FALSE(Uuid::parse("0000fff0x0000-1000-8000-00805f9b34fb"));
  EXPECT_FALSE(Uuid::from_wire(Bytes{1, 2, 3}));
}

TEST(AttClassify, KnownAndUnknownOpcodes) {
  EXPECT_EQ(classify(kExchangeMtuReq), PduKind::kRequest);
  EXPECT_EQ(classify(kReadByGroupTypeRsp), PduKind::kResponse);
  EXPECT_EQ(classify(kErrorRsp), PduKind::kResponse);
  EXPECT_EQ(classify(kHandleValueNotification), PduKind::kNotification);
  EXPECT_EQ(classify(kHandleValueIndication), PduKind::kIndication);
  EXPECT_EQ(classify(kHandleValueConfirmation), PduKind::kConfirmation);
  EXPECT_EQ(classify(kWriteCmd), PduKind::kCommand);
  EXPECT_EQ(classify(kSignedWriteCmd), PduKind::kCommand);
  EXPECT_EQ(classify(0x3f), PduKind::kRequest);  // unknown, command bit clear: must answer
  EXPECT_EQ(classify(0x7f), PduKind::kCommand);  // unknown, command bit set: ignore
  EXPECT_EQ(response_to(kReadByTypeReq), kReadByTypeRsp);
}

TEST(AttDecode, ErrorResponseExactLength) {
  const auto e = decode_error_rsp(Bytes{0x10, 0x05, 0x00, 0x0a});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->request_opcode, 0x10);
  EXPECT_EQ(e->handle, 5);
  EXPECT_EQ(e->code, kAttributeNotFound);
  EXPECT_FALSE(decode_error_rsp(Bytes{0x10, 0x05, 0x00}));
  EXPECT_FALSE(decode_error_rsp(Bytes{0x10, 0x05, 0x00, 0x0a, 0x00}));
}

TEST(AttDecode, Mtu) {
  EXPECT_EQ(decode_mtu(Bytes{0x05, 0x02}), 517);
  EXPECT_FALSE(decode_mtu(Bytes{0x05}));
  EXPECT_FALSE(decode_mtu(Bytes{0x05, 0x02, 0x00}));
}

TEST(AttDecode, ReadByGroupTypeResponse) {
  const Bytes ok{6, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18, 0x06, 0x00, 0x09, 0x00, 0x01, 0x18};
  const auto s = decode_read_by_group_type_rsp(ok);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].range.start, 6);
  EXPECT_EQ((*s)[1].range.end, 9);
  EXPECT_EQ((*s)[1].uuid, Uuid(0x1801));
  // Short, ragged, bad length field, empty body, end before start, handle zero.
  EXPECT_FALSE(decode_read_by_group_type_rsp(Bytes{}));
  EXPECT_FALSE(decode_read_by_group_type_rsp(Bytes(ok.begin(), ok.end() - 1)));
  EXPECT_FALSE(decode_read_by_group_type_rsp(Bytes{7, 1, 0, 5, 0, 0, 0x18, 0}));
  EXPECT_FALSE(decode_read_by_group_type_rsp(Bytes{6}));
  EXPECT_FALSE(decode_read_by_group_type_rsp(Bytes{6, 0x05, 0x00, 0x01, 0x00, 0x00, 0x18}));
  EXPECT_FALSE(decode_read_by_group_type_rsp(Bytes{6, 0x00, 0x00, 0x01, 0x00, 0x00, 0x18}));
}

TEST(AttDecode, ReadByTypeAndCharacteristicDeclaration) {
  const Bytes ok{7, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a};
  const auto e = decode_read_by_type_rsp(ok);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->size(), 1u);
  const auto d = decode_characteristic_decl((*e)[0].handle, (*e)[0].value);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->properties, kPropRead);
  EXPECT_EQ(d->value_handle, 3);
  EXPECT_EQ(d->uuid, Uuid(0x2a00));
  EXPECT_FALSE(decode_read_by_type_rsp(Bytes{1, 0x02}));        // length below a handle
  EXPECT_FALSE(decode_read_by_type_rsp(Bytes{7, 0x02, 0x00}));  // ragged
  EXPECT_FALSE(decode_read_by_type_rsp(Bytes{2, 0x00, 0x00}));  // handle 0
  // Value handle must follow the declaration; value of the wrong size.
  EXPECT_FALSE(decode_characteristic_decl(3, Bytes{0x02, 0x03, 0x00, 0x00, 0x2a}));
  EXPECT_FALSE(decode_characteristic_decl(2, Bytes{0x02, 0x03, 0x00, 0x00}));
}

TEST(AttDecode, FindInformationResponse) {
  const Bytes ok{0x01, 0x17, 0x00, 0x01, 0x29, 0x18, 0x00, 0x02, 0x29};
  const auto d = decode_find_information_rsp(ok);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[1].handle, 0x18);
  EXPECT_EQ((*d)[1].uuid, kClientCharacteristicConfig);
  EXPECT_FALSE(decode_find_information_rsp(Bytes{0x03, 0x17, 0x00, 0x01, 0x29}));
  EXPECT_FALSE(decode_find_information_rsp(Bytes{0x02, 0x17, 0x00, 0x01, 0x29}));
  EXPECT_FALSE(decode_find_information_rsp(Bytes{0x01}));
}

TEST(AttDecode, HandleValueAndRanges) {
  const auto hv = decode_handle_value(Bytes{0x16, 0x00, 1, 2, 3});
  ASSERT_TRUE(hv);
  EXPECT_EQ(hv->handle, 0x16);
  EXPECT_EQ(hv->value.size(), 3u);
  EXPECT_FALSE(decode_handle_value(Bytes{0x16}));
  EXPECT_FALSE(decode_handle_value(Bytes{0x00, 0x00, 1}));
  EXPECT_TRUE(decode_find_information_req(Bytes{1, 0, 0xff, 0xff}));
  EXPECT_FALSE(decode_find_information_req(Bytes{5, 0, 4, 0}));  // start > end
  EXPECT_FALSE(decode_find_information_req(Bytes{0, 0, 4, 0}));  // start 0
  EXPECT_FALSE(decode_read_by_type_req(Bytes{1, 0, 0xff, 0xff, 0x03}));
  EXPECT_TRUE(decode_read_by_type_req(Bytes{1, 0, 0xff, 0xff, 0x03, 0x28}));
}

TEST(AttEncode, RoundTrips) {
  EXPECT_EQ(encode_error_rsp(0x12, 0x0014, kWriteNotPermitted),
            (Bytes{0x01, 0x12, 0x14, 0x00, 0x03}));
  EXPECT_EQ(encode_mtu(kExchangeMtuReq, 517), (Bytes{0x02, 0x05, 0x02}));
  EXPECT_EQ(encode_range_req(kReadByGroupTypeReq, {1, 0xffff}, kPrimaryService),
            (Bytes{0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28}));
  EXPECT_EQ(encode_range_req(kFindInformationReq, {0x17, 0x18}, std::nullopt),
            (Bytes{0x04, 0x17, 0x00, 0x18, 0x00}));
  const std::uint8_t v[] = {1, 0};
  EXPECT_EQ(encode_handle_value(kWriteReq, 0x18, v), (Bytes{0x12, 0x18, 0x00, 1, 0}));
}

}  // namespace
}  // namespace bm6::att
