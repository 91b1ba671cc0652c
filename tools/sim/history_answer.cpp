#include "tools/sim/history_answer.h"

#include <algorithm>

namespace bm6::sim {

namespace {

using Shape = FaultPlan::HistoryAnswer;
constexpr std::size_t kRecordsPerBlock = 4;

Block start_block(bool ff_ff_fe) {
  Block b{};
  if (ff_ff_fe) {
    b[0] = 0xff;
    b[1] = 0xff;
    b[2] = 0xfe;
  } else {
    b[0] = 0xd1;
    b[1] = 0x55;
    b[2] = 0x05;
    b[3] = 0x01;  // a real one-page answer's (its meaning is unknown)
  }
  return b;
}

// The end marker (first byte ff, or fe as a BM7 may send) and the length after it, at `at`.
void put_end(Block& b, std::size_t at, std::uint8_t first, std::size_t length) {
  b[at] = first;
  b[at + 1] = 0xfe;
  b[at + 2] = 0xfe;
  b[at + 3] = static_cast<std::uint8_t>(length >> 16);
  b[at + 4] = static_cast<std::uint8_t>(length >> 8);
  b[at + 5] = static_cast<std::uint8_t>(length);
}

void put_record(std::vector<Block>& blocks, std::size_t slot, std::uint32_t v) {
  Block& b = blocks[slot / kRecordsPerBlock];
  const std::size_t at = slot % kRecordsPerBlock * kHistoryRecordBytes;
  b[at] = static_cast<std::uint8_t>(v >> 24);
  b[at + 1] = static_cast<std::uint8_t>(v >> 16);
  b[at + 2] = static_cast<std::uint8_t>(v >> 8);
  b[at + 3] = static_cast<std::uint8_t>(v);
}

// `slots` record slots, 4 a block, each record at its slot, the others zero.
std::vector<Block> record_blocks(std::span<const HistoryRecord> records, std::size_t slots) {
  std::vector<Block> blocks((slots + kRecordsPerBlock - 1) / kRecordsPerBlock, Block{});
  for (const HistoryRecord& r : records)
    if (r.slot < slots) put_record(blocks, r.slot, encode_history_record(r));
  return blocks;
}

std::size_t slots_of(Shape shape, std::uint8_t pages) {
  const std::size_t asked = kHistoryRecordsPerPage * std::max<std::uint8_t>(pages, 1);
  if (shape == Shape::kLong) return kLongAnswerSlots;
  if (shape == Shape::kEndMidBlock) return asked - 2;  // the marker at byte 8 of the last block
  return asked;
}

// A live frame before the answer, after its start, after every 16th block and before its end.
std::vector<Block> interleave(const std::vector<Block>& blocks, const Block& live) {
  std::vector<Block> out{live};
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (i + 1 == blocks.size()) out.push_back(live);
    out.push_back(blocks[i]);
    if (i % 16 == 0) out.push_back(live);
  }
  return out;
}

}  // namespace

SimHistoryAnswer make_history_answer(std::span<const HistoryRecord> records, std::uint8_t pages,
                                     Shape shape, Family model, const Block& live) {
  SimHistoryAnswer a;
  if (shape == Shape::kEmpty) {
    Block first{}, end{};
    put_end(first, 0, 0xfe, 0);
    put_end(end, 0, 0xff, 0);
    a.blocks = {first, end};
    a.pause_at = a.blocks.size();
    return a;
  }
  const std::size_t slots = slots_of(shape, pages);
  std::vector<Block> body = record_blocks(records, slots);
  // What a unit says after the marker (one page: 0x000409); nobody knows what it counts.
  const std::size_t length = 9 + kHistoryRecordBytes * slots;
  const std::uint8_t marker = shape == Shape::kLong ? traits(model).history_window_end : 0xff;
  if (shape == Shape::kEndMidBlock) {
    put_end(body.back(), slots % kRecordsPerBlock * kHistoryRecordBytes, marker, length);
  } else {
    body.emplace_back();
    put_end(body.back(), 0, marker, length);
  }
  a.blocks.push_back(start_block(shape == Shape::kFfStart));
  a.blocks.insert(a.blocks.end(), body.begin(), body.end());
  switch (shape) {
    case Shape::kTruncated:
      a.blocks.resize(a.blocks.size() / 2);  // and no end
      break;
    case Shape::kCorrupt:
      // Record 7 (block 2, bytes 12-15) reads 12.71 V at 255 %: no monitor's.
      put_record(a.blocks, 2 * kRecordsPerBlock + 3, 0x4f7ff170);
      break;
    case Shape::kInterleaved:
      a.blocks = interleave(a.blocks, live);
      break;
    default:
      break;
  }
  a.pause_at = shape == Shape::kPause ? a.blocks.size() / 2 : a.blocks.size();
  return a;
}

}  // namespace bm6::sim
