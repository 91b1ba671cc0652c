#include <gtest/gtest.h>

#include "tests/param_name.h"

#include <cctype>

#include "protocol/bm6_cipher.h"
#include "protocol/bm6_frame.h"

#include "tests/block_bytes.h"

namespace bm6 {
namespace {

using test::bytes;

TEST(Bm6Cipher, KeyIsLeagendFfFe0100009) {
  const std::string ascii = "leagend";
  for (std::size_t i = 0; i < ascii.size(); ++i) EXPECT_EQ(kBm6Key[i], ascii[i]);
  EXPECT_EQ(kBm6Key[7], 0xff);
  EXPECT_EQ(kBm6Key[8], 0xfe);
  EXPECT_EQ(std::string(kBm6Key.begin() + 9, kBm6Key.end()), "0100009");
}

TEST(Bm6Cipher, LiveDataRequestMatchesVector) {
  Bm6Cipher cipher;
  EXPECT_EQ(cipher.encrypt(live_data_request()),
            bytes({0x69, 0x7e, 0xa0, 0xb5, 0xd5, 0x4c, 0xf0, 0x24, 0xe7, 0x94, 0x77, 0x23, 0x55,
                   0x55, 0x41, 0x14}));
}

TEST(Bm6Cipher, FrameVectorDecrypts) {
  Bm6Cipher cipher;
  const Block cipher_text = bytes({0x02, 0xce, 0xd3, 0xfc, 0x59, 0x3f, 0xbd, 0x09, 0xef, 0x57, 0xf3,
                                   0x8a, 0x73, 0x89, 0x76, 0x10});
  EXPECT_EQ(cipher.decrypt(cipher_text), bytes({0xd1, 0x55, 0x07, 0x00, 0x17, 0x00, 0x64, 0x05,
                                                0x3c, 0x00, 0x00, 0x00, 0x01, 0x02, 0xff, 0xff}));
}

TEST(Bm6Cipher, ContextIsReusedAcrossManyBlocks) {
  Bm6Cipher cipher;
  Block b = live_data_request();
  for (int i = 0; i < 1000; ++i) b = cipher.encrypt(b);
  for (int i = 0; i < 1000; ++i) b = cipher.decrypt(b);
  EXPECT_EQ(b, live_data_request());
}

TEST(Bm6Cipher, LongerInputIsDecryptedBlockByBlock) {
  Bm6Cipher cipher;
  const Block a = cipher.encrypt(live_data_request());
  const Block b = cipher.encrypt(version_request());
  std::uint8_t in[32], out[32];
  std::copy(a.begin(), a.end(), in);
  std::copy(b.begin(), b.end(), in + 16);
  ASSERT_TRUE(cipher.decrypt(in, out));
  EXPECT_TRUE(std::equal(out, out + 16, live_data_request().begin()));
  EXPECT_TRUE(std::equal(out + 16, out + 32, version_request().begin()));
  // Zero IV per block: the second block does not depend on the first.
  EXPECT_FALSE(cipher.decrypt(std::span<const std::uint8_t>(in, 15), std::span(out, 15)));
  EXPECT_FALSE(cipher.decrypt(std::span<const std::uint8_t>(in, 0), std::span(out, 0)));
  EXPECT_FALSE(cipher.decrypt(std::span<const std::uint8_t>(in, 32), std::span(out, 16)));
}

TEST(Bm6Frame, VectorDecodesToReading) {
  Bm6Codec codec;
  const Block cipher_text = bytes({0x02, 0xce, 0xd3, 0xfc, 0x59, 0x3f, 0xbd, 0x09, 0xef, 0x57, 0xf3,
                                   0x8a, 0x73, 0x89, 0x76, 0x10});
  const auto decoded = codec.decode_notification(cipher_text);
  ASSERT_TRUE(std::holds_alternative<Bm6Reading>(decoded));
  const auto r = std::get<Bm6Reading>(decoded);
  EXPECT_EQ(r.centivolts, 1340);
  EXPECT_DOUBLE_EQ(r.volts(), 13.40);
  EXPECT_EQ(r.temperature_c, 23);
  EXPECT_EQ(r.soc_percent, 100);
  EXPECT_EQ(r.state, Bm6State::kNormal);
}

TEST(Bm6Frame, NegativeTemperature) {
  const auto d = decode_live_frame(bytes({0xd1, 0x55, 0x07, 0x01, 0x0c, 0x01, 0x14, 0x04, 0xb0}));
  ASSERT_TRUE(std::holds_alternative<Bm6Reading>(d));
  const auto r = std::get<Bm6Reading>(d);
  EXPECT_EQ(r.temperature_c, -12);
  EXPECT_EQ(r.state, Bm6State::kLow);
  EXPECT_EQ(r.soc_percent, 20);
  EXPECT_EQ(r.centivolts, 1200);
}

TEST(Bm6Frame, VoltageUsesAllSixteenBits) {
  const auto d = decode_live_frame(bytes({0xd1, 0x55, 0x07, 0x00, 0x14, 0x02, 0x32, 0xff, 0xfe}));
  ASSERT_TRUE(std::holds_alternative<Bm6Reading>(d));
  EXPECT_EQ(std::get<Bm6Reading>(d).centivolts, 0xfffe);
  EXPECT_EQ(std::get<Bm6Reading>(d).state, Bm6State::kCharging);
}

struct RejectCase {
  const char* name;
  Block frame;
  std::size_t length;
  FrameRejection why;
};

void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

class Bm6FrameReject : public ::testing::TestWithParam<RejectCase> {};

TEST_P(Bm6FrameReject, SaysWhy) {
  const auto& c = GetParam();
  const auto d = decode_live_frame(std::span<const std::uint8_t>(c.frame.data(), c.length));
  ASSERT_TRUE(std::holds_alternative<FrameRejection>(d)) << c.name;
  EXPECT_EQ(std::get<FrameRejection>(d), c.why) << c.name << ": " << to_string(c.why);
}

INSTANTIATE_TEST_SUITE_P(
    EveryReason, Bm6FrameReject,
    ::testing::Values(
        RejectCase{"short", bytes({0xd1, 0x55, 0x07}), 15, FrameRejection::kWrongLength},
        RejectCase{"empty", Block{}, 0, FrameRejection::kWrongLength},
        RejectCase{"version answer", bytes({0xd1, 0x55, 0x01, 0x01, 0x08}), 16,
                   FrameRejection::kWrongPrefix},
        RejectCase{"garbage", bytes({0x12, 0x34, 0x56}), 16, FrameRejection::kWrongPrefix},
        RejectCase{"acknowledgement", bytes({0xd1, 0x55, 0x07, 0xff}), 16,
                   FrameRejection::kAcknowledgement},
        RejectCase{"all zero", bytes({0xd1, 0x55, 0x07}), 16, FrameRejection::kAllZero},
        RejectCase{"sign 02", bytes({0xd1, 0x55, 0x07, 0x02, 0x10, 0, 50, 0x05, 0x00}), 16,
                   FrameRejection::kBadTemperatureSign},
        RejectCase{"200 degrees", bytes({0xd1, 0x55, 0x07, 0x00, 200, 0, 50, 0x05, 0x00}), 16,
                   FrameRejection::kBadTemperature},
        RejectCase{"minus zero", bytes({0xd1, 0x55, 0x07, 0x01, 0, 0, 50, 0x05, 0x00}), 16,
                   FrameRejection::kBadTemperature},
        RejectCase{"state 3", bytes({0xd1, 0x55, 0x07, 0x00, 20, 3, 50, 0x05, 0x00}), 16,
                   FrameRejection::kBadState},
        RejectCase{"soc 101", bytes({0xd1, 0x55, 0x07, 0x00, 20, 0, 101, 0x05, 0x00}), 16,
                   FrameRejection::kBadStateOfCharge}),
    test::ParamName());

TEST(Bm6Frame, WrongCiphertextLengthIsRejectedBeforeDecryption) {
  Bm6Codec codec;
  std::uint8_t seventeen[17] = {};
  EXPECT_EQ(std::get<FrameRejection>(codec.decode_notification(seventeen)),
            FrameRejection::kWrongLength);
  EXPECT_EQ(std::get<FrameRejection>(codec.decode_notification({})), FrameRejection::kWrongLength);
}

TEST(Bm6Frame, RoundTripsThroughEncryption) {
  Bm6Codec codec;
  for (int t : {-40, -1, 0, 1, 23, 60}) {
    for (auto state : {Bm6State::kNormal, Bm6State::kLow, Bm6State::kCharging}) {
      const Bm6Reading r{static_cast<std::uint16_t>(1100 + t * 3), t, 57, state};
      const Block wire = codec.encrypt(encode_live_frame(r));
      const auto d = codec.decode_notification(wire);
      ASSERT_TRUE(std::holds_alternative<Bm6Reading>(d)) << t;
      EXPECT_EQ(std::get<Bm6Reading>(d), r);
    }
  }
  EXPECT_EQ(
      std::get<FrameRejection>(codec.decode_notification(codec.encrypt(encode_acknowledgement()))),
      FrameRejection::kAcknowledgement);
}

TEST(Bm6Frame, Commands) {
  EXPECT_EQ(live_data_request(), bytes({0xd1, 0x55, 0x07}));
  EXPECT_EQ(version_request(), bytes({0xd1, 0x55, 0x01}));
  EXPECT_EQ(classify_command(live_data_request()), CommandKind::kLiveData);
  EXPECT_EQ(classify_command(version_request()), CommandKind::kVersion);
  EXPECT_EQ(classify_command(bytes({0xd1, 0x55, 0x05, 0, 0, 0, 0, 2})), CommandKind::kHistory);
  EXPECT_EQ(classify_command(bytes({0xd1, 0x54, 0x07})), CommandKind::kUnknown);
}

TEST(Bm6Frame, VersionRoundTripAndObservedAnswer) {
  const auto v = decode_version(bytes({0xd1, 0x55, 0x01, 0x01, 0x08, 0x00, 0x05, 0x00}));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->to_string(), "01.08.00.05.00");
  EXPECT_EQ(decode_version(encode_version(*v))->bytes, v->bytes);
  EXPECT_FALSE(decode_version(live_data_request()));
  EXPECT_FALSE(decode_version(std::span<const std::uint8_t>(version_request().data(), 8)));
}

TEST(Bm6Frame, StateNames) {
  EXPECT_EQ(parse_state("charging"), Bm6State::kCharging);
  EXPECT_EQ(parse_state("low"), Bm6State::kLow);
  EXPECT_EQ(parse_state("normal"), Bm6State::kNormal);
  EXPECT_FALSE(parse_state("Normal"));
  EXPECT_STREQ(to_string(Bm6State::kLow), "low");
}

}  // namespace
}  // namespace bm6
