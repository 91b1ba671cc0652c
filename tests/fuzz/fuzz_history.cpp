// libFuzzer: the history answer parser fed arbitrary block sequences. Input: the page count
// byte, then notifications, each a length byte n (1 + n % 4 blocks of 16 bytes) and its
// blocks; a short last notification is fed as it is. A parsed answer must hold what the pages
// allow and encode back to the same records.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/history.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t pages = data[0];
  bm6::HistoryParser parser(pages);
  std::size_t at = 1;
  while (at < size) {
    const std::size_t want = (1 + data[at] % 4) * 16;
    ++at;
    const std::size_t n = std::min(want, size - at);
    const auto feed = parser.feed(std::span<const std::uint8_t>(data + at, n));
    at += n;
    if (feed == bm6::HistoryParser::Feed::kDone && !parser.done()) __builtin_trap();
    if (feed == bm6::HistoryParser::Feed::kRejected && !parser.rejection()) __builtin_trap();
  }
  const bm6::HistoryDecode decoded = parser.finish();
  const auto* records = std::get_if<std::vector<bm6::HistoryRecord>>(&decoded);
  if (records == nullptr) return 0;
  const std::size_t slots = bm6::kHistoryRecordsPerPage * std::max<std::size_t>(pages, 1);
  if (records->size() > slots) __builtin_trap();
  for (std::size_t i = 0; i < records->size(); ++i) {
    const bm6::HistoryRecord& r = (*records)[i];
    if (r.soc_percent > 100 || r.slot >= slots) __builtin_trap();
    if (i > 0 && (*records)[i - 1].slot <= r.slot) __builtin_trap();  // oldest first
  }
  const auto blocks = bm6::encode_history_answer(*records, std::max<std::uint8_t>(pages, 1));
  bm6::HistoryParser again(pages);
  for (const bm6::Block& b : blocks) again.feed(b);
  const bm6::HistoryDecode redecoded = again.finish();
  if (!std::holds_alternative<std::vector<bm6::HistoryRecord>>(redecoded) ||
      std::get<std::vector<bm6::HistoryRecord>>(redecoded) != *records)
    __builtin_trap();
  return 0;
}
