#include "protocol/family.h"

#include <algorithm>
#include <cctype>

#include "protocol/history.h"

namespace bm6 {

namespace {
constexpr std::uint8_t kBm2Live = 0xf5;
constexpr std::uint8_t kBm2HistoryCount = 0xe7;

// BM2 wire states: 0 critical, 1 low, 2 normal, 4 charging, 8 floating.
std::optional<State> bm2_state(std::uint8_t wire) {
  switch (wire) {
    case 0:
      return State::kCritical;
    case 1:
      return State::kLow;
    case 2:
      return State::kNormal;
    case 4:
      return State::kCharging;
    case 8:
      return State::kFloating;
    default:
      return std::nullopt;
  }
}

std::uint8_t bm2_wire_state(State state) {
  switch (state) {
    case State::kCritical:
      return 0;
    case State::kLow:
      return 1;
    case State::kNormal:
      return 2;
    case State::kCharging:
      return 4;
    case State::kFloating:
      return 8;
  }
  return 2;
}

bool equals_ci(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

const char* to_string(Family family) { return traits(family).name; }

std::optional<Family> parse_family(std::string_view name) {
  for (Family f : kAllFamilies)
    if (equals_ci(name, to_string(f))) return f;
  return std::nullopt;
}

const char* to_string(State state) {
  switch (state) {
    case State::kNormal:
      return "normal";
    case State::kLow:
      return "low";
    case State::kCharging:
      return "charging";
    case State::kCritical:
      return "critical";
    case State::kFloating:
      return "floating";
  }
  return "unknown";
}

std::optional<State> parse_state_name(std::string_view name) {
  for (int i = 0; i < kStateCount; ++i) {
    const auto s = static_cast<State>(i);
    if (name == to_string(s)) return s;
  }
  return std::nullopt;
}

Reading to_reading(const Bm6Reading& bm6) {
  Reading r;
  r.centivolts = bm6.centivolts;
  r.temperature_c = bm6.temperature_c;
  r.soc_percent = bm6.soc_percent;
  r.state = static_cast<State>(bm6.state);
  return r;
}

std::optional<Bm6Reading> to_bm6_reading(const Reading& r) {
  if (!r.temperature_c) return std::nullopt;
  if (r.state != State::kNormal && r.state != State::kLow && r.state != State::kCharging)
    return std::nullopt;
  Bm6Reading b;
  b.centivolts = r.centivolts;
  b.temperature_c = *r.temperature_c;
  b.soc_percent = r.soc_percent;
  b.state = static_cast<Bm6State>(r.state);
  return b;
}

const char* to_string(LiveRejection rejection) {
  switch (rejection) {
    case LiveRejection::kWrongLength:
      return "wrong length";
    case LiveRejection::kWrongPrefix:
      return "not a live-data frame";
    case LiveRejection::kAcknowledgement:
      return "acknowledgement";
    case LiveRejection::kAllZero:
      return "all-zero frame";
    case LiveRejection::kBadTemperatureSign:
      return "bad temperature sign";
    case LiveRejection::kBadTemperature:
      return "temperature out of range";
    case LiveRejection::kBadState:
      return "bad state";
    case LiveRejection::kBadStateOfCharge:
      return "state of charge over 100";
    case LiveRejection::kHistoryCount:
      return "history count frame";
    case LiveRejection::kHistoryMarker:
      return "history start/end frame";
  }
  return "unknown";
}

static_assert(kFrameRejectionCount == 8 &&
                  static_cast<int>(FrameRejection::kWrongLength) ==
                      static_cast<int>(LiveRejection::kWrongLength) &&
                  static_cast<int>(FrameRejection::kAcknowledgement) ==
                      static_cast<int>(LiveRejection::kAcknowledgement) &&
                  static_cast<int>(FrameRejection::kBadStateOfCharge) ==
                      static_cast<int>(LiveRejection::kBadStateOfCharge),
              "LiveRejection starts with FrameRejection's values, in its order");
static_assert(static_cast<int>(LiveRejection::kHistoryMarker) + 1 == kLiveRejectionCount);
static_assert(static_cast<int>(Bm6State::kCharging) == static_cast<int>(State::kCharging));

LiveRejection to_live_rejection(FrameRejection rejection) {
  return static_cast<LiveRejection>(rejection);
}

LiveDecode decode_bm6_frame(std::span<const std::uint8_t> plaintext) {
  const LiveFrameDecode d = decode_live_frame(plaintext);
  if (const auto* rejection = std::get_if<FrameRejection>(&d)) return to_live_rejection(*rejection);
  return to_reading(std::get<Bm6Reading>(d));
}

LiveDecode decode_bm2_frame(std::span<const std::uint8_t> p) {
  if (p.size() != 16) return LiveRejection::kWrongLength;
  if (p[0] == kBm2HistoryCount) return LiveRejection::kHistoryCount;
  if (p[0] == 0xff && (p[1] == 0xff || p[1] == 0xfe) && p[2] == 0xfe)
    return LiveRejection::kHistoryMarker;
  if (p[0] != kBm2Live) return LiveRejection::kWrongPrefix;
  const auto centivolts = static_cast<std::uint16_t>((p[1] << 4) | (p[2] >> 4));
  const std::optional<State> state = bm2_state(p[2] & 0x0f);
  if (!state) return LiveRejection::kBadState;
  if (p[3] > 100) return LiveRejection::kBadStateOfCharge;
  if (centivolts == 0 && p[3] == 0) return LiveRejection::kAllZero;
  Reading r;
  r.centivolts = centivolts;
  r.soc_percent = p[3];
  r.state = *state;
  return r;
}

LiveDecode decode_live(Family family, std::span<const std::uint8_t> plaintext) {
  return traits(family).decode(plaintext);
}

std::optional<Block> encode_bm6_frame(const Reading& r) {
  const std::optional<Bm6Reading> b = to_bm6_reading(r);
  if (!b) return std::nullopt;
  if (b->temperature_c > kMaxTemperatureMagnitude || b->temperature_c < -kMaxTemperatureMagnitude)
    return std::nullopt;
  if (b->soc_percent > 100) return std::nullopt;
  return encode_live_frame(*b);
}

std::optional<Block> encode_bm2_frame(const Reading& r) {
  if (r.centivolts > kMaxBm2Centivolts || r.soc_percent > 100) return std::nullopt;
  Block b{};
  b[0] = kBm2Live;
  b[1] = static_cast<std::uint8_t>(r.centivolts >> 4);
  b[2] = static_cast<std::uint8_t>(((r.centivolts & 0x0f) << 4) | bm2_wire_state(r.state));
  b[3] = r.soc_percent;
  return b;
}

std::optional<Block> encode_live(Family family, const Reading& r) {
  return traits(family).encode(r);
}

bool is_evidence_of(Family family, std::span<const std::uint8_t> p) {
  const LiveDecode d = decode_live(family, p);
  if (std::holds_alternative<Reading>(d)) return true;
  if (!traits(family).long_prefix) return false;
  const auto rejection = std::get<LiveRejection>(d);
  return rejection == LiveRejection::kAcknowledgement || rejection == LiveRejection::kAllZero;
}

FamilyCodec::FamilyCodec(Family family) : family_(family), cipher_(traits(family).key) {}

std::optional<Block> FamilyCodec::live_request() {
  if (!traits(family_).needs_request) return std::nullopt;
  return cipher_.encrypt(live_data_request());
}

std::optional<Block> FamilyCodec::history_request(std::uint8_t pages) {
  if (!traits(family_).has_history) return std::nullopt;
  return cipher_.encrypt(history_request_plaintext(pages));
}

LiveDecode FamilyCodec::decode_notification(std::span<const std::uint8_t> ciphertext) {
  if (ciphertext.size() != 16) return LiveRejection::kWrongLength;
  Block plain{};
  if (!cipher_.decrypt(ciphertext, plain)) return LiveRejection::kWrongLength;
  return decode_live(family_, plain);
}

std::optional<Block> FamilyCodec::encode_notification(const Reading& r) {
  const std::optional<Block> plain = encode_live(family_, r);
  if (!plain) return std::nullopt;
  return cipher_.encrypt(*plain);
}

std::optional<std::vector<std::uint8_t>> FamilyCodec::decrypt(
    std::span<const std::uint8_t> ciphertext) {
  std::vector<std::uint8_t> out(ciphertext.size());
  if (!cipher_.decrypt(ciphertext, out)) return std::nullopt;
  return out;
}

std::optional<std::vector<std::uint8_t>> FamilyCodec::encrypt(
    std::span<const std::uint8_t> plaintext) {
  std::vector<std::uint8_t> out(plaintext.size());
  if (!cipher_.encrypt(plaintext, out)) return std::nullopt;
  return out;
}

FamilyDetector::FamilyDetector() {
  std::vector<Family> order(std::begin(kAllFamilies), std::end(kAllFamilies));
  // A family whose checks a random block passes more often goes after those it passes rarely.
  std::stable_sort(order.begin(), order.end(), [](Family a, Family b) {
    return traits(a).settle_frames < traits(b).settle_frames;
  });
  for (Family f : order) codecs_.push_back(std::make_unique<FamilyCodec>(f));
}

std::optional<Family> FamilyDetector::detect(std::span<const std::uint8_t> ciphertext) {
  if (ciphertext.size() != 16) return std::nullopt;
  for (const auto& codec : codecs_) {
    const auto plain = codec->decrypt(ciphertext);
    if (plain && is_evidence_of(codec->family(), *plain)) return codec->family();
  }
  return std::nullopt;
}

std::optional<Family> detect_family(std::span<const std::uint8_t> ciphertext) {
  FamilyDetector detector;
  return detector.detect(ciphertext);
}

}  // namespace bm6
