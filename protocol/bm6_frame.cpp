#include "protocol/bm6_frame.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace bm6 {

namespace {
constexpr std::uint8_t kPrefix0 = 0xd1;
constexpr std::uint8_t kPrefix1 = 0x55;
constexpr std::uint8_t kLiveData = 0x07;
constexpr std::uint8_t kVersion = 0x01;
constexpr std::uint8_t kHistory = 0x05;

Block command(std::uint8_t code) {
  Block b{};
  b[0] = kPrefix0;
  b[1] = kPrefix1;
  b[2] = code;
  return b;
}
}  // namespace

const char* to_string(Bm6State state) {
  switch (state) {
    case Bm6State::kNormal:
      return "normal";
    case Bm6State::kLow:
      return "low";
    case Bm6State::kCharging:
      return "charging";
  }
  return "unknown";
}

std::optional<Bm6State> parse_state(const std::string& name) {
  if (name == "normal") return Bm6State::kNormal;
  if (name == "low") return Bm6State::kLow;
  if (name == "charging") return Bm6State::kCharging;
  return std::nullopt;
}

const char* to_string(FrameRejection rejection) {
  switch (rejection) {
    case FrameRejection::kWrongLength:
      return "wrong length";
    case FrameRejection::kWrongPrefix:
      return "not a live-data frame";
    case FrameRejection::kAcknowledgement:
      return "acknowledgement";
    case FrameRejection::kAllZero:
      return "all-zero frame";
    case FrameRejection::kBadTemperatureSign:
      return "bad temperature sign";
    case FrameRejection::kBadTemperature:
      return "temperature out of range";
    case FrameRejection::kBadState:
      return "bad state";
    case FrameRejection::kBadStateOfCharge:
      return "state of charge over 100";
  }
  return "unknown";
}

LiveFrameDecode decode_live_frame(std::span<const std::uint8_t> p) {
  if (p.size() != 16) return FrameRejection::kWrongLength;
  if (p[0] != kPrefix0 || p[1] != kPrefix1 || p[2] != kLiveData)
    return FrameRejection::kWrongPrefix;
  if (p[3] == 0xff) return FrameRejection::kAcknowledgement;
  if (p[3] != 0x00 && p[3] != 0x01) return FrameRejection::kBadTemperatureSign;
  if (p[4] > kMaxTemperatureMagnitude || (p[3] == 0x01 && p[4] == 0))
    return FrameRejection::kBadTemperature;
  if (p[5] > 2) return FrameRejection::kBadState;
  if (p[6] > 100) return FrameRejection::kBadStateOfCharge;
  Bm6Reading r;
  r.temperature_c = p[3] == 0x01 ? -static_cast<int>(p[4]) : static_cast<int>(p[4]);
  r.state = static_cast<Bm6State>(p[5]);
  r.soc_percent = p[6];
  r.centivolts = static_cast<std::uint16_t>((p[7] << 8) | p[8]);
  if (r.centivolts == 0 && r.temperature_c == 0 && r.soc_percent == 0)
    return FrameRejection::kAllZero;
  return r;
}

Block encode_live_frame(const Bm6Reading& r) {
  Block b = command(kLiveData);
  b[3] = r.temperature_c < 0 ? 0x01 : 0x00;
  b[4] = static_cast<std::uint8_t>(std::min(std::abs(r.temperature_c), 255));
  b[5] = static_cast<std::uint8_t>(r.state);
  b[6] = r.soc_percent;
  b[7] = static_cast<std::uint8_t>(r.centivolts >> 8);
  b[8] = static_cast<std::uint8_t>(r.centivolts & 0xff);
  return b;
}

Block encode_acknowledgement() {
  Block b = command(kLiveData);
  b[3] = 0xff;
  return b;
}

Block live_data_request() { return command(kLiveData); }
Block version_request() { return command(kVersion); }

CommandKind classify_command(const Block& p) {
  if (p[0] != kPrefix0 || p[1] != kPrefix1) return CommandKind::kUnknown;
  switch (p[2]) {
    case kLiveData:
      return CommandKind::kLiveData;
    case kVersion:
      return CommandKind::kVersion;
    case kHistory:
      return CommandKind::kHistory;
    default:
      return CommandKind::kUnknown;
  }
}

std::string Bm6Version::to_string() const {
  char buf[3 * 5 + 1] = {};
  std::snprintf(buf, sizeof buf, "%02x.%02x.%02x.%02x.%02x", bytes[0], bytes[1], bytes[2], bytes[3],
                bytes[4]);
  return buf;
}

std::optional<Bm6Version> decode_version(std::span<const std::uint8_t> p) {
  if (p.size() != 16 || p[0] != kPrefix0 || p[1] != kPrefix1 || p[2] != kVersion)
    return std::nullopt;
  Bm6Version v;
  std::copy(p.begin() + 3, p.begin() + 8, v.bytes.begin());
  return v;
}

Block encode_version(const Bm6Version& v) {
  Block b = command(kVersion);
  std::copy(v.bytes.begin(), v.bytes.end(), b.begin() + 3);
  return b;
}

LiveFrameDecode Bm6Codec::decode_notification(std::span<const std::uint8_t> ciphertext) {
  if (ciphertext.size() != 16) return FrameRejection::kWrongLength;
  Block plain{};
  if (!cipher_.decrypt(ciphertext, plain)) return FrameRejection::kWrongLength;
  return decode_live_frame(plain);
}

}  // namespace bm6
