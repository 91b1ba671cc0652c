// BM6 frames: commands we send and the 16-byte plaintexts the monitor notifies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "protocol/bm6_cipher.h"

namespace bm6 {

// The monitor's own label for the battery; values are the wire values.
enum class Bm6State : std::uint8_t { kNormal = 0, kLow = 1, kCharging = 2 };
const char* to_string(Bm6State state);
std::optional<Bm6State> parse_state(const std::string& name);  // "normal" | "low" | "charging"

struct Bm6Reading {
  std::uint16_t centivolts = 0;  // as sent: hundredths of a volt
  int temperature_c = 0;         // whole degrees Celsius, signed
  std::uint8_t soc_percent = 0;  // state of charge, 0-100
  Bm6State state = Bm6State::kNormal;

  double volts() const { return centivolts / 100.0; }
  bool operator==(const Bm6Reading&) const = default;
};

// Why a notification is not a reading.
enum class FrameRejection : std::uint8_t {
  kWrongLength,         // not exactly 16 bytes
  kWrongPrefix,         // not d1 55 07: another command's answer or garbage
  kAcknowledgement,     // byte 3 = ff: the device acknowledging the command, no reading
  kAllZero,             // 0 V, 0 degC, 0 %: sent before the first measurement
  kBadTemperatureSign,  // byte 3 neither 00, 01 nor ff
  kBadTemperature,      // negative zero or magnitude beyond what the sensor reports
  kBadState,            // byte 5 > 2
  kBadStateOfCharge,    // byte 6 > 100
};
inline constexpr int kFrameRejectionCount = 8;
// The largest temperature magnitude a monitor reports, in degC: the sensor is specified for
// about -20..+60; 99 leaves room and still rejects noise (live frames and history records).
inline constexpr int kMaxTemperatureMagnitude = 99;
const char* to_string(FrameRejection rejection);

using LiveFrameDecode = std::variant<Bm6Reading, FrameRejection>;

// Decodes one decrypted notification.
LiveFrameDecode decode_live_frame(std::span<const std::uint8_t> plaintext);
// The plaintext a monitor would send for `reading` (used by the simulator and tests).
Block encode_live_frame(const Bm6Reading& reading);
// The acknowledgement a monitor sends right after the live-data command.
Block encode_acknowledgement();

// Commands, as plaintext (zero-padded to 16 bytes).
Block live_data_request();
Block version_request();

enum class CommandKind { kLiveData, kVersion, kHistory, kUnknown };
CommandKind classify_command(const Block& plaintext);

// Version answer: d1 55 01 followed by the firmware's version bytes.
struct Bm6Version {
  std::array<std::uint8_t, 5> bytes{};  // bytes 3-7 of the answer, meaning not documented
  std::string to_string() const;        // "01.08.00.05.00"
};
std::optional<Bm6Version> decode_version(std::span<const std::uint8_t> plaintext);
Block encode_version(const Bm6Version& version);

// Decrypt-and-decode of notifications with one keyed cipher.
class Bm6Codec {
 public:
  Bm6Codec() = default;
  explicit Bm6Codec(const Block& key) : cipher_(key) {}

  LiveFrameDecode decode_notification(std::span<const std::uint8_t> ciphertext);
  Block encrypt(const Block& plaintext) { return cipher_.encrypt(plaintext); }
  Block decrypt(const Block& ciphertext) { return cipher_.decrypt(ciphertext); }

 private:
  Bm6Cipher cipher_;
};

}  // namespace bm6
