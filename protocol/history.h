// Stored readings (BM6, BM7; connected mode): the request and its framed answer.
//
// Request: d1 55 05 00 00 00 00 NN 00 ... (zero-padded, encrypted like every command), NN =
// number of 256-record pages. FamilyCodec::history_request encrypts it.
//
// Answer, as this code reads it. The monitor notifies 16-byte blocks (one or more per
// notification), each decrypted on its own. Concatenated, the blocks before the trailer form
// a stream:
//
//   offset 0      d1 55 05 + 6 bytes       the 9-byte header (the encoder echoes the
//                                          request's bytes 0-8; the decoder checks d1 55 05)
//   offset 9      4-byte records, newest first, 256 per page
//   offset L      zero padding to the end of its block
//   next block    ff fe fe L2 L1 L0 ...    the trailer, in a block of its own: bytes 3-5 are
//                                          L, big-endian, the framed length = 9 + 4 x records
//
// One page gives L = 0x000409 = 9 + 1024, the length the notes report: the 9 bytes of framing
// are the header, the trailer is not counted. This placement is our reading of the notes
// (which confirm the d1 55 05 header, the ff fe fe trailer, its length field and 9 + 1024, not
// where the 9 bytes sit); the encoder produces exactly what the decoder accepts.
// One header and one trailer per answer, whatever the page count.
//
// With the header 9 bytes long, every block after the first starts at byte 3 of a record, so a
// block starting d1 55 07 (a live frame) or ff fe fe (the trailer) would put a state of charge
// of 0x70 or more in the next record: neither can be record data, and the parser can tell
// live frames interleaved with the answer from it.
//
// Records: 4 bytes read as 8 hex digits vvv ss tt e: voltage (12 bits, centivolts), state of
// charge (%), temperature (degrees C; how negative values are coded is not confirmed: bytes
// >= 0x80 read as unknown, as in advertisements), an event digit (meaning unknown). All-zero
// records are empty slots: skipped, but they keep their place in time.
//
// Records carry no time. The monitor stores one about every two minutes (kHistoryPeriod);
// estimate_times stamps the newest slot with the time the answer was received (it is at most
// one period older than that) and each older slot one period before the next.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "protocol/bm6_cipher.h"

namespace bm6 {

inline constexpr std::size_t kHistoryRecordsPerPage = 256;
inline constexpr std::size_t kHistoryRecordBytes = 4;
inline constexpr std::size_t kHistoryHeaderBytes = 9;
inline constexpr std::chrono::seconds kHistoryPeriod{120};

// d1 55 05 00 00 00 00 NN 00 ...
Block history_request_plaintext(std::uint8_t pages);

struct HistoryRecord {
  std::uint16_t centivolts = 0;      // 12 bits: 0-4095
  std::uint8_t soc_percent = 0;      // 0-100
  std::optional<int> temperature_c;  // 0-127; nullopt when the byte is >= 0x80
  std::uint8_t event = 0;            // the last hex digit, 0-15, meaning unknown
  std::uint32_t slot = 0;            // place in the answer: 0 = newest, 1 = one period older...

  double volts() const { return centivolts / 100.0; }
  bool operator==(const HistoryRecord&) const = default;
};

// The record's 4 bytes as a big-endian number; slot is not part of it. Values out of range are
// masked (centivolts to 12 bits, event to 4); a temperature outside 0-127 is written 0x80.
std::uint32_t encode_history_record(const HistoryRecord& r);

enum class HistoryRejection : std::uint8_t {
  kWrongLength,     // a notification that is not a non-zero multiple of 16 bytes
  kWrongHeader,     // the answer does not start with a d1 55 05 block
  kTruncated,       // the answer ended before its trailer, or with fewer bytes than it says
  kLengthMismatch,  // the trailer's length is not 9 + 4n, or is shorter than what came
  kTooLong,         // more than the pages requested can hold (bytes received or trailer)
  kGarbageBlock,    // a record that cannot be one (state of charge over 100)
};
inline constexpr int kHistoryRejectionCount = 6;
const char* to_string(HistoryRejection rejection);

using HistoryDecode = std::variant<std::vector<HistoryRecord>, HistoryRejection>;

// Collects one answer from decrypted notifications. Holds at most what `pages` pages can
// frame (a page count of 0 is bounded as 1).
class HistoryParser {
 public:
  enum class Feed : std::uint8_t {
    kMore,        // consumed; the answer goes on
    kDone,        // consumed the trailer; finish() has the records
    kNotHistory,  // not consumed: a live-data frame (one d1 55 07 block) before or during the
                  // answer, or anything after the trailer: hand it to the live decoder
    kRejected,    // the answer is bad (finish() says why); later feeds are ignored
  };

  explicit HistoryParser(std::uint8_t pages);

  // One decrypted notification: one or more 16-byte blocks.
  Feed feed(std::span<const std::uint8_t> plaintext);
  bool done() const { return done_; }
  std::optional<HistoryRejection> rejection() const { return rejection_; }

  // The records, oldest first (descending slot), empty slots left out; kTruncated if the
  // trailer has not come, or the rejection.
  HistoryDecode finish() const;

 private:
  Feed reject(HistoryRejection why);
  Feed trailer(std::span<const std::uint8_t> block);

  std::size_t max_framed_;            // the largest trailer length the pages allow
  std::size_t max_stream_;            // bytes before the trailer, at most
  std::vector<std::uint8_t> stream_;  // header and records, as received
  std::vector<HistoryRecord> records_;
  bool done_ = false;
  std::optional<HistoryRejection> rejection_;
};

// The blocks (plaintext) a monitor sends for `records`, each at its slot, in an answer of
// `pages` full pages (empty slots zero; records whose slot does not fit are left out; a record
// whose 4 bytes are all zero reads back as an empty slot). Encrypt each block to send it.
std::vector<Block> encode_history_answer(std::span<const HistoryRecord> records,
                                         std::uint8_t pages);

struct TimedHistoryRecord {
  HistoryRecord record;
  std::chrono::system_clock::time_point at;
};
// at = received - slot x period, in the order given.
std::vector<TimedHistoryRecord> estimate_times(std::span<const HistoryRecord> records,
                                               std::chrono::system_clock::time_point received,
                                               std::chrono::seconds period = kHistoryPeriod);

}  // namespace bm6
