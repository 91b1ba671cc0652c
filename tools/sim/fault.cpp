#include "tools/sim/fault.h"

#include "transport/att.h"

namespace bm6::sim {

const char* to_string(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "none";
    case Fault::kDropAtMtu:
      return "drop-at-mtu";
    case Fault::kDropAtDiscovery:
      return "drop-at-discovery";
    case Fault::kDropAfterCccd:
      return "drop-after-cccd";
    case Fault::kDropMidStream:
      return "drop-mid-stream";
    case Fault::kSilent:
      return "silent";
    case Fault::kGarbage:
      return "garbage";
    case Fault::kErrorDiscovery:
      return "error-discovery";
    case Fault::kErrorCccd:
      return "error-cccd";
    case Fault::kErrorCommand:
      return "error-command";
    case Fault::kPeerRequests:
      return "peer-requests";
    case Fault::kFirmwareUpdate:
      return "firmware-update";
    case Fault::kFlood:
      return "flood";
    case Fault::kLate:
      return "late";
    case Fault::kNeverAccept:
      return "never-accept";
    case Fault::kHistoryTruncated:
      return "history-truncated";
    case Fault::kHistoryCorrupt:
      return "history-corrupt";
    case Fault::kHistoryInterleaved:
      return "history-interleaved";
    case Fault::kHistoryFfStart:
      return "history-ff-start";
    case Fault::kHistoryEndMidBlock:
      return "history-end-mid-block";
    case Fault::kHistoryPause:
      return "history-pause";
    case Fault::kHistoryEmpty:
      return "history-empty";
    case Fault::kHistoryLong:
      return "history-long";
    case Fault::kNoPipelining:
      return "no-pipelining";
  }
  return "?";
}

bool parse_fault(const std::string& name, Fault& fault) {
  for (int f = 0; f <= static_cast<int>(kLastFault); ++f) {
    if (name == to_string(static_cast<Fault>(f))) {
      fault = static_cast<Fault>(f);
      return true;
    }
  }
  return false;
}

FaultPlan::HistoryAnswer FaultPlan::history_answer() const {
  switch (fault_) {
    case Fault::kHistoryTruncated:
      return HistoryAnswer::kTruncated;
    case Fault::kHistoryCorrupt:
      return HistoryAnswer::kCorrupt;
    case Fault::kHistoryInterleaved:
      return HistoryAnswer::kInterleaved;
    case Fault::kHistoryFfStart:
      return HistoryAnswer::kFfStart;
    case Fault::kHistoryEndMidBlock:
      return HistoryAnswer::kEndMidBlock;
    case Fault::kHistoryPause:
      return HistoryAnswer::kPause;
    case Fault::kHistoryEmpty:
      return HistoryAnswer::kEmpty;
    case Fault::kHistoryLong:
      return HistoryAnswer::kLong;
    default:
      return HistoryAnswer::kWhole;
  }
}

std::chrono::milliseconds FaultPlan::answer_delay() const {
  if (fault_ == Fault::kLate) return std::chrono::milliseconds(1500);
  // Long enough that a command sent right behind a request arrives before its answer.
  if (fault_ == Fault::kNoPipelining) return std::chrono::milliseconds(20);
  return std::chrono::milliseconds(0);
}

bool FaultPlan::drops_at(Step step) const {
  switch (fault_) {
    case Fault::kDropAtMtu:
      return step == Step::kMtuExchange;
    case Fault::kDropAtDiscovery:
      return step == Step::kServiceDiscovery;
    case Fault::kDropAfterCccd:
      return step == Step::kCccdEnabled;
    default:
      return false;
  }
}

std::uint8_t FaultPlan::error_at(Step step) const {
  switch (fault_) {
    case Fault::kErrorDiscovery:
      return step == Step::kServiceDiscovery ? att::kUnlikelyError : 0;
    case Fault::kErrorCccd:
      return step == Step::kCccdWrite ? att::kWriteNotPermitted : 0;
    case Fault::kErrorCommand:
      return step == Step::kCommandWrite ? att::kUnlikelyError : 0;
    default:
      return 0;
  }
}

std::chrono::milliseconds FaultPlan::stream_period(std::chrono::milliseconds device_period) const {
  return fault_ == Fault::kFlood ? std::chrono::milliseconds(10) : device_period;
}

TickAction FaultPlan::at_tick(std::uint64_t tick) const {
  switch (fault_) {
    case Fault::kDropMidStream:
      return tick > 3 ? TickAction::kDrop : TickAction::kFrame;
    case Fault::kFirmwareUpdate:
      return tick == 3 ? TickAction::kIndicateChange : TickAction::kFrame;
    case Fault::kFlood:
      return TickAction::kFlood;
    case Fault::kGarbage:
      // Every other period a real frame; in between, one kind of garbage after another.
      return tick % 2 == 1 ? TickAction::kFrame : TickAction::kGarbage;
    default:
      return TickAction::kFrame;
  }
}

Garbage FaultPlan::garbage_kind(std::uint64_t tick) { return static_cast<Garbage>((tick / 2) % 6); }

}  // namespace bm6::sim
