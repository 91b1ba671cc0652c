// The protocol layer for BM7/BM2 (#12) and advertisements (#11); history:
// history_protocol_test.cpp.
#include <gtest/gtest.h>

#include <initializer_list>

#include "protocol/advertisement.h"
#include "protocol/family.h"

#include "tests/block_bytes.h"

namespace bm6 {
namespace {

using test::bytes;

std::vector<std::uint8_t> vec(std::initializer_list<int> v) {
  std::vector<std::uint8_t> out;
  for (int x : v) out.push_back(static_cast<std::uint8_t>(x));
  return out;
}

Reading reading(std::uint16_t cv, std::optional<int> t, std::uint8_t soc, State s) {
  Reading r;
  r.centivolts = cv;
  r.temperature_c = t;
  r.soc_percent = soc;
  r.state = s;
  return r;
}

LiveRejection rejected(const LiveDecode& d) {
  EXPECT_TRUE(std::holds_alternative<LiveRejection>(d));
  return std::holds_alternative<LiveRejection>(d) ? std::get<LiveRejection>(d)
                                                  : LiveRejection::kWrongLength;
}

const Block kBm6Frame = bytes({0x02, 0xce, 0xd3, 0xfc, 0x59, 0x3f, 0xbd, 0x09, 0xef, 0x57, 0xf3,
                               0x8a, 0x73, 0x89, 0x76, 0x10});
const Block kBm7Frame = bytes({0x35, 0xa2, 0x3a, 0xcd, 0x8f, 0x8a, 0x3b, 0x36, 0x55, 0x4f, 0xba,
                               0x10, 0xf1, 0x87, 0x95, 0x07});
const Block kBm2Frame = bytes({0x7b, 0xfb, 0xe4, 0x25, 0x36, 0xd6, 0x8b, 0x55, 0xcc, 0xfb, 0x73,
                               0xf6, 0x3c, 0xee, 0x44, 0x65});

// --- families ---------------------------------------------------------------------------

TEST(Family, NamesRoundTrip) {
  for (Family f : kAllFamilies) EXPECT_EQ(parse_family(to_string(f)), f);
  EXPECT_EQ(parse_family("bm7"), Family::kBm7);
  EXPECT_EQ(parse_family("BM8"), std::nullopt);
  EXPECT_EQ(parse_family(""), std::nullopt);
  EXPECT_STREQ(to_string(Family::kBm2), "BM2");
}

TEST(Family, KeysDifferOnlyInTheLastSevenBytes) {
  EXPECT_EQ(std::string(kBm7Key.begin() + 9, kBm7Key.end()), "010000@");
  EXPECT_EQ(std::string(kBm2Key.begin() + 9, kBm2Key.end()), "1882466");
  EXPECT_TRUE(std::equal(kBm6Key.begin(), kBm6Key.begin() + 9, kBm7Key.begin()));
  EXPECT_TRUE(std::equal(kBm6Key.begin(), kBm6Key.begin() + 9, kBm2Key.begin()));
  EXPECT_EQ(FamilyCodec(Family::kBm7).key(), kBm7Key);
}

// --- the traits table --------------------------------------------------------------------

TEST(FamilyTraits, EachEntryIsItsFamilysNamedAndKeyedAsDocumented) {
  for (Family f : kAllFamilies) EXPECT_EQ(traits(f).family, f) << to_string(f);
  // /work/shared/bm6-protocol.md, "Related devices": the keys' last 7 bytes, the names.
  const std::pair<Family, std::string> keys[] = {
      {Family::kBm6, "0100009"}, {Family::kBm7, "010000@"}, {Family::kBm2, "1882466"}};
  for (const auto& [f, tail] : keys) {
    const Block& key = traits(f).key;
    EXPECT_EQ(std::string(key.begin(), key.begin() + 7), "leagend") << to_string(f);
    EXPECT_EQ(key[7], 0xff);
    EXPECT_EQ(key[8], 0xfe);
    EXPECT_EQ(std::string(key.begin() + 9, key.end()), tail) << to_string(f);
  }
  using Names = std::vector<std::string_view>;
  const auto names = [](Family f) {
    return Names(traits(f).advertised_names.begin(), traits(f).advertised_names.end());
  };
  EXPECT_EQ(names(Family::kBm6), Names{"BM6"});
  EXPECT_EQ(names(Family::kBm7), Names{"BM300 Pro"});
  EXPECT_EQ(names(Family::kBm2), (Names{"BM2", "Battery Monitor", "ZX-1689"}));
}

TEST(FamilyTraits, RequestAndHistoryAreWhatTheCodecWrites) {
  for (Family f : kAllFamilies) {
    FamilyCodec codec(f);
    EXPECT_EQ(codec.live_request().has_value(), traits(f).needs_request) << to_string(f);
    EXPECT_EQ(codec.history_request(1).has_value(), traits(f).has_history) << to_string(f);
  }
  EXPECT_FALSE(traits(Family::kBm2).needs_request);
  EXPECT_FALSE(traits(Family::kBm2).has_history);
  EXPECT_TRUE(traits(Family::kBm7).needs_request);
  EXPECT_TRUE(traits(Family::kBm7).has_history);
}

TEST(FamilyTraits, TemperatureAndStatesAreWhatTheVectorsCarry) {
  // The documented frames: BM6 and BM7 carry a temperature, BM2 none.
  const std::pair<Family, Block> vectors[] = {
      {Family::kBm6, kBm6Frame}, {Family::kBm7, kBm7Frame}, {Family::kBm2, kBm2Frame}};
  for (const auto& [f, frame] : vectors) {
    FamilyCodec codec(f);
    const auto r = std::get<Reading>(codec.decode_notification(frame));
    EXPECT_EQ(r.temperature_c.has_value(), traits(f).has_temperature) << to_string(f);
    EXPECT_TRUE(reports(f, r.state)) << to_string(f);
  }
  EXPECT_TRUE(reports(Family::kBm2, State::kFloating));
  EXPECT_FALSE(reports(Family::kBm6, State::kFloating));
  EXPECT_FALSE(reports(Family::kBm7, State::kCritical));
  // Each state the table lists encodes; one it does not list, nowhere.
  for (Family f : kAllFamilies)
    for (int i = 0; i < kStateCount; ++i) {
      const auto s = static_cast<State>(i);
      EXPECT_EQ(encode_live(f, reading(1200, 20, 50, s)).has_value(), reports(f, s))
          << to_string(f) << " " << to_string(s);
    }
  EXPECT_EQ(traits(Family::kBm2).max_centivolts, 4095);
  EXPECT_FALSE(encode_live(Family::kBm2, reading(4096, std::nullopt, 50, State::kNormal)));
}

TEST(FamilyTraits, OneFrameSettlesAFamilyWithALongPrefix) {
  for (Family f : kAllFamilies) {
    if (traits(f).long_prefix) {
      EXPECT_EQ(traits(f).settle_frames, 1u) << to_string(f);
    }
  }
  EXPECT_FALSE(traits(Family::kBm2).long_prefix);
  EXPECT_EQ(traits(Family::kBm2).settle_frames, 2u);
}

TEST(FamilyTraits, NamesAsInASentence) {
  EXPECT_EQ(family_names(kAllFamilies, "or"), "BM6, BM7 or BM2");
  EXPECT_EQ(family_names(kAllFamilies, "or", true), "bm6, bm7 or bm2");
  EXPECT_EQ(
      family_names(families_where([](const FamilyTraits& t) { return t.has_history; }), "and"),
      "BM6 and BM7");
  const Family one[] = {Family::kBm2};
  EXPECT_EQ(family_names(one, "and"), "BM2");
  EXPECT_EQ(family_names(std::span<const Family>(), "and"), "");
}

TEST(Family, StateNamesRoundTrip) {
  for (int i = 0; i < kStateCount; ++i)
    EXPECT_EQ(parse_state_name(to_string(static_cast<State>(i))), static_cast<State>(i));
  EXPECT_EQ(parse_state_name("flat"), std::nullopt);
}

TEST(Family, LiveRequests) {
  FamilyCodec bm6(Family::kBm6), bm7(Family::kBm7), bm2(Family::kBm2);
  EXPECT_EQ(bm6.live_request(), bytes({0x69, 0x7e, 0xa0, 0xb5, 0xd5, 0x4c, 0xf0, 0x24, 0xe7, 0x94,
                                       0x77, 0x23, 0x55, 0x55, 0x41, 0x14}));
  EXPECT_EQ(bm7.live_request(), bytes({0x58, 0x6d, 0x7b, 0x23, 0x77, 0xc6, 0x92, 0x4d, 0xcd, 0x75,
                                       0x0a, 0xcb, 0x29, 0xf5, 0xbf, 0x8d}));
  EXPECT_EQ(bm2.live_request(), std::nullopt);
}

TEST(Family, Bm6VectorThroughTheCodec) {
  FamilyCodec codec(Family::kBm6);
  EXPECT_EQ(std::get<Reading>(codec.decode_notification(kBm6Frame)),
            reading(1340, 23, 100, State::kNormal));
}

TEST(Family, Bm7Vector) {
  FamilyCodec codec(Family::kBm7);
  EXPECT_EQ(codec.decrypt(kBm7Frame),
            bytes({0xd1, 0x55, 0x07, 0x01, 0x07, 0x01, 0x17, 0x04, 0xaa}));
  EXPECT_EQ(std::get<Reading>(codec.decode_notification(kBm7Frame)),
            reading(1194, -7, 23, State::kLow));
  EXPECT_EQ(codec.encode_notification(reading(1194, -7, 23, State::kLow)), kBm7Frame);
}

TEST(Family, Bm2Vector) {
  FamilyCodec codec(Family::kBm2);
  EXPECT_EQ(codec.decrypt(kBm2Frame), bytes({0xf5, 0x4f, 0x74, 0x57}));
  EXPECT_EQ(std::get<Reading>(codec.decode_notification(kBm2Frame)),
            reading(1271, std::nullopt, 87, State::kCharging));
  EXPECT_EQ(codec.encode_notification(reading(1271, std::nullopt, 87, State::kCharging)),
            kBm2Frame);
}

TEST(Family, Bm2StatesMap) {
  const std::pair<int, State> map[] = {{0, State::kCritical},
                                       {1, State::kLow},
                                       {2, State::kNormal},
                                       {4, State::kCharging},
                                       {8, State::kFloating}};
  for (auto [wire, state] : map) {
    const LiveDecode d = decode_bm2_frame(bytes({0xf5, 0x4f, 0x70 | wire, 0x57}));
    ASSERT_TRUE(std::holds_alternative<Reading>(d)) << wire;
    EXPECT_EQ(std::get<Reading>(d).state, state);
    EXPECT_EQ(encode_bm2_frame(std::get<Reading>(d)), bytes({0xf5, 0x4f, 0x70 | wire, 0x57}));
  }
  for (int wire : {3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15})
    EXPECT_EQ(rejected(decode_bm2_frame(bytes({0xf5, 0x4f, 0x70 | wire, 0x57}))),
              LiveRejection::kBadState)
        << wire;
}

TEST(Family, Bm2Rejections) {
  const std::vector<std::uint8_t> short_frame = {0xf5, 0x4f, 0x74, 0x57};
  EXPECT_EQ(rejected(decode_bm2_frame(short_frame)), LiveRejection::kWrongLength);
  EXPECT_EQ(rejected(decode_bm2_frame(bytes({0xe7, 0x00, 0x10}))), LiveRejection::kHistoryCount);
  EXPECT_EQ(rejected(decode_bm2_frame(bytes({0xff, 0xff, 0xfe, 0x01}))),
            LiveRejection::kHistoryMarker);
  EXPECT_EQ(rejected(decode_bm2_frame(bytes({0xff, 0xfe, 0xfe, 0x00, 0x04}))),
            LiveRejection::kHistoryMarker);
  EXPECT_EQ(rejected(decode_bm2_frame(bytes({0xff, 0xfe, 0xff}))), LiveRejection::kWrongPrefix);
  EXPECT_EQ(rejected(decode_bm2_frame(bytes({0xd1, 0x55, 0x07}))), LiveRejection::kWrongPrefix);
  EXPECT_EQ(rejected(decode_bm2_frame(bytes({0xf5, 0x4f, 0x74, 101}))),
            LiveRejection::kBadStateOfCharge);
  EXPECT_EQ(rejected(decode_bm2_frame(bytes({0xf5, 0x00, 0x02, 0x00}))), LiveRejection::kAllZero);
  // 0 V with a charge, or a charge of 0 with a voltage, are readings.
  EXPECT_TRUE(std::holds_alternative<Reading>(decode_bm2_frame(bytes({0xf5, 0x00, 0x02, 0x01}))));
  EXPECT_TRUE(std::holds_alternative<Reading>(decode_bm2_frame(bytes({0xf5, 0x00, 0x12, 0x00}))));
  FamilyCodec codec(Family::kBm2);
  EXPECT_EQ(rejected(codec.decode_notification(short_frame)), LiveRejection::kWrongLength);
}

TEST(Family, Bm2VoltageUsesTwelveBits) {
  const LiveDecode d = decode_bm2_frame(bytes({0xf5, 0xff, 0xf2, 0x64}));
  EXPECT_EQ(std::get<Reading>(d).centivolts, 4095);
  EXPECT_EQ(encode_bm2_frame(reading(4096, std::nullopt, 50, State::kNormal)), std::nullopt);
  EXPECT_EQ(encode_bm2_frame(reading(1200, std::nullopt, 101, State::kNormal)), std::nullopt);
  // BM2 frames carry no temperature: it is dropped.
  EXPECT_EQ(encode_bm2_frame(reading(1271, 20, 87, State::kCharging)),
            bytes({0xf5, 0x4f, 0x74, 0x57}));
}

TEST(Family, Bm6RejectionsKeepFrameRejectionValues) {
  for (int i = 0; i < kFrameRejectionCount; ++i)
    EXPECT_STREQ(to_string(to_live_rejection(static_cast<FrameRejection>(i))),
                 to_string(static_cast<FrameRejection>(i)));
  const auto frame = [](std::initializer_list<int> tail) {
    Block b = bytes({0xd1, 0x55, 0x07});
    int i = 3;
    for (int x : tail) b[i++] = static_cast<std::uint8_t>(x);
    return b;
  };
  EXPECT_EQ(rejected(decode_bm6_frame(std::vector<std::uint8_t>(15))), LiveRejection::kWrongLength);
  EXPECT_EQ(rejected(decode_bm6_frame(bytes({0xf5, 0x4f, 0x74, 0x57}))),
            LiveRejection::kWrongPrefix);
  EXPECT_EQ(rejected(decode_bm6_frame(frame({0xff}))), LiveRejection::kAcknowledgement);
  EXPECT_EQ(rejected(decode_bm6_frame(frame({0x00, 0x00, 0x00, 0x00, 0x00, 0x00}))),
            LiveRejection::kAllZero);
  EXPECT_EQ(rejected(decode_bm6_frame(frame({0x02, 0x10}))), LiveRejection::kBadTemperatureSign);
  EXPECT_EQ(rejected(decode_bm6_frame(frame({0x00, 100}))), LiveRejection::kBadTemperature);
  EXPECT_EQ(rejected(decode_bm6_frame(frame({0x00, 20, 3}))), LiveRejection::kBadState);
  EXPECT_EQ(rejected(decode_bm6_frame(frame({0x00, 20, 0, 101}))),
            LiveRejection::kBadStateOfCharge);
  for (int i = 0; i < kLiveRejectionCount; ++i)
    EXPECT_STRNE(to_string(static_cast<LiveRejection>(i)), "unknown");
}

TEST(Family, Bm6EncoderRefusesWhatTheFrameCannotCarry) {
  EXPECT_EQ(encode_bm6_frame(reading(1300, std::nullopt, 50, State::kNormal)), std::nullopt);
  EXPECT_EQ(encode_bm6_frame(reading(1300, 20, 50, State::kCritical)), std::nullopt);
  EXPECT_EQ(encode_bm6_frame(reading(1300, 20, 50, State::kFloating)), std::nullopt);
  EXPECT_EQ(encode_bm6_frame(reading(1300, 100, 50, State::kNormal)), std::nullopt);
  EXPECT_EQ(encode_bm6_frame(reading(1300, -100, 50, State::kNormal)), std::nullopt);
  EXPECT_EQ(encode_bm6_frame(reading(1300, 20, 101, State::kNormal)), std::nullopt);
  EXPECT_EQ(to_bm6_reading(reading(1300, 20, 50, State::kFloating)), std::nullopt);
}

TEST(Family, EveryFamilyRoundTrips) {
  for (Family f : kAllFamilies) {
    FamilyCodec codec(f);
    const std::optional<int> t = f == Family::kBm2 ? std::nullopt : std::optional<int>(-12);
    for (State s : {State::kNormal, State::kLow, State::kCharging}) {
      const Reading r = reading(1234, t, 56, s);
      const auto sent = codec.encode_notification(r);
      ASSERT_TRUE(sent) << to_string(f);
      EXPECT_EQ(std::get<Reading>(codec.decode_notification(*sent)), r) << to_string(f);
    }
  }
}

// --- detection -------------------------------------------------------------------------

TEST(Detect, VectorsAreTheirOwnFamily) {
  EXPECT_EQ(detect_family(kBm6Frame), Family::kBm6);
  EXPECT_EQ(detect_family(kBm7Frame), Family::kBm7);
  EXPECT_EQ(detect_family(kBm2Frame), Family::kBm2);
  EXPECT_EQ(detect_family(std::vector<std::uint8_t>(15)), std::nullopt);
}

TEST(Detect, ReadingsAreNeverTakenForAnotherFamily) {
  // A BM6 frame under the BM7 or BM2 key, and the other way round, must prove nothing.
  FamilyDetector detector;
  FamilyCodec bm2(Family::kBm2);
  int frames = 0;
  int as_bm2 = 0;
  for (Family f : kAllFamilies) {
    FamilyCodec codec(f);
    for (int cv = 1000; cv <= 1500; cv += 7)
      for (State s : {State::kNormal, State::kLow, State::kCharging})
        for (int soc : {0, 37, 100}) {
          const std::optional<int> t =
              f == Family::kBm2 ? std::nullopt : std::optional<int>((cv % 60) - 20);
          const auto sent = codec.encode_notification(
              reading(static_cast<std::uint16_t>(cv), t, static_cast<std::uint8_t>(soc), s));
          ASSERT_TRUE(sent);
          ASSERT_EQ(detector.detect(*sent), f) << to_string(f) << " " << cv;
          for (Family other : {Family::kBm6, Family::kBm7}) {
            if (other == f) continue;
            FamilyCodec wrong(other);
            ASSERT_FALSE(is_evidence_of(other, wrong.decrypt(*sent))) << to_string(f);
          }
          // Under the BM2 key a BM6/BM7 frame is random bytes: it passes BM2's one-byte
          // prefix and field checks now and then, which the detector's order makes harmless.
          if (f != Family::kBm2 && is_evidence_of(Family::kBm2, bm2.decrypt(*sent))) ++as_bm2;
          ++frames;
        }
  }
  EXPECT_GT(frames, 1000);
  EXPECT_LT(as_bm2, frames / 200);  // about one in 2,000 expected
}

TEST(Detect, AcknowledgementAndAllZeroFramesIdentifyBm6AndBm7) {
  for (Family f : {Family::kBm6, Family::kBm7}) {
    FamilyCodec codec(f);
    EXPECT_EQ(detect_family(codec.encrypt(encode_acknowledgement())), f);
    EXPECT_EQ(detect_family(codec.encrypt(bytes({0xd1, 0x55, 0x07}))), f);
  }
  // BM2's history frames are not readings: they prove nothing.
  FamilyCodec bm2(Family::kBm2);
  EXPECT_EQ(detect_family(bm2.encrypt(bytes({0xe7, 0x00, 0x10}))), std::nullopt);
}

// --- advertisements --------------------------------------------------------------------

const BdAddr kAdvertiser = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c};

std::vector<std::uint8_t> manufacturer(int company, std::initializer_list<int> rest) {
  std::vector<std::uint8_t> m = {static_cast<std::uint8_t>(company & 0xff),
                                 static_cast<std::uint8_t>(company >> 8)};
  for (int x : rest) m.push_back(static_cast<std::uint8_t>(x));
  return m;
}

const auto kAd1 = manufacturer(
    10346, {0x1d, 0x95, 0xea, 0x13, 0x2b, 0xed, 0x41, 0xfe, 0xf0, 0xcc, 0xf8, 0x9c, 0xa9, 0x4a});
const auto kAd2 = manufacturer(
    58876, {0xfd, 0x1b, 0xd9, 0x38, 0x5a, 0x06, 0x81, 0xa1, 0x36, 0x0c, 0x16, 0x76, 0xbe, 0xa4});
const auto kAd3 = manufacturer(
    31781, {0x44, 0x70, 0x7b, 0xb6, 0x77, 0xe7, 0x40, 0xbb, 0xaf, 0xa9, 0x4e, 0x60, 0xdc, 0x64});

AdvertisedReading ad(std::uint16_t cv, std::uint8_t soc, std::optional<State> s,
                     std::optional<std::uint8_t> byte10) {
  AdvertisedReading r;
  r.centivolts = cv;
  r.soc_percent = soc;
  r.state = s;
  r.byte10 = byte10;
  return r;
}

AdRejection ad_rejected(const AdDecode& d) {
  EXPECT_TRUE(std::holds_alternative<AdRejection>(d));
  return std::holds_alternative<AdRejection>(d) ? std::get<AdRejection>(d)
                                                : AdRejection::kNoManufacturerData;
}

// The text form is transport's (tests/address_test.cpp).
TEST(BdAddr, FromLsbFirst) {
  const std::array<std::uint8_t, 6> lsb_first = {0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50};
  EXPECT_EQ(bdaddr_from_lsb_first(lsb_first), kAdvertiser);
}

TEST(Advertisement, PublicVectors) {
  FamilyCodec codec(Family::kBm6);
  EXPECT_EQ(kAd1[0], 0x6a);
  EXPECT_EQ(kAd1[1], 0x28);
  EXPECT_EQ(std::get<AdvertisedReading>(decode_advertisement(codec, kAdvertiser, kAd1)),
            ad(1351, 100, State::kCharging, 2));
  EXPECT_EQ(std::get<AdvertisedReading>(decode_advertisement(codec, kAdvertiser, kAd2)).centivolts,
            1352);
  EXPECT_EQ(std::get<AdvertisedReading>(decode_advertisement(codec, kAdvertiser, kAd3)).centivolts,
            1353);
}

TEST(Advertisement, AnotherAddressKeyOrLengthIsRejected) {
  FamilyCodec bm6(Family::kBm6), bm7(Family::kBm7), bm2(Family::kBm2);
  BdAddr other = kAdvertiser;
  other[5] ^= 1;
  for (const auto& m : {kAd1, kAd2, kAd3}) {
    EXPECT_EQ(ad_rejected(decode_advertisement(bm6, other, m)), AdRejection::kAddressMismatch);
    EXPECT_EQ(ad_rejected(decode_advertisement(bm7, kAdvertiser, m)),
              AdRejection::kAddressMismatch);
    EXPECT_EQ(ad_rejected(decode_advertisement(bm2, kAdvertiser, m)),
              AdRejection::kAddressMismatch);
  }
  auto longer = kAd1;
  longer.push_back(0);
  EXPECT_EQ(ad_rejected(decode_advertisement(bm6, kAdvertiser, longer)), AdRejection::kWrongLength);
  EXPECT_EQ(ad_rejected(decode_advertisement(bm6, kAdvertiser, std::span(kAd1).first(15))),
            AdRejection::kWrongLength);
}

TEST(Advertisement, FieldRejections) {
  Block p = bytes({0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c, 0x05, 0x47, 101, 0x02, 0x02});
  EXPECT_EQ(ad_rejected(decode_advertisement_plaintext(Family::kBm6, kAdvertiser, p)),
            AdRejection::kBadStateOfCharge);
  p[8] = 100;
  p[9] = 3;
  EXPECT_EQ(ad_rejected(decode_advertisement_plaintext(Family::kBm6, kAdvertiser, p)),
            AdRejection::kBadState);
  p[9] = 1;
  // Byte 10 is kept raw whatever it holds; read as a temperature (the opt-in) 0x80 and up is
  // none, since no negative coding is known.
  p[10] = 0x80;
  auto r =
      std::get<AdvertisedReading>(decode_advertisement_plaintext(Family::kBm6, kAdvertiser, p));
  EXPECT_EQ(r, ad(1351, 100, State::kLow, 0x80));
  EXPECT_EQ(unconfirmed_temperature_c(r), std::nullopt);
  p[10] = 0x7f;
  r = std::get<AdvertisedReading>(decode_advertisement_plaintext(Family::kBm6, kAdvertiser, p));
  EXPECT_EQ(r.byte10, 0x7f);
  EXPECT_EQ(unconfirmed_temperature_c(r), 127);
  EXPECT_EQ(unconfirmed_temperature_c(ad(1351, 100, std::nullopt, std::nullopt)), std::nullopt);
  for (int i = 0; i < kAdRejectionCount; ++i)
    EXPECT_STRNE(to_string(static_cast<AdRejection>(i)), "unknown");
}

TEST(Advertisement, Bm2AddressIsLeastSignificantByteFirst) {
  const Block p = bytes({0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x04, 0xf7, 87, 0xee, 0xee});
  EXPECT_EQ(
      std::get<AdvertisedReading>(decode_advertisement_plaintext(Family::kBm2, kAdvertiser, p)),
      ad(1271, 87, std::nullopt, std::nullopt));
  EXPECT_EQ(ad_rejected(decode_advertisement_plaintext(Family::kBm6, kAdvertiser, p)),
            AdRejection::kAddressMismatch);
  Block bad = p;
  bad[8] = 101;
  EXPECT_EQ(ad_rejected(decode_advertisement_plaintext(Family::kBm2, kAdvertiser, bad)),
            AdRejection::kBadStateOfCharge);
}

TEST(Advertisement, EncoderRoundTripsAndReproducesTheVector) {
  FamilyCodec bm6(Family::kBm6);
  const auto sent = encode_advertisement(bm6, ad(1351, 100, State::kCharging, 2), kAdvertiser);
  ASSERT_TRUE(sent);
  EXPECT_TRUE(std::equal(sent->begin(), sent->end(), kAd1.begin()));
  for (Family f : kAllFamilies) {
    FamilyCodec codec(f);
    const bool bm2 = f == Family::kBm2;
    for (auto r : {ad(1180, 15, State::kLow, 0), ad(1420, 99, State::kCharging, 127),
                   ad(1300, 60, State::kNormal, 0xff)}) {
      if (bm2) r.state.reset(), r.byte10.reset();
      const auto m = encode_advertisement(codec, r, kAdvertiser);
      ASSERT_TRUE(m) << to_string(f);
      EXPECT_EQ(std::get<AdvertisedReading>(decode_advertisement(codec, kAdvertiser, *m)), r)
          << to_string(f);
    }
  }
  EXPECT_EQ(encode_advertisement(bm6, ad(1300, 101, State::kNormal, 2), kAdvertiser), std::nullopt);
  EXPECT_EQ(encode_advertisement(bm6, ad(1300, 50, std::nullopt, 2), kAdvertiser), std::nullopt);
  EXPECT_EQ(encode_advertisement(bm6, ad(1300, 50, State::kFloating, 2), kAdvertiser),
            std::nullopt);
  // No byte 10 given: it goes out as ff (no temperature, read the way some decoders do).
  const auto none =
      encode_advertisement(bm6, ad(1300, 50, State::kNormal, std::nullopt), kAdvertiser);
  const auto decoded = std::get<AdvertisedReading>(decode_advertisement(bm6, kAdvertiser, *none));
  EXPECT_EQ(decoded.byte10, 0xff);
  EXPECT_EQ(unconfirmed_temperature_c(decoded), std::nullopt);
}

TEST(Advertisement, IBeacon) {
  const auto m = encode_ibeacon(87, 0x1234, -59);
  ASSERT_EQ(m.size(), 25u);
  EXPECT_EQ(company_id(m), kAppleCompanyId);
  BeaconReading expected;
  expected.soc_percent = 87;
  expected.major = 87;
  expected.minor = 0x1234;
  expected.tx_power = -59;
  EXPECT_EQ(std::get<BeaconReading>(decode_ibeacon(m)), expected);

  auto other_uuid = m;
  other_uuid[10] ^= 1;
  EXPECT_EQ(std::get<AdRejection>(decode_ibeacon(other_uuid)), AdRejection::kOtherBeacon);
  auto other_company = m;
  other_company[0] = 0x4d;
  EXPECT_EQ(std::get<AdRejection>(decode_ibeacon(other_company)), AdRejection::kNotIBeacon);
  auto other_type = m;
  other_type[2] = 0x03;
  EXPECT_EQ(std::get<AdRejection>(decode_ibeacon(other_type)), AdRejection::kNotIBeacon);
  EXPECT_EQ(std::get<AdRejection>(decode_ibeacon(std::span(m).first(24))),
            AdRejection::kNotIBeacon);
  auto too_full = m;
  too_full[21] = 101;
  EXPECT_EQ(std::get<AdRejection>(decode_ibeacon(too_full)), AdRejection::kBadStateOfCharge);
}

TEST(Advertisement, CompanyId) {
  EXPECT_EQ(company_id(kAd1), 10346);
  EXPECT_EQ(company_id(std::vector<std::uint8_t>{0x4c}), 0);
}

TEST(Advertisement, PassiveDecodePrefersTheEncryptedReading) {
  FamilyCodec codec(Family::kBm6);
  const auto beacon = encode_ibeacon(99);
  const std::vector<std::vector<std::uint8_t>> both = {beacon, kAd1};
  EXPECT_EQ(std::get<AdvertisedReading>(decode_manufacturer_fields(codec, kAdvertiser, both)),
            ad(1351, 100, State::kCharging, 2));
  const std::vector<std::vector<std::uint8_t>> beacon_only = {beacon};
  EXPECT_EQ(std::get<BeaconReading>(decode_manufacturer_fields(codec, kAdvertiser, beacon_only))
                .soc_percent,
            99);
  BdAddr other = kAdvertiser;
  other[0] = 0;
  const std::vector<std::vector<std::uint8_t>> theirs = {kAd1};
  EXPECT_EQ(std::get<AdRejection>(decode_manufacturer_fields(codec, other, theirs)),
            AdRejection::kAddressMismatch);
  EXPECT_EQ(std::get<AdRejection>(decode_manufacturer_fields(codec, kAdvertiser, {})),
            AdRejection::kNoManufacturerData);
  const std::vector<std::vector<std::uint8_t>> unrelated = {vec({0x59, 0x00, 0x01})};
  EXPECT_EQ(std::get<AdRejection>(decode_manufacturer_fields(codec, kAdvertiser, unrelated)),
            AdRejection::kNoManufacturerData);
}

}  // namespace
}  // namespace bm6
