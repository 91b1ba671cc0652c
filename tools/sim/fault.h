// The fault plan of a simulated BM6: the ways it misbehaves, and what each one does at each
// step of a connection. The BM6 server asks the plan at every step; the plan holds no state
// of the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace bm6::sim {

// Ways a simulated BM6 misbehaves, one per device, for the first `fault_connections`.
enum class Fault {
  kNone,
  kDropAtMtu,         // the link drops at the MTU exchange
  kDropAtDiscovery,   // ... at primary service discovery
  kDropAfterCccd,     // ... right after notifications were enabled
  kDropMidStream,     // ... after three frames
  kSilent,            // accepts, then answers nothing
  kGarbage,           // between real frames: random bytes, wrong lengths, bad fields, frames
                      // on another handle, acknowledgements, all-zero frames
  kErrorDiscovery,    // ATT error response to primary service discovery
  kErrorCccd,         // ATT error response to the CCCD write
  kErrorCommand,      // ATT error response to the command write
  kPeerRequests,      // sends the client requests and an indication of its own
  kFirmwareUpdate,    // handles move with every connection; Service Changed mid-stream
  kFlood,             // thousands of frames per second
  kLate,              // answers every request 1.5 s late (past a 1 s client timeout)
  kNeverAccept,       // listens, but never accepts a central (for the first N attempts)
  kHistoryTruncated,  // the history answer stops half-way, without its end
  kHistoryCorrupt,    // the history answer has a record that cannot be one (charge > 100 %)
  // The history answer framed as real units may: live frames before and between its blocks;
  // an ff ff fe start; the end marker after the last two records in their block; 3.5 s of
  // silence half-way (truncated); the empty answer (fe fe fe, ff fe fe, no start); a window
  // of 3,709 records whatever was asked, as a BM7 sent (tools/sim/history_answer.h).
  kHistoryInterleaved,
  kHistoryFfStart,
  kHistoryEndMidBlock,
  kHistoryPause,
  kHistoryEmpty,
  kHistoryLong,
  // Takes one step at a time: answers every request 20 ms late and ignores a Write Command
  // that comes while a request is unanswered, or on the CCCD (a pipelined set-up).
  kNoPipelining,
};
inline constexpr Fault kLastFault = Fault::kNoPipelining;
const char* to_string(Fault fault);
bool parse_fault(const std::string& name, Fault& fault);

// The steps of a connection a fault can act on.
enum class Step {
  kMtuExchange,       // the central's Exchange MTU Request
  kServiceDiscovery,  // its Read By Group Type Request for primary services
  kCccdWrite,         // its write of the data characteristic's CCCD
  kCommandWrite,      // its write of the command characteristic
  kCccdEnabled,       // after the CCCD write was answered
};

// What one stream period does.
enum class TickAction {
  kFrame,           // a live-data frame, as a healthy unit does
  kDrop,            // drop the link instead
  kIndicateChange,  // a Service Changed indication, then the frame
  kFlood,           // a burst of frames
  kGarbage,         // one kind of garbage instead of the frame (see garbage_kind)
};

enum class Garbage {
  kRandomBytes,      // 16 random bytes
  kShort,            // a real frame one byte short
  kImpossibleValue,  // well encrypted, impossible state of charge
  kOtherHandle,      // a real frame, on another characteristic's handle
  kAcknowledgement,  // an acknowledgement frame
  kAllZero,          // a frame of zero volts, zero percent
};

class FaultPlan {
 public:
  FaultPlan() = default;
  explicit FaultPlan(Fault fault) : fault_(fault) {}

  Fault fault() const { return fault_; }
  // kSilent: no request is ever answered.
  bool answers_nothing() const { return fault_ == Fault::kSilent; }
  // How late every request is answered (kLate: 1.5 s).
  std::chrono::milliseconds answer_delay() const;
  // Whether the link drops at `step` (instead of answering, or after kCccdEnabled).
  bool drops_at(Step step) const;
  // The ATT error code the request of `step` is answered with, or 0.
  std::uint8_t error_at(Step step) const;
  // kNoPipelining: a Write Command is ignored while a request awaits its answer, and on a
  // CCCD.
  bool ignores_pipelined() const { return fault_ == Fault::kNoPipelining; }
  // kPeerRequests: once notifications are on, the peripheral asks things of the central.
  bool sends_peer_requests() const { return fault_ == Fault::kPeerRequests; }
  // How the history request is answered (tools/sim/history_answer.h).
  enum class HistoryAnswer {
    kWhole,
    kTruncated,
    kCorrupt,
    kInterleaved,
    kFfStart,
    kEndMidBlock,
    kPause,
    kEmpty,
    kLong
  };
  HistoryAnswer history_answer() const;
  // The period between stream ticks, given the device's own.
  std::chrono::milliseconds stream_period(std::chrono::milliseconds device_period) const;
  // What the stream's `tick`-th period (from 1) does.
  TickAction at_tick(std::uint64_t tick) const;
  static constexpr int kFloodBurst = 50;  // frames per tick (every 10 ms: 5,000 a second)
  // With kGarbage: which garbage tick `tick` sends.
  static Garbage garbage_kind(std::uint64_t tick);

 private:
  Fault fault_ = Fault::kNone;
};

}  // namespace bm6::sim
