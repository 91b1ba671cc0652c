// The history answer's parser against answers typed by hand from ../shared/bm6-protocol.md
// ("History", corrected): the start block whole, records from byte 0 of the next block, live
// frames between them, the ff ff fe start, the end marker anywhere in its block, a length that
// decides nothing, the empty answer, pages that are cumulative; and what is still refused.
// No vector here comes from an encoder of ours.
#include <gtest/gtest.h>

#include <initializer_list>

#include "protocol/bm6_frame.h"
#include "protocol/history.h"
#include "tests/block_bytes.h"

namespace bm6 {
namespace {

using test::bytes;
using Feed = HistoryParser::Feed;

// The start block of a real one-page answer, and its end block.
const Block kStart = bytes({0xd1, 0x55, 0x05, 0x01});
const Block kEnd = bytes({0xff, 0xfe, 0xfe, 0x00, 0x04, 0x09});
// Four records, newest first: 4f7 57 17 0 = 12.71 V, 87 %, 23 C, event 0; 4f6 57 17 2 =
// 12.70 V, 87 %, 23 C, event 2; 501 58 16 4 = 12.81 V, 88 %, 22 C, event 4; an empty slot.
const Block kRecords0 = bytes({0x4f, 0x75, 0x71, 0x70, 0x4f, 0x65, 0x71, 0x72, 0x50, 0x15, 0x81,
                               0x64, 0x00, 0x00, 0x00, 0x00});
// 4e2 55 0f 0 = 12.50 V, 85 %, 15 C; 4e1 55 0e 4 = 12.49 V, 85 %, 14 C, event 4; two empty.
const Block kRecords1 = bytes({0x4e, 0x25, 0x50, 0xf0, 0x4e, 0x15, 0x50, 0xe4});
const Block kZero{};
// The notes' live frame: 13.40 V, +23 C, normal, 100 %.
const Block kLive = bytes({0xd1, 0x55, 0x07, 0x00, 0x17, 0x00, 0x64, 0x05, 0x3c, 0x00, 0x00, 0x00,
                           0x01, 0x02, 0xff, 0xff});

HistoryRecord rec(std::uint16_t cv, std::uint8_t soc, std::optional<int> t, std::uint8_t event,
                  std::uint32_t slot) {
  HistoryRecord r;
  r.centivolts = cv;
  r.soc_percent = soc;
  r.temperature_c = t;
  r.event = event;
  r.slot = slot;
  return r;
}

// What kRecords0 then kRecords1 hold, oldest first.
const std::vector<HistoryRecord> kTwoBlocks = {rec(1249, 85, 14, 4, 5), rec(1250, 85, 15, 0, 4),
                                               rec(1281, 88, 22, 4, 2), rec(1270, 87, 23, 2, 1),
                                               rec(1271, 87, 23, 0, 0)};

// A real one-page answer: the start, 64 record blocks (kRecords0, kRecords1, then empty
// slots), the end in a block of its own.
std::vector<Block> one_page() {
  std::vector<Block> blocks{kStart, kRecords0, kRecords1};
  blocks.resize(1 + 64, kZero);
  blocks.push_back(kEnd);
  return blocks;
}

std::vector<std::uint8_t> join(std::initializer_list<Block> blocks) {
  std::vector<std::uint8_t> out;
  for (const Block& b : blocks) out.insert(out.end(), b.begin(), b.end());
  return out;
}

// Feeds each block as a notification of its own; the last feed's result.
Feed feed_all(HistoryParser& parser, const std::vector<Block>& blocks) {
  Feed last = Feed::kNotHistory;
  for (const Block& b : blocks) last = parser.feed(b);
  return last;
}

std::vector<HistoryRecord> records_of(const HistoryParser& parser) {
  const HistoryDecode d = parser.finish();
  EXPECT_TRUE(std::holds_alternative<std::vector<HistoryRecord>>(d))
      << to_string(std::get<HistoryRejection>(d));
  return std::holds_alternative<std::vector<HistoryRecord>>(d)
             ? std::get<std::vector<HistoryRecord>>(d)
             : std::vector<HistoryRecord>{};
}

HistoryRejection rejection_of(const HistoryParser& parser) {
  const HistoryDecode d = parser.finish();
  EXPECT_TRUE(std::holds_alternative<HistoryRejection>(d));
  return std::holds_alternative<HistoryRejection>(d) ? std::get<HistoryRejection>(d)
                                                     : HistoryRejection::kWrongLength;
}

TEST(HistoryProtocol, Request) {
  EXPECT_EQ(history_request_plaintext(3), bytes({0xd1, 0x55, 0x05, 0, 0, 0, 0, 3}));
  EXPECT_EQ(classify_command(history_request_plaintext(1)), CommandKind::kHistory);
}

TEST(HistoryProtocol, RecordEncodingForTheSimulator) {
  // vvv ss tt e = 4f7 57 17 3: 12.71 V, 87 %, 23 C, event 3.
  EXPECT_EQ(encode_history_record(rec(1271, 87, 23, 3, 0)), 0x4f757173u);
  EXPECT_EQ(encode_history_record(rec(1271, 87, std::nullopt, 3, 0)) & 0xff0, 0x800u);
  EXPECT_EQ(encode_history_record(rec(1271, 87, -4, 3, 0)) & 0xff0, 0x800u);
}

TEST(HistoryProtocol, OnePageAsARealUnitSendsIt) {
  HistoryParser parser;
  const auto blocks = one_page();
  for (std::size_t i = 0; i + 1 < blocks.size(); ++i)
    ASSERT_EQ(parser.feed(blocks[i]), Feed::kMore) << i;
  EXPECT_FALSE(parser.done());
  EXPECT_EQ(parser.feed(blocks.back()), Feed::kDone);
  EXPECT_EQ(records_of(parser), kTwoBlocks);
  EXPECT_FALSE(parser.empty_answer());
}

TEST(HistoryProtocol, SeveralBlocksANotification) {
  // Blocks grouped as a larger MTU carries them: the same records.
  const auto blocks = one_page();
  for (std::size_t per : {2u, 5u, 13u, 66u}) {
    HistoryParser parser;
    Feed last = Feed::kMore;
    for (std::size_t at = 0; at < blocks.size(); at += per) {
      ASSERT_EQ(last, Feed::kMore) << per;
      std::vector<std::uint8_t> value;
      for (std::size_t i = at; i < std::min(blocks.size(), at + per); ++i)
        value.insert(value.end(), blocks[i].begin(), blocks[i].end());
      last = parser.feed(value);
    }
    EXPECT_EQ(last, Feed::kDone) << per;
    EXPECT_EQ(records_of(parser), kTwoBlocks) << per;
  }
}

TEST(HistoryProtocol, TheStartBlockHoldsNoRecords) {
  // Whatever follows d1 55 05 in the start block is not a record (the old misreading took
  // records from its byte 9).
  HistoryParser parser;
  const Block start_with_bytes =
      bytes({0xd1, 0x55, 0x05, 0x01, 0, 0, 0, 0, 0, 0x4f, 0x75, 0x71, 0x70, 0x4f, 0x65, 0x71});
  EXPECT_EQ(feed_all(parser, {start_with_bytes, kRecords1, kEnd}), Feed::kDone);
  EXPECT_EQ(records_of(parser),
            (std::vector<HistoryRecord>{rec(1249, 85, 14, 4, 1), rec(1250, 85, 15, 0, 0)}));
}

TEST(HistoryProtocol, BlocksBeforeTheStartAreHandedBack) {
  HistoryParser parser;
  EXPECT_EQ(parser.feed(kLive), Feed::kNotHistory);
  EXPECT_EQ(parser.feed(bytes({0xd1, 0x55, 0x07, 0xff})), Feed::kNotHistory);  // acknowledgement
  EXPECT_EQ(parser.feed(bytes({0xd1, 0x55, 0x01, 0x01, 0x08})), Feed::kNotHistory);  // version
  EXPECT_EQ(parser.feed(kRecords0), Feed::kNotHistory);  // records with no start before them
  EXPECT_EQ(parser.feed(std::vector<std::uint8_t>(15)), Feed::kNotHistory);  // a short frame
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(feed_all(parser, one_page()), Feed::kDone);
  EXPECT_EQ(records_of(parser), kTwoBlocks);
}

TEST(HistoryProtocol, LiveFramesAnywhereAreSkippedBlockByBlockAndHandedBack) {
  HistoryParser parser;
  // A live frame alone, before and between the answer's blocks.
  EXPECT_EQ(parser.feed(kLive), Feed::kNotHistory);
  EXPECT_EQ(parser.feed(kStart), Feed::kMore);
  EXPECT_EQ(parser.feed(kLive), Feed::kNotHistory);
  // Inside a notification of the answer: blocks 1 and 3 are handed back.
  std::vector<std::size_t> back;
  EXPECT_EQ(parser.feed(join({kRecords0, kLive, kRecords1, kLive}), &back), Feed::kMore);
  EXPECT_EQ(back, (std::vector<std::size_t>{1, 3}));
  back.clear();
  // A live frame before the end, in the end's notification, and after it.
  EXPECT_EQ(parser.feed(join({kLive, kEnd, kLive}), &back), Feed::kDone);
  EXPECT_EQ(back, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(parser.feed(kLive), Feed::kNotHistory);
  EXPECT_EQ(parser.feed(kRecords0), Feed::kNotHistory);  // after the end: not the answer's
  // No slot taken by a live frame: the records as without them.
  EXPECT_EQ(records_of(parser), kTwoBlocks);
}

TEST(HistoryProtocol, FfFfFeStart) {
  HistoryParser parser;
  EXPECT_EQ(feed_all(parser, {kLive, bytes({0xff, 0xff, 0xfe}), kRecords0, kRecords1, kEnd}),
            Feed::kDone);
  EXPECT_EQ(records_of(parser), kTwoBlocks);
}

TEST(HistoryProtocol, EndMarkerInTheMiddleOfABlockAfterRecords) {
  // 4e0 55 0d 2 = 12.48 V, 85 %, 13 C, event 2; then ff fe fe and a length in the same block.
  const Block last =
      bytes({0x4e, 0x05, 0x50, 0xd2, 0xff, 0xfe, 0xfe, 0x00, 0x04, 0x09, 0, 0, 0, 0, 0, 0});
  HistoryParser parser;
  EXPECT_EQ(feed_all(parser, {kStart, kRecords0, kRecords1, last}), Feed::kDone);
  auto want = kTwoBlocks;
  want.insert(want.begin(), rec(1248, 85, 13, 2, 8));
  EXPECT_EQ(records_of(parser), want);
  // At byte 12: three records before it.
  HistoryParser three;
  EXPECT_EQ(feed_all(three, {kStart, bytes({0x4f, 0x75, 0x71, 0x70, 0x4f, 0x65, 0x71, 0x72, 0x50,
                                            0x15, 0x81, 0x64, 0xff, 0xfe, 0xfe, 0x00})}),
            Feed::kDone);
  EXPECT_EQ(records_of(three).size(), 3u);
}

TEST(HistoryProtocol, TheLengthAfterTheMarkerDecidesNothing) {
  for (const Block& end :
       {bytes({0xff, 0xfe, 0xfe, 0x00, 0x04, 0x09}), bytes({0xff, 0xfe, 0xfe, 0x00, 0x00, 0x00}),
        bytes({0xff, 0xfe, 0xfe, 0x00, 0x04, 0x08}),
        bytes({0xff, 0xfe, 0xfe, 0xff, 0xff, 0xff, 0x12, 0x34})}) {
    HistoryParser parser;
    EXPECT_EQ(feed_all(parser, {kStart, kRecords0, kRecords1, end}), Feed::kDone);
    EXPECT_EQ(records_of(parser), kTwoBlocks);
  }
}

TEST(HistoryProtocol, Bm7EndMarker) {
  // 4aa 17 05 0 = 11.94 V, 23 %, 5 C (the BM7 vector's reading), then fe fe fe.
  HistoryParser parser;
  EXPECT_EQ(feed_all(parser, {kStart, bytes({0x4a, 0xa1, 0x70, 0x50}),
                              bytes({0xfe, 0xfe, 0xfe, 0x00, 0x00, 0x0d})}),
            Feed::kDone);
  EXPECT_EQ(records_of(parser), (std::vector<HistoryRecord>{rec(1194, 23, 5, 0, 0)}));
}

TEST(HistoryProtocol, TheEmptyAnswerIsNoRecordsNotAnError) {
  HistoryParser parser;
  EXPECT_EQ(parser.feed(kLive), Feed::kNotHistory);
  EXPECT_EQ(parser.feed(bytes({0xfe, 0xfe, 0xfe, 0x00})), Feed::kMore);
  EXPECT_TRUE(parser.started());
  EXPECT_EQ(parser.feed(bytes({0xff, 0xfe, 0xfe, 0x00, 0x00, 0x00})), Feed::kDone);
  EXPECT_TRUE(parser.empty_answer());
  EXPECT_TRUE(records_of(parser).empty());
  // Both blocks in one notification.
  HistoryParser one;
  EXPECT_EQ(one.feed(join({bytes({0xfe, 0xfe, 0xfe}), bytes({0xff, 0xfe, 0xfe})})), Feed::kDone);
  EXPECT_TRUE(one.empty_answer());
  // A page of empty slots is an answer with no records too, not "the empty answer".
  std::vector<Block> page{kStart};
  page.resize(65, kZero);
  page.push_back(kEnd);
  HistoryParser slots;
  EXPECT_EQ(feed_all(slots, page), Feed::kDone);
  EXPECT_FALSE(slots.empty_answer());
  EXPECT_TRUE(records_of(slots).empty());
}

TEST(HistoryProtocol, PagesAreCumulative) {
  // NN = 2: the newest 512 records, the first 256 of them what NN = 1 gives: the same
  // records at the same slots, so nothing is taken twice as two different times.
  std::vector<Block> two{kStart, kRecords0, kRecords1};
  two.resize(1 + 64, kZero);
  two.push_back(kRecords1);  // slots 256-259: older ones
  two.resize(1 + 128, kZero);
  two.push_back(kEnd);
  HistoryParser p1, p2;
  EXPECT_EQ(feed_all(p1, one_page()), Feed::kDone);
  EXPECT_EQ(feed_all(p2, two), Feed::kDone);
  const auto newest_page = records_of(p1);
  const auto both = records_of(p2);
  ASSERT_EQ(both.size(), newest_page.size() + 2);
  EXPECT_EQ(both.front(), rec(1249, 85, 14, 4, 257));
  EXPECT_EQ(both[1], rec(1250, 85, 15, 0, 256));
  EXPECT_TRUE(std::equal(newest_page.begin(), newest_page.end(), both.begin() + 2));
}

TEST(HistoryProtocol, TemperatureAtOrAbove0x80IsUnknown) {
  HistoryParser parser;
  EXPECT_EQ(
      feed_all(parser, {kStart, bytes({0x4f, 0x75, 0x7f, 0x10, 0x4f, 0x75, 0x78, 0x00}), kEnd}),
      Feed::kDone);
  EXPECT_EQ(records_of(parser), (std::vector<HistoryRecord>{rec(1271, 87, std::nullopt, 0, 1),
                                                            rec(1271, 87, std::nullopt, 0, 0)}));
}

TEST(HistoryProtocol, TruncatedIsRefused) {
  HistoryParser no_end;
  auto blocks = one_page();
  blocks.pop_back();
  EXPECT_EQ(feed_all(no_end, blocks), Feed::kMore);
  EXPECT_EQ(rejection_of(no_end), HistoryRejection::kTruncated);
  HistoryParser nothing;
  EXPECT_EQ(rejection_of(nothing), HistoryRejection::kTruncated);
  HistoryParser empty_half;  // fe fe fe, then nothing
  EXPECT_EQ(empty_half.feed(bytes({0xfe, 0xfe, 0xfe})), Feed::kMore);
  EXPECT_EQ(rejection_of(empty_half), HistoryRejection::kTruncated);
}

TEST(HistoryProtocol, CorruptIsRefused) {
  // 4f7 ff 17 0: 255 %.
  HistoryParser garbage;
  EXPECT_EQ(feed_all(garbage, {kStart, bytes({0x4f, 0x75, 0x71, 0x70, 0x4f, 0x7f, 0xf1, 0x70})}),
            Feed::kRejected);
  EXPECT_EQ(rejection_of(garbage), HistoryRejection::kGarbageBlock);
  EXPECT_EQ(garbage.feed(kEnd), Feed::kRejected);  // and stays refused

  // A marker inside a record (at byte 2): no end.
  HistoryParser misplaced;
  EXPECT_EQ(feed_all(misplaced, {kStart, bytes({0x4e, 0x05, 0xff, 0xfe, 0xfe})}), Feed::kRejected);
  EXPECT_EQ(rejection_of(misplaced), HistoryRejection::kMisplacedEnd);

  // A notification of the answer that is not whole blocks.
  HistoryParser odd;
  EXPECT_EQ(odd.feed(kStart), Feed::kMore);
  EXPECT_EQ(odd.feed(std::vector<std::uint8_t>(20)), Feed::kRejected);
  EXPECT_EQ(rejection_of(odd), HistoryRejection::kWrongLength);
  HistoryParser empty_value;
  EXPECT_EQ(empty_value.feed(kStart), Feed::kMore);
  EXPECT_EQ(empty_value.feed({}), Feed::kRejected);

  for (int i = 0; i < kHistoryRejectionCount; ++i)
    EXPECT_STRNE(to_string(static_cast<HistoryRejection>(i)), "unknown");
}

TEST(HistoryProtocol, MoreThanAnyMonitorKeepsIsRefused) {
  HistoryParser parser;
  EXPECT_EQ(parser.feed(kStart), Feed::kMore);
  const std::vector<std::uint8_t> many(kHistoryMaxRecords * kHistoryRecordBytes, 0);
  EXPECT_EQ(parser.feed(many), Feed::kMore);  // exactly the bound: still an answer
  EXPECT_EQ(parser.feed(kZero), Feed::kRejected);
  EXPECT_EQ(rejection_of(parser), HistoryRejection::kTooLong);
}

TEST(HistoryProtocol, EstimatedTimes) {
  HistoryParser parser;
  EXPECT_EQ(feed_all(parser, one_page()), Feed::kDone);
  const auto now = std::chrono::system_clock::now();
  const auto timed = estimate_times(records_of(parser), now);
  ASSERT_EQ(timed.size(), 5u);
  EXPECT_EQ(timed.front().at, now - std::chrono::minutes(10));  // slot 5
  EXPECT_EQ(timed.back().at, now);                              // slot 0
}

}  // namespace
}  // namespace bm6
