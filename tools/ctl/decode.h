// What bm6ctl decode and scan make of bytes from the air: one advertisement's manufacturer
// data (the encrypted reading, or the iBeacon) or one notification, decoded with
// protocol/advertisement.h and protocol/family.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/advertisement.h"
#include "protocol/family.h"
#include "transport/mgmt_scan.h"

namespace bm6::ctl {

using Bytes = std::vector<std::uint8_t>;

// The HEX operands of decode: every byte as two hex digits, bytes run together or apart
// (spaces, colons), each word with or without 0x. When the first of several words is 0x and
// four hex digits, it may be a company id written as a number, as bluetoothctl prints it
// ("ManufacturerData Key: 0x286a", sent low byte first: 6a 28), or the first two bytes:
// both readings are returned, the company id's first. A usage error's text otherwise.
using HexParse = std::variant<std::vector<Bytes>, std::string>;
HexParse parse_hex_words(const std::vector<std::string>& words);

// A reading decoded from the air.
struct Decoded {
  enum class Source { kAdvertisement, kNotification, kIBeacon };
  Source source = Source::kAdvertisement;
  std::optional<Family> model;  // an iBeacon's is not known
  std::optional<std::uint16_t> centivolts;
  std::optional<int> temperature_c;  // a notification's; an advertisement has none
  // An advertisement's byte 10: read as a temperature by some, but unconfirmed, so shown
  // raw under a name that says so ("byte10_unconfirmed", "byte10 (unconfirmed)").
  std::optional<std::uint8_t> byte10;
  std::uint8_t soc_percent = 0;
  std::optional<State> state;
};
const char* to_string(Decoded::Source source);  // "advertisement" "notification" "ibeacon"

// decode: `candidates` (parse_hex_words) of `advertiser`, under `model`'s key or, when it is
// not given, under each family's. A 16-byte input is tried as manufacturer data (the
// decrypted address must be `advertiser`'s), then as a notification: a BM6 or BM7 one, and a
// BM2 one only with model BM2, since BM2's one-byte check passes about one block in 2,000 of
// anything else. 25 bytes with Apple's company id: the iBeacon. Why not, otherwise.
using DecodeResult = std::variant<Decoded, std::string>;
DecodeResult decode_input(const BdAddr& advertiser, std::optional<Family> model,
                          const std::vector<Bytes>& candidates);

// scan: the newest reading in what a device advertised (its encrypted data under any
// family's key, else the iBeacon); nullopt with `why` set when it has manufacturer data
// that is none, nullopt with `why` empty when it has none.
std::optional<Decoded> decode_found(const scan::FoundDevice& device, std::string& why);

std::string hex(const Bytes& bytes);  // "6a281d95..."

}  // namespace bm6::ctl
