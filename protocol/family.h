// The monitor families (BM6, BM7, BM2) behind one codec, so link and device code need not
// know which one they talk to. What differs between them is one table (FamilyTraits,
// protocol/family_traits.cpp) that every layer asks instead of testing for a family:
//
//   BM6  d1 55 07 live frames after a live-data request, key "leagend" FF FE "0100009".
//   BM7  the BM6 protocol under its own key ("...010000@").
//   BM2  no request: f5 frames once notifications are on, key "...1882466".
//
// A new family is an enumerator here, its codec (decoder and encoder of a plaintext frame)
// and its entry in the table.
//
// Decoders take one notification and return a Reading or the reason it is not one, checking
// the bytes in wire order, one check per line. Encoders (for the simulator and tests) return
// nullopt for a reading the family cannot carry.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/bm6_cipher.h"
#include "protocol/bm6_frame.h"

namespace bm6 {

// The values index the traits table: in its order, from 0.
enum class Family : std::uint8_t { kBm6, kBm7, kBm2 };
inline constexpr Family kAllFamilies[] = {Family::kBm6, Family::kBm7, Family::kBm2};
const char* to_string(Family family);                       // "BM6" | "BM7" | "BM2"
std::optional<Family> parse_family(std::string_view name);  // the same names, any case

// The monitor's label for the battery. 0-2 are the BM6/BM7 wire values (Bm6State); BM2
// wire states are mapped onto these (see decode_bm2_frame).
enum class State : std::uint8_t {
  kNormal = 0,
  kLow = 1,
  kCharging = 2,
  kCritical = 3,
  kFloating = 4,
};
inline constexpr int kStateCount = 5;
const char* to_string(State state);  // "normal" "low" "charging" "critical" "floating"
std::optional<State> parse_state_name(std::string_view name);

// One live reading from any family.
struct Reading {
  std::uint16_t centivolts = 0;      // hundredths of a volt
  std::optional<int> temperature_c;  // whole degrees Celsius; BM2 has no sensor
  std::uint8_t soc_percent = 0;      // state of charge, 0-100
  State state = State::kNormal;

  double volts() const { return centivolts / 100.0; }
  bool operator==(const Reading&) const = default;
};
Reading to_reading(const Bm6Reading& bm6);
// The BM6/BM7 form of `r`; nullopt if it has no temperature or a state BM6 has no value for.
std::optional<Bm6Reading> to_bm6_reading(const Reading& r);

// Why a notification is not a reading, for every family. The first eight are
// FrameRejection's, in its order, so a FrameRejection converts by value.
enum class LiveRejection : std::uint8_t {
  kWrongLength,         // not exactly 16 bytes
  kWrongPrefix,         // not this family's live-data frame (BM6/BM7: d1 55 07; BM2: f5)
  kAcknowledgement,     // BM6/BM7: byte 3 = ff, the command's acknowledgement
  kAllZero,             // 0 V and 0 %: sent before the first measurement
  kBadTemperatureSign,  // BM6/BM7: byte 3 neither 00, 01 nor ff
  kBadTemperature,      // BM6/BM7: negative zero or a magnitude over 99
  kBadState,            // a state value the family does not define
  kBadStateOfCharge,    // over 100 %
  kHistoryCount,        // BM2: an e7 frame (history record count), not a reading
  kHistoryMarker,       // BM2: ff ff fe / ff fe fe (history start / end), not a reading
};
inline constexpr int kLiveRejectionCount = 10;
const char* to_string(LiveRejection rejection);
LiveRejection to_live_rejection(FrameRejection rejection);

using LiveDecode = std::variant<Reading, LiveRejection>;

// Plaintext decoders and encoders, per family (kBm6 and kBm7 share the frame layout).
LiveDecode decode_bm6_frame(std::span<const std::uint8_t> plaintext);
LiveDecode decode_bm2_frame(std::span<const std::uint8_t> plaintext);
LiveDecode decode_live(Family family, std::span<const std::uint8_t> plaintext);
inline constexpr std::uint16_t kMaxBm2Centivolts = 0xfff;  // 12 bits
// BM6/BM7: nullopt unless temperature is set and within +-99, state is normal/low/charging
// and soc <= 100. BM2: nullopt unless centivolts <= 4095 (12 bits) and soc <= 100; the
// temperature is dropped (the frame has none). Bytes after the fields are zero.
std::optional<Block> encode_bm6_frame(const Reading& r);
std::optional<Block> encode_bm2_frame(const Reading& r);
std::optional<Block> encode_live(Family family, const Reading& r);

// How a family lays out the 16 decrypted bytes of its advertised manufacturer data
// (protocol/advertisement.h). Bytes 6-7 are the voltage and 8 the charge in every layout.
struct AdvertLayout {
  bool address_lsb_first;  // bytes 0-5: the address least significant byte first (BM2)
  bool state_and_byte10;   // bytes 9-15: state 0-2, byte 10 (unconfirmed), 00 00 00 01 08
};

// What one family is and does, where families differ. The codec of each family stays in its
// own code; the table points at it.
struct FamilyTraits {
  Family family;
  const char* name;  // "BM6": Model in the config, --model, capture files, messages
  Block key;         // AES-128, "leagend" FF FE and 7 bytes of the family's own
  // GAP names it advertises, the first its usual one ("BM300 Pro" for a BM7).
  std::span<const std::string_view> advertised_names;
  LiveDecode (*decode)(std::span<const std::uint8_t> plaintext);  // one live frame
  std::optional<Block> (*encode)(const Reading& r);               // see encode_bm6_frame
  std::span<const State> states;                                  // the states its frames report
  std::uint16_t max_centivolts;  // the highest voltage its frame can carry
  bool has_temperature;          // its live frames carry a temperature
  // The live stream starts on the live-data request; false: once notifications are on.
  bool needs_request;
  // Its live frames begin with a 24-bit prefix (d1 55 07), which its acknowledgement and
  // all-zero frame carry too: those are evidence of the family as well (is_evidence_of).
  bool long_prefix;
  // Agreeing frames that settle detection: 1 where a random block passes the family's checks
  // fewer than once in 2^24, 2 for BM2 (about once in 2,000).
  unsigned settle_frames;
  bool has_history;  // its stored-history protocol is known (protocol/history.h)
  // The first byte of the end marker of a whole-window history answer: ff (ff fe fe), or fe
  // (fe fe fe) as a BM7 sent. For the simulator: the decoder takes both from every family.
  std::uint8_t history_window_end;
  AdvertLayout advert;
  bool advertises_ibeacon;  // beside the encrypted data, an iBeacon with the charge
};
const FamilyTraits& traits(Family family);
bool reports(Family family, State state);  // whether state is in traits(family).states

// The families, in table order, that `pick(traits)` selects.
template <class Pick>
std::vector<Family> families_where(Pick pick) {
  std::vector<Family> out;
  for (Family f : kAllFamilies)
    if (pick(traits(f))) out.push_back(f);
  return out;
}
// Names as in a sentence: "BM6, BM7 or BM2" (conjunction "or"), "BM6 and BM7"; lower case
// ("bm6, bm7 or bm2") if `lower`.
std::string family_names(std::span<const Family> families, std::string_view conjunction,
                         bool lower = false);

// Whether a decrypted notification is evidence of `family` when the family is not known:
// a frame that decodes as a reading, or, for BM6/BM7, the acknowledgement or the all-zero
// frame (they carry the 24-bit d1 55 07 prefix too). BM2's history frames prove nothing.
// Under a wrong key a block is BM6/BM7 evidence fewer than once in 2^24, BM2 evidence (one
// prefix byte, a state nibble, a charge byte) about once in 2,000.
bool is_evidence_of(Family family, std::span<const std::uint8_t> plaintext);

// A family's key, commands and live-frame decoder, with one cipher keyed once. Not
// thread-safe (one owner), like Bm6Cipher.
class FamilyCodec {
 public:
  explicit FamilyCodec(Family family);

  Family family() const { return family_; }
  const Block& key() const { return traits(family_).key; }

  // The ciphertext to write to FFF3 to start the live stream; nullopt for a family that
  // needs no request (BM2: it streams once notifications are enabled).
  std::optional<Block> live_request();
  // The history request for `pages` 256-record pages (ciphertext); nullopt for a family
  // without history (BM2: its protocol is not implemented). See protocol/history.h.
  std::optional<Block> history_request(std::uint8_t pages);

  // Decrypts and decodes one notification.
  LiveDecode decode_notification(std::span<const std::uint8_t> ciphertext);
  // The notification a monitor of this family would send for `r` (ciphertext).
  std::optional<Block> encode_notification(const Reading& r);

  Block encrypt(const Block& plaintext) { return cipher_.encrypt(plaintext); }
  Block decrypt(const Block& ciphertext) { return cipher_.decrypt(ciphertext); }
  // Block by block; nullopt unless the size is a non-zero multiple of 16.
  std::optional<std::vector<std::uint8_t>> decrypt(std::span<const std::uint8_t> ciphertext);
  std::optional<std::vector<std::uint8_t>> encrypt(std::span<const std::uint8_t> plaintext);
  // Into `plaintext` (same size), allocating nothing; false as Bm6Cipher::decrypt says.
  bool decrypt(std::span<const std::uint8_t> ciphertext, std::span<std::uint8_t> plaintext) {
    return cipher_.decrypt(ciphertext, plaintext);
  }

 private:
  Family family_;
  Bm6Cipher cipher_;
};

// Auto-detection: decrypts a notification under each family's key and returns the first
// family, in the order BM6, BM7, BM2 (the table's, families that one frame settles first),
// it is evidence of (is_evidence_of), or nullopt. The
// strong BM6/BM7 checks go first, so a BM6 or BM7 frame is never taken for a BM2 one; a
// BM2 frame passes the BM6/BM7 checks under their keys fewer than once in 2^24. A block that is
// no frame at all (a version answer, a history block, noise) passes the BM2 checks about
// once in 2,000: callers should want two or three agreeing frames before they settle.
class FamilyDetector {
 public:
  FamilyDetector();
  std::optional<Family> detect(std::span<const std::uint8_t> ciphertext);

 private:
  std::vector<std::unique_ptr<FamilyCodec>> codecs_;  // in the order tried
};

// One-shot form of FamilyDetector::detect (sets up three ciphers per call).
std::optional<Family> detect_family(std::span<const std::uint8_t> ciphertext);

}  // namespace bm6
