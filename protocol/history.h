// Stored readings (BM6, BM7; connected mode): the request and its answer, as real units frame
// it (../shared/bm6-protocol.md, "History", corrected; from BMGateway's drivers, whose records
// were checked against live readings on two BM6 units and one BM7, and a captured answer).
//
// Request: d1 55 05 00 00 00 00 NN 00 ... (zero-padded, encrypted like every command), NN =
// pages of 256 records back from the newest. Pages are cumulative: NN = 2 is the newest 512
// records, the first 256 of them NN = 1's. FamilyCodec::history_request encrypts it.
//
// Answer: 16-byte blocks (one or more per notification), each decrypted on its own:
//   - blocks before the start block are not the answer's (live frames, the acknowledgement);
//   - the start block is a whole block beginning d1 55 05 (real: d1 55 05 01 00 ... 00), or
//     ff ff fe (one implementation accepts it);
//   - records from byte 0 of the next block, 4 bytes each, 4 a block, newest first;
//   - live frames (blocks beginning d1 55 07) may come anywhere: skipped block by block and
//     handed back (Feed::kNotHistory, or `not_history` for a block inside a notification);
//   - the end is the first block containing ff fe fe (or fe fe fe, a BM7's): the records
//     before it in that block count; the length after it (real: 00 04 09 for one page) is not
//     understood and decides nothing. A marker inside a record is no end: the answer is refused;
//   - the empty answer (nothing behind the selector): fe fe fe 00 ... then ff fe fe 00 00 00 ...
//     with no start block: no records, not an error.
// The 3 s of silence that means a truncated answer is the caller's to time (kHistorySilence).
//
// Records: 4 bytes read as 8 hex digits vvv ss tt e: voltage (12 bits, centivolts), state of
// charge (%), temperature (an unsigned byte, degrees C; no negative coding is known: bytes >=
// 0x80 read as unknown rather than as heat no battery survives), an event digit (seen 0, 2, 4;
// meaning unknown). All-zero records are empty slots: skipped, but they keep their place in
// time.
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
inline constexpr std::chrono::seconds kHistoryPeriod{120};
// No notification for this long before the end: the answer is truncated.
inline constexpr std::chrono::seconds kHistorySilence{3};
// The most records one answer may hold, whatever was asked: a BM7 sent a window of 3,709 and
// one BM6 8,192; this bounds the memory a peer can make us hold (256 KB).
inline constexpr std::size_t kHistoryMaxRecords = 65536;

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

// The record's 4 bytes as a big-endian number (for the simulator); slot is not part of it.
// Values out of range are masked (centivolts to 12 bits, event to 4); a temperature outside
// 0-127 is written 0x80.
std::uint32_t encode_history_record(const HistoryRecord& r);

enum class HistoryRejection : std::uint8_t {
  kWrongLength,   // a notification of the answer that is not a non-zero multiple of 16 bytes
  kTruncated,     // the answer has not ended
  kTooLong,       // more than kHistoryMaxRecords records
  kGarbageBlock,  // a record that cannot be one (state of charge over 100)
  kMisplacedEnd,  // the end marker inside a record, not between two
};
inline constexpr int kHistoryRejectionCount = 5;
const char* to_string(HistoryRejection rejection);

using HistoryDecode = std::variant<std::vector<HistoryRecord>, HistoryRejection>;

// Collects one answer from decrypted notifications.
class HistoryParser {
 public:
  enum class Feed : std::uint8_t {
    kMore,        // the answer's (a block of it, at least); it goes on
    kDone,        // ended the answer; finish() has the records
    kNotHistory,  // none of it is the answer's: a live frame, anything before the start or
                  // after the end: the live decoder's
    kRejected,    // the answer is bad (rejection() says why); later feeds are ignored
  };

  HistoryParser() = default;

  // One decrypted notification: one or more 16-byte blocks. The indexes of its blocks that
  // are not the answer's (live frames within an answer's notification) are appended to
  // `not_history` when the result is kMore or kDone.
  Feed feed(std::span<const std::uint8_t> plaintext,
            std::vector<std::size_t>* not_history = nullptr);
  // The answer has begun (its start block, or the empty answer's first block, came).
  bool started() const { return answering_ || state_ != State::kBeforeStart; }
  bool done() const { return state_ == State::kDone; }
  // No start block came: the empty answer.
  bool empty_answer() const { return done() && !had_start_; }
  std::optional<HistoryRejection> rejection() const { return rejection_; }

  // The records, oldest first (descending slot), empty slots left out; kTruncated if the
  // end has not come, or the rejection.
  HistoryDecode finish() const;

 private:
  enum class State : std::uint8_t { kBeforeStart, kRecords, kDone, kRejected };
  // One block: whether it was the answer's (true) or is handed back (false).
  bool block(std::span<const std::uint8_t> b);
  bool before_start(std::span<const std::uint8_t> b);
  void records(std::span<const std::uint8_t> b, std::size_t count);
  void reject(HistoryRejection why);

  State state_ = State::kBeforeStart;
  bool had_start_ = false;
  bool answering_ = false;              // the empty answer's first block came
  std::uint32_t slots_ = 0;             // record slots read, empty ones included
  std::vector<HistoryRecord> records_;  // newest first, as they come
  std::optional<HistoryRejection> rejection_;
};

struct TimedHistoryRecord {
  HistoryRecord record;
  std::chrono::system_clock::time_point at;
};
// at = received - slot x period, in the order given.
std::vector<TimedHistoryRecord> estimate_times(std::span<const HistoryRecord> records,
                                               std::chrono::system_clock::time_point received,
                                               std::chrono::seconds period = kHistoryPeriod);

}  // namespace bm6
