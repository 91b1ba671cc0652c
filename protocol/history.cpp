#include "protocol/history.h"

#include <algorithm>

namespace bm6 {

namespace {
constexpr std::size_t kBlockBytes = 16;
constexpr std::uint8_t kUnknownTemperature = 0x80;

bool starts_with(std::span<const std::uint8_t> b, std::uint8_t a0, std::uint8_t a1,
                 std::uint8_t a2) {
  return b.size() >= 3 && b[0] == a0 && b[1] == a1 && b[2] == a2;
}
bool is_start(std::span<const std::uint8_t> b) {
  return starts_with(b, 0xd1, 0x55, 0x05) || starts_with(b, 0xff, 0xff, 0xfe);
}
bool is_live_frame(std::span<const std::uint8_t> b) { return starts_with(b, 0xd1, 0x55, 0x07); }
bool is_end(std::span<const std::uint8_t> b) {
  return starts_with(b, 0xff, 0xfe, 0xfe) || starts_with(b, 0xfe, 0xfe, 0xfe);
}
// Where the first end marker in a block is: its offset, or the block's size.
std::size_t end_marker_at(std::span<const std::uint8_t> b) {
  for (std::size_t at = 0; at + 3 <= b.size(); ++at)
    if (is_end(b.subspan(at))) return at;
  return b.size();
}
}  // namespace

Block history_request_plaintext(std::uint8_t pages) {
  Block b{};
  b[0] = 0xd1;
  b[1] = 0x55;
  b[2] = 0x05;
  b[7] = pages;
  return b;
}

std::uint32_t encode_history_record(const HistoryRecord& r) {
  const int t = r.temperature_c.value_or(-1);
  const std::uint32_t temperature =
      t >= 0 && t < 0x80 ? static_cast<std::uint32_t>(t) : kUnknownTemperature;
  return (static_cast<std::uint32_t>(r.centivolts & 0xfff) << 20) |
         (static_cast<std::uint32_t>(r.soc_percent) << 12) | (temperature << 4) | (r.event & 0x0fu);
}

const char* to_string(HistoryRejection rejection) {
  switch (rejection) {
    case HistoryRejection::kWrongLength:
      return "wrong length";
    case HistoryRejection::kTruncated:
      return "truncated";
    case HistoryRejection::kTooLong:
      return "more records than any monitor keeps";
    case HistoryRejection::kGarbageBlock:
      return "garbage record";
    case HistoryRejection::kMisplacedEnd:
      return "end marker inside a record";
  }
  return "unknown";
}

void HistoryParser::reject(HistoryRejection why) {
  rejection_ = why;
  state_ = State::kRejected;
  records_.clear();
  records_.shrink_to_fit();
}

HistoryParser::Feed HistoryParser::feed(std::span<const std::uint8_t> p,
                                        std::vector<std::size_t>* not_history) {
  if (state_ == State::kRejected) return Feed::kRejected;
  if (state_ == State::kDone) return Feed::kNotHistory;
  if (p.empty() || p.size() % kBlockBytes != 0) {
    // Before the answer, a wrong frame is the live decoder's to count.
    if (!started()) return Feed::kNotHistory;
    reject(HistoryRejection::kWrongLength);
    return Feed::kRejected;
  }
  std::vector<std::size_t> handed_back;
  bool any = false;
  for (std::size_t i = 0; i * kBlockBytes < p.size(); ++i) {
    if (state_ == State::kDone) {  // anything after the end in this notification
      handed_back.push_back(i);
      continue;
    }
    if (block(p.subspan(i * kBlockBytes, kBlockBytes))) {
      any = true;
    } else {
      handed_back.push_back(i);
    }
    if (state_ == State::kRejected) return Feed::kRejected;
  }
  if (!any) return Feed::kNotHistory;
  if (not_history) not_history->insert(not_history->end(), handed_back.begin(), handed_back.end());
  return state_ == State::kDone ? Feed::kDone : Feed::kMore;
}

bool HistoryParser::block(std::span<const std::uint8_t> b) {
  if (state_ == State::kBeforeStart) return before_start(b);
  if (is_live_frame(b)) return false;  // a reading in the middle of the answer
  const std::size_t marker = end_marker_at(b);
  if (marker % kHistoryRecordBytes != 0) {
    reject(HistoryRejection::kMisplacedEnd);
    return true;
  }
  records(b, marker / kHistoryRecordBytes);
  if (state_ == State::kRecords && marker < b.size()) state_ = State::kDone;
  return true;
}

bool HistoryParser::before_start(std::span<const std::uint8_t> b) {
  if (is_start(b)) {
    had_start_ = true;
    state_ = State::kRecords;
    return true;
  }
  // The empty answer: fe fe fe 00 ..., then ff fe fe 00 00 00 ... and no start block.
  if (starts_with(b, 0xfe, 0xfe, 0xfe)) {
    answering_ = true;
    return true;
  }
  if (starts_with(b, 0xff, 0xfe, 0xfe)) {
    state_ = State::kDone;
    return true;
  }
  return false;
}

void HistoryParser::records(std::span<const std::uint8_t> b, std::size_t count) {
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t at = k * kHistoryRecordBytes;
    const std::uint32_t v = (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
                            (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
    const std::uint32_t slot = slots_++;
    if (slots_ > kHistoryMaxRecords) return reject(HistoryRejection::kTooLong);
    if (v == 0) continue;  // an empty slot
    HistoryRecord r;
    r.centivolts = static_cast<std::uint16_t>(v >> 20);
    r.soc_percent = static_cast<std::uint8_t>((v >> 12) & 0xff);
    const auto temperature = static_cast<std::uint8_t>((v >> 4) & 0xff);
    r.event = static_cast<std::uint8_t>(v & 0x0f);
    r.slot = slot;
    if (r.soc_percent > 100) return reject(HistoryRejection::kGarbageBlock);
    if (temperature < kUnknownTemperature) r.temperature_c = temperature;
    records_.push_back(r);
  }
}

HistoryDecode HistoryParser::finish() const {
  if (rejection_) return *rejection_;
  if (state_ != State::kDone) return HistoryRejection::kTruncated;
  return std::vector<HistoryRecord>(records_.rbegin(), records_.rend());  // oldest first
}

std::vector<TimedHistoryRecord> estimate_times(std::span<const HistoryRecord> records,
                                               std::chrono::system_clock::time_point received,
                                               std::chrono::seconds period) {
  std::vector<TimedHistoryRecord> out;
  out.reserve(records.size());
  for (const HistoryRecord& r : records)
    out.push_back({r, received - period * static_cast<std::int64_t>(r.slot)});
  return out;
}

}  // namespace bm6
