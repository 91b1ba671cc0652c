#include "protocol/history.h"

#include <algorithm>

namespace bm6 {

namespace {
constexpr std::uint8_t kPrefix0 = 0xd1;
constexpr std::uint8_t kPrefix1 = 0x55;
constexpr std::uint8_t kHistory = 0x05;
constexpr std::uint8_t kLiveData = 0x07;
constexpr std::uint8_t kTrailer[3] = {0xff, 0xfe, 0xfe};
constexpr std::size_t kPageBytes = kHistoryRecordsPerPage * kHistoryRecordBytes;
constexpr std::uint8_t kUnknownTemperature = 0x80;

std::size_t max_framed(std::uint8_t pages) {
  return kHistoryHeaderBytes + kPageBytes * std::max<std::size_t>(pages, 1);
}

std::size_t round_up_to_block(std::size_t n) { return (n + 15) / 16 * 16; }

bool starts_with(std::span<const std::uint8_t> b, std::uint8_t a0, std::uint8_t a1,
                 std::uint8_t a2) {
  return b.size() >= 3 && b[0] == a0 && b[1] == a1 && b[2] == a2;
}
}  // namespace

Block history_request_plaintext(std::uint8_t pages) {
  Block b{};
  b[0] = kPrefix0;
  b[1] = kPrefix1;
  b[2] = kHistory;
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
    case HistoryRejection::kWrongHeader:
      return "no d1 55 05 header";
    case HistoryRejection::kTruncated:
      return "truncated";
    case HistoryRejection::kLengthMismatch:
      return "length mismatch";
    case HistoryRejection::kTooLong:
      return "longer than the pages requested";
    case HistoryRejection::kGarbageBlock:
      return "garbage record";
  }
  return "unknown";
}

HistoryParser::HistoryParser(std::uint8_t pages)
    : max_framed_(max_framed(pages)), max_stream_(round_up_to_block(max_framed_)) {}

HistoryParser::Feed HistoryParser::reject(HistoryRejection why) {
  rejection_ = why;
  stream_.clear();
  stream_.shrink_to_fit();
  return Feed::kRejected;
}

HistoryParser::Feed HistoryParser::feed(std::span<const std::uint8_t> p) {
  if (rejection_) return Feed::kRejected;
  if (done_) return Feed::kNotHistory;
  if (p.empty() || p.size() % 16 != 0) return reject(HistoryRejection::kWrongLength);
  if (p.size() == 16 && starts_with(p, kPrefix0, kPrefix1, kLiveData)) return Feed::kNotHistory;
  for (std::size_t at = 0; at < p.size(); at += 16) {
    const auto block = p.subspan(at, 16);
    if (stream_.empty() && !starts_with(block, kPrefix0, kPrefix1, kHistory))
      return reject(HistoryRejection::kWrongHeader);
    if (!stream_.empty() && starts_with(block, kTrailer[0], kTrailer[1], kTrailer[2]))
      return trailer(block);  // anything after it in this notification is not history
    if (stream_.size() + 16 > max_stream_) return reject(HistoryRejection::kTooLong);
    stream_.insert(stream_.end(), block.begin(), block.end());
  }
  return Feed::kMore;
}

HistoryParser::Feed HistoryParser::trailer(std::span<const std::uint8_t> b) {
  const std::size_t length = (std::size_t{b[3]} << 16) | (std::size_t{b[4]} << 8) | b[5];
  if (length > max_framed_) return reject(HistoryRejection::kTooLong);
  if (length < kHistoryHeaderBytes || (length - kHistoryHeaderBytes) % kHistoryRecordBytes != 0)
    return reject(HistoryRejection::kLengthMismatch);
  if (stream_.size() < round_up_to_block(length)) return reject(HistoryRejection::kTruncated);
  if (stream_.size() > round_up_to_block(length)) return reject(HistoryRejection::kLengthMismatch);
  std::vector<HistoryRecord> records;
  for (std::size_t at = kHistoryHeaderBytes; at < length; at += kHistoryRecordBytes) {
    const std::uint32_t v = (std::uint32_t{stream_[at]} << 24) |
                            (std::uint32_t{stream_[at + 1]} << 16) |
                            (std::uint32_t{stream_[at + 2]} << 8) | stream_[at + 3];
    if (v == 0) continue;  // an empty slot
    HistoryRecord r;
    r.centivolts = static_cast<std::uint16_t>(v >> 20);
    r.soc_percent = static_cast<std::uint8_t>((v >> 12) & 0xff);
    const auto temperature = static_cast<std::uint8_t>((v >> 4) & 0xff);
    r.event = static_cast<std::uint8_t>(v & 0x0f);
    r.slot = static_cast<std::uint32_t>((at - kHistoryHeaderBytes) / kHistoryRecordBytes);
    if (r.soc_percent > 100) return reject(HistoryRejection::kGarbageBlock);
    if (temperature < kUnknownTemperature) r.temperature_c = temperature;
    records.push_back(r);
  }
  std::reverse(records.begin(), records.end());  // the answer is newest first
  records_ = std::move(records);
  stream_.clear();
  stream_.shrink_to_fit();
  done_ = true;
  return Feed::kDone;
}

HistoryDecode HistoryParser::finish() const {
  if (rejection_) return *rejection_;
  if (!done_) return HistoryRejection::kTruncated;
  return records_;
}

std::vector<Block> encode_history_answer(std::span<const HistoryRecord> records,
                                         std::uint8_t pages) {
  const std::size_t slots = kHistoryRecordsPerPage * pages;
  const std::size_t length = kHistoryHeaderBytes + slots * kHistoryRecordBytes;
  std::vector<std::uint8_t> stream(round_up_to_block(length), 0);
  const Block header = history_request_plaintext(pages);
  std::copy(header.begin(), header.begin() + kHistoryHeaderBytes, stream.begin());
  for (const HistoryRecord& r : records) {
    if (r.slot >= slots) continue;
    const std::uint32_t v = encode_history_record(r);
    const std::size_t at = kHistoryHeaderBytes + std::size_t{r.slot} * kHistoryRecordBytes;
    stream[at] = static_cast<std::uint8_t>(v >> 24);
    stream[at + 1] = static_cast<std::uint8_t>(v >> 16);
    stream[at + 2] = static_cast<std::uint8_t>(v >> 8);
    stream[at + 3] = static_cast<std::uint8_t>(v);
  }
  std::vector<Block> blocks(stream.size() / 16 + 1);
  for (std::size_t i = 0; i + 1 < blocks.size(); ++i)
    std::copy_n(stream.begin() + static_cast<std::ptrdiff_t>(i * 16), 16, blocks[i].begin());
  Block& trailer = blocks.back();
  std::copy(std::begin(kTrailer), std::end(kTrailer), trailer.begin());
  trailer[3] = static_cast<std::uint8_t>(length >> 16);
  trailer[4] = static_cast<std::uint8_t>(length >> 8);
  trailer[5] = static_cast<std::uint8_t>(length);
  return blocks;
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
