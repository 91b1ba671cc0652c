// libFuzzer: the history answer parser fed arbitrary block sequences. Input: notifications,
// each a length byte n (1 + n % 4 blocks of 16 bytes) and its blocks; a short last
// notification is fed as it is. A parsed answer must hold only possible records, oldest first,
// at most kHistoryMaxRecords, and read the same when framed again as a real unit frames it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/history.h"

namespace {

// Start block, the records at their slots (4 a block, empty slots zero), end block.
std::vector<std::uint8_t> frame_again(const std::vector<bm6::HistoryRecord>& records) {
  std::size_t slots = 0;
  for (const auto& r : records) slots = std::max<std::size_t>(slots, r.slot + 1);
  std::vector<std::uint8_t> out(16 + (slots + 3) / 4 * 16 + 16, 0);
  out[0] = 0xd1;
  out[1] = 0x55;
  out[2] = 0x05;
  for (const auto& r : records) {
    const std::uint32_t v = bm6::encode_history_record(r);
    for (int k = 0; k < 4; ++k)
      out[16 + r.slot * 4 + static_cast<std::size_t>(k)] =
          static_cast<std::uint8_t>(v >> (24 - 8 * k));
  }
  out[out.size() - 16] = 0xff;
  out[out.size() - 15] = 0xfe;
  out[out.size() - 14] = 0xfe;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bm6::HistoryParser parser;
  std::size_t at = 0;
  while (at < size) {
    const std::size_t want = (1 + data[at] % 4) * 16;
    ++at;
    const std::size_t n = std::min(want, size - at);
    std::vector<std::size_t> handed_back;
    const auto feed = parser.feed(std::span<const std::uint8_t>(data + at, n), &handed_back);
    at += n;
    if (feed == bm6::HistoryParser::Feed::kDone && !parser.done()) __builtin_trap();
    if (feed == bm6::HistoryParser::Feed::kRejected && !parser.rejection()) __builtin_trap();
    for (const std::size_t i : handed_back)
      if (i * 16 >= n) __builtin_trap();
  }
  const bm6::HistoryDecode decoded = parser.finish();
  const auto* records = std::get_if<std::vector<bm6::HistoryRecord>>(&decoded);
  if (records == nullptr) return 0;
  if (records->size() > bm6::kHistoryMaxRecords) __builtin_trap();
  for (std::size_t i = 0; i < records->size(); ++i) {
    const bm6::HistoryRecord& r = (*records)[i];
    if (r.soc_percent > 100 || r.slot >= bm6::kHistoryMaxRecords) __builtin_trap();
    if (i > 0 && (*records)[i - 1].slot <= r.slot) __builtin_trap();  // oldest first
  }
  bm6::HistoryParser again;
  again.feed(frame_again(*records));
  const bm6::HistoryDecode redecoded = again.finish();
  if (!std::holds_alternative<std::vector<bm6::HistoryRecord>>(redecoded) ||
      std::get<std::vector<bm6::HistoryRecord>>(redecoded) != *records)
    __builtin_trap();
  return 0;
}
