// The advertising data parser and writer (transport/advertising_data.h) against published
// bytes: nRF Connect's raw advertising data of a BM6 (tests/captures/theengs-decoder-420-bm6.jsonl)
// and structures typed from the Core Specification's layout (length, type, data).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "protocol/advertisement.h"
#include "transport/advertising_data.h"

namespace bm6 {
namespace {

using Bytes = std::vector<std::uint8_t>;

// theengs/decoder#420, 38:3B:26:BE:20:F9: flags, iBeacon, name "BM6", peripheral connection
// interval range, TX power level.
const Bytes kCapturedBm6 = {0x02, 0x01, 0x06, 0x1a, 0xff, 0x4c, 0x00, 0x02, 0x15, 0x3b, 0xa2,
                            0x9c, 0xd9, 0xa4, 0x2c, 0x89, 0x48, 0x56, 0xba, 0xda, 0xf2, 0x60,
                            0x6e, 0xf7, 0x77, 0x12, 0x11, 0x00, 0x00, 0xcd, 0x04, 0x09, 0x42,
                            0x4d, 0x36, 0x05, 0x12, 0x06, 0x00, 0x0c, 0x00, 0x02, 0x0a, 0x00};

TEST(AdvertisingData, WalksEveryStructureOfACapturedAdvertisement) {
  std::vector<std::uint8_t> types;
  std::vector<std::size_t> sizes;
  for (const ad::Field f : ad::Fields(kCapturedBm6)) {
    types.push_back(f.type);
    sizes.push_back(f.data.size());
  }
  EXPECT_EQ(types, (std::vector<std::uint8_t>{0x01, 0xff, 0x09, 0x12, 0x0a}));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 25, 3, 4, 1}));

  const ad::Advertisement a = ad::parse(kCapturedBm6);
  EXPECT_EQ(a.name, "BM6");
  EXPECT_TRUE(a.uuids16.empty());
  ASSERT_EQ(a.manufacturer_data.size(), 1u);
  EXPECT_EQ(a.manufacturer_data[0], Bytes(kCapturedBm6.begin() + 5, kCapturedBm6.begin() + 30));
  EXPECT_EQ(ad::manufacturer_data(kCapturedBm6), a.manufacturer_data);
  // The capture's stated value: the iBeacon's 17 %.
  const auto beacon = decode_ibeacon(a.manufacturer_data[0]);
  ASSERT_TRUE(std::holds_alternative<BeaconReading>(beacon));
  EXPECT_EQ(std::get<BeaconReading>(beacon).soc_percent, 17);
}

TEST(AdvertisingData, ManufacturerDataShorterThanACompanyIdIsLeftOut) {
  // flags, 16 bytes of manufacturer data, a complete name, a 1-byte manufacturer field.
  const Bytes data = {0x02, 0x01, 0x06, 0x11, 0xff, 0x6a, 0x28, 0x1d, 0x95, 0xea,
                      0x13, 0x2b, 0xed, 0x41, 0xfe, 0xf0, 0xcc, 0xf8, 0x9c, 0xa9,
                      0x4a, 0x04, 0x09, 'B',  'M',  '6',  0x02, 0xff, 0x01};
  const auto fields = ad::manufacturer_data(data);
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0], Bytes(data.begin() + 5, data.begin() + 21));
  EXPECT_EQ(company_id(fields[0]), 0x286a);
}

TEST(AdvertisingData, AnOverrunOrAZeroLengthEndsTheWalk) {
  // A length running past the end: nothing of it, what came before kept.
  EXPECT_TRUE(ad::manufacturer_data(Bytes{0x05, 0xff, 0x4c, 0x00}).empty());
  const Bytes overrun = {0x02, 0x01, 0x06, 0x05, 0x09, 'B', 'M'};
  EXPECT_EQ(std::distance(ad::Fields(overrun).begin(), ad::Fields(overrun).end()), 1);
  EXPECT_EQ(ad::parse(overrun).name, "");
  // Zero length: padding, as a legacy advertisement is sent; what follows is not read.
  const Bytes padded = {0x02, 0x01, 0x06, 0x00, 0x04, 0x09, 'B', 'M', '6'};
  EXPECT_EQ(std::distance(ad::Fields(padded).begin(), ad::Fields(padded).end()), 1);
  EXPECT_EQ(ad::parse(padded).name, "");
  EXPECT_EQ(ad::Fields(Bytes{}).begin(), ad::Fields(Bytes{}).end());
  // A structure of length 1 is a type with no data.
  const Bytes empty_field = {0x01, 0x09};
  const auto f = ad::Fields(empty_field).begin();
  EXPECT_EQ(f->type, 0x09);
  EXPECT_TRUE(f->data.empty());
}

TEST(AdvertisingData, TheCompleteNameWinsOverTheShortenedOne) {
  EXPECT_EQ(ad::parse(Bytes{0x03, 0x08, 'B', 'M', 0x04, 0x09, 'B', 'M', '6'}).name, "BM6");
  EXPECT_EQ(ad::parse(Bytes{0x04, 0x09, 'B', 'M', '6', 0x03, 0x08, 'B', 'M'}).name, "BM6");
  EXPECT_EQ(ad::parse(Bytes{0x03, 0x08, 'B', 'M'}).name, "BM");
}

TEST(AdvertisingData, SixteenBitUuidsEachOnce) {
  // Incomplete list FFF0 180F, complete list 180F, an odd byte left over.
  const Bytes data = {0x05, 0x02, 0xf0, 0xff, 0x0f, 0x18, 0x04, 0x03, 0x0f, 0x18, 0x01};
  EXPECT_EQ(ad::parse(data).uuids16, (std::vector<std::uint16_t>{0xfff0, 0x180f}));
}

TEST(AdvertisingData, AppendWritesLengthTypeAndData) {
  Bytes out;
  const std::uint8_t fff0[] = {0xf0, 0xff};
  ad::append(out, ad::kUuid16Complete, fff0);
  ad::append(out, ad::kCompleteName, {});
  EXPECT_EQ(out, (Bytes{0x03, 0x03, 0xf0, 0xff, 0x01, 0x09}));
  EXPECT_EQ(ad::parse(out).uuids16, std::vector<std::uint16_t>{0xfff0});
}

}  // namespace
}  // namespace bm6
