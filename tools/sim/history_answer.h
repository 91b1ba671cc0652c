// The history answer of a simulated BM6 or BM7, framed as real units frame it
// (protocol/history.h; ../shared/bm6-protocol.md, "History"), and the fault plan's variants of
// it. The blocks are plaintext: the peripheral encrypts each and packs as many per
// notification as the MTU carries.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/bm6_cipher.h"
#include "protocol/family.h"
#include "protocol/history.h"
#include "tools/sim/fault.h"

namespace bm6::sim {

// The pause of FaultPlan::HistoryAnswer::kPause: longer than kHistorySilence.
inline constexpr std::chrono::milliseconds kHistoryPauseLength{3500};
// The record slots of kLong, whatever was asked: the window a BM7 sent (5.1 days).
inline constexpr std::size_t kLongAnswerSlots = 3709;

struct SimHistoryAnswer {
  std::vector<Block> blocks;  // in order
  // kPause: the blocks from here on come after kHistoryPauseLength of silence; else size().
  std::size_t pause_at = 0;
};

// `records`: newest first, each at its slot (SimHistory::records()). Whole: the start block
// d1 55 05 01 00 ... 00, then pages x 256 slots, 4 a block (empty slots zero), then the end
// block ff fe fe and a length (9 + 1024 a page: 00 04 09 for one, as a real unit says).
// `live`: the live frame the interleaved variant puts among the blocks.
SimHistoryAnswer make_history_answer(std::span<const HistoryRecord> records, std::uint8_t pages,
                                     FaultPlan::HistoryAnswer shape, Family model,
                                     const Block& live);

}  // namespace bm6::sim
