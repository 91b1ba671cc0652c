// A capture: what one monitor sent, as JSON Lines (one object a line), written by
// `bm6ctl capture`, read again by `bm6ctl decode --file` and `bm6-sim --replay`, and checked
// into tests/captures/ from public reports. Only the raw fields are read back; what a writer
// derived from them (plaintext, reading, reason) is recomputed, never trusted.
//
//   {"type":"capture","format":1,"address":"AA:..","model":"BM2","source":"URL","note":".."}
//   {"type":"advertisement","t":0.51,"address":"AA:..","rssi":-71,"data":"<AD bytes>"}
//   {"type":"advertisement","manufacturer_data":"<one field, company id first, as sent>"}
//   {"type":"notification","t":1.20,"handle":46,"ciphertext":"<value>"}
//   {"type":"end",...}
//
// "t" is seconds since the capture began (optional). Lines of other types are kept as
// kOther; blank lines are skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/family.h"

namespace bm6::capture {

using Bytes = std::vector<std::uint8_t>;

struct Record {
  enum class Type { kHeader, kAdvertisement, kNotification, kOther };
  Type type = Type::kOther;
  std::size_t line = 0;  // 1-based, in the file
  std::string type_name;
  std::optional<std::string> address;
  std::optional<Family> model;
  std::optional<double> t;
  std::optional<int> rssi;
  std::optional<std::uint16_t> handle;
  Bytes ciphertext;                      // notification
  std::optional<Bytes> data;             // advertisement: the AD bytes
  std::vector<Bytes> manufacturer_data;  // advertisement: given, or parsed from data
};

struct Capture {
  std::vector<Record> records;
  std::optional<std::string> address;  // the header's
  std::optional<Family> model;         // the header's
  std::optional<std::string> source;   // the header's
  std::size_t notifications() const;
  std::size_t advertisements() const;
};

// The capture in `text`, or the first mistake ("line 3: ...").
using ParseResult = std::variant<Capture, std::string>;
ParseResult parse_capture(std::string_view text);
// The file at `path`; an error names it.
ParseResult read_capture(const std::string& path);

// The family of the capture's notifications: the header's model, else the first family the
// notifications are evidence of (BM6/BM7: one frame; BM2: two, since a random block passes
// its checks about once in 2,000); nullopt when none.
std::optional<Family> notification_family(const Capture& capture);

// Hex digits to bytes: an even number of them, nothing else; nullopt otherwise.
std::optional<Bytes> parse_hex(std::string_view hex);

}  // namespace bm6::capture
