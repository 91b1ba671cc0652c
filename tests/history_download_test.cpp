// The monitor's stored history on a link (HistoryDownload) and a device's backfill (Backfill
// in Bm6Device). Against a scripted peer sending fixed ciphertexts (computed once with
// openssl from answers typed from ../shared/bm6-protocol.md, never by our encoder): every
// framing real units use, live frames handed to the link, truncated and corrupt answers
// refused. Against the simulator in-process: its answers and fault variants read back,
// records oldest first at estimated times, the flood guard raised for the answer only, live
// readings held back while a gap is filled, a gap never tried twice.
#include "device/history_download.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "device/bm6_device.h"
#include "tests/device_test_support.h"
#include "tests/scripted_bm6.h"
#include "tools/sim/bm6_peripheral.h"
#include "transport/connector.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::connect_unix;
using test::Events;
using SysClock = std::chrono::system_clock;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bm6-history-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/m.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  static sim::SimDevice device(std::uint32_t seed, sim::Fault fault = sim::Fault::kNone,
                               Family model = Family::kBm6, std::uint16_t mtu = att::kDefaultMtu) {
    sim::SimDevice d;
    d.model = model;
    d.mtu = mtu;
    d.period = 50ms;
    d.cycle = 20s;  // records differ from one another
    d.history_seed = seed;
    d.fault = fault;
    return d;
  }

  struct Run {
    std::optional<HistoryResult> result;
    std::string closed;
    LinkErrorKind closed_cause = LinkErrorKind::kNone;
    unsigned readings_during = 0;     // live readings while the download ran
    unsigned readings_after = 0;      // live readings after the download ended
    unsigned limit_after = 0;         // the bearer's flood guard then
    std::vector<HistoryRecord> held;  // what the simulator held, newest first
  };

  // A link with the plugin's flood guard (100 PDUs a second); its first reading starts a
  // download of `pages`; runs until a few live readings followed it, or the link closed.
  Run download(const sim::SimDevice& sim, std::uint8_t pages, bool raise_guard = true,
               std::chrono::milliseconds timeout = 0ms) {
    sim::Bm6SimServer server(loop, path, sim);
    Run run;
    run.held = server.history().records();
    bool closed = false;
    std::unique_ptr<Bm6Link> link;
    std::unique_ptr<HistoryDownload> dl;
    Bm6Link::Handlers h;
    h.on_reading = [&](const Reading&, SysClock::time_point) {
      if (run.result) ++run.readings_after;
      if (dl) ++run.readings_during;
      if (dl || run.result) return;
      HistoryDownload::Options o;
      o.pages = pages;
      o.timeout = timeout;
      o.peer_pdu_limit = raise_guard ? 100 : 0;
      dl = std::make_unique<HistoryDownload>(loop, *link, o, [&](HistoryResult r) {
        run.result = std::move(r);
        run.limit_after = link->bearer().max_peer_pdus_per_second();
        dl.reset();
      });
    };
    h.on_closed = [&](const DeviceFailure& why) {
      run.closed = why.detail;
      run.closed_cause = why.cause.kind;
      closed = true;
      dl.reset();
    };
    Bm6Link::Options options;
    options.family = sim.model;
    options.att.max_peer_pdus_per_second = 100;
    link = std::make_unique<Bm6Link>(loop, connect_unix(loop, path), options, h);
    loop.run_until([&] { return closed || run.readings_after >= 3; }, 30s);
    dl.reset();
    link.reset();
    return run;
  }

  EventLoop loop;
  std::string dir, path;
};

TEST_F(HistoryTest, RecordsComeOldestFirstAtEstimatedTimesAndTheLinkStreamsOn) {
  const auto sim = device(300);  // two pages' worth, some of the second empty
  const auto asked = SysClock::now();
  const Run run = download(sim, 2);
  const auto& held = run.held;  // newest first, as the answer carries them
  ASSERT_TRUE(run.result) << run.closed;
  ASSERT_TRUE(run.result->ok()) << run.result->error;
  const auto& records = run.result->records;
  ASSERT_EQ(records.size(), 300u);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& want = held[records.size() - 1 - i];  // oldest first
    EXPECT_EQ(records[i].record.slot, want.slot);
    EXPECT_EQ(records[i].record.centivolts, want.centivolts) << i;
    EXPECT_EQ(records[i].record.soc_percent, want.soc_percent) << i;
    if (i > 0) {
      EXPECT_EQ(records[i].at - records[i - 1].at, kHistoryPeriod);
    }
  }
  // The newest a second before the answer, in whole seconds.
  const auto newest = records.back().at;
  EXPECT_EQ(newest, std::chrono::floor<std::chrono::seconds>(newest));
  EXPECT_LE(newest, SysClock::now() - 1s);
  EXPECT_GE(newest, asked - 2s);
  // Two pages of 16-byte blocks at MTU 23: one block a notification, 130 within a few
  // milliseconds: more than the guard's 100 a second, raised for the answer and restored.
  EXPECT_EQ(run.result->notifications, 130u);
  EXPECT_EQ(run.limit_after, 100u);
  EXPECT_GE(run.readings_after, 3u) << run.closed;
  std::printf("history: 2 pages (%zu records) in %lld ms, %llu notifications\n", records.size(),
              static_cast<long long>(run.result->took.count()),
              static_cast<unsigned long long>(run.result->notifications));
}

TEST_F(HistoryTest, WithoutRaisingTheFloodGuardTheAnswerCostsTheLink) {
  // What the raise is for: the same answer under the live stream's guard is a flood.
  const Run run = download(device(300), 2, /*raise_guard=*/false);
  EXPECT_FALSE(run.result && run.result->ok());
  EXPECT_EQ(run.closed_cause, LinkErrorKind::kProtocol) << run.closed;  // the flood guard's
  EXPECT_NE(run.closed.find("floods"), std::string::npos) << run.closed;
}

TEST_F(HistoryTest, TruncatedAnswerIsRefusedAndLiveReadingsGoOn) {
  const Run run = download(device(100, sim::Fault::kHistoryTruncated), 1, true, 500ms);
  ASSERT_TRUE(run.result) << run.closed;
  EXPECT_FALSE(run.result->ok());
  EXPECT_NE(run.result->error.find("truncated"), std::string::npos) << run.result->error;
  EXPECT_TRUE(run.result->records.empty());
  EXPECT_EQ(run.limit_after, 100u);
  EXPECT_GE(run.readings_after, 3u) << run.closed;
}

TEST_F(HistoryTest, CorruptAnswerIsRefusedAndLiveReadingsGoOn) {
  const Run run = download(device(100, sim::Fault::kHistoryCorrupt), 1);
  ASSERT_TRUE(run.result) << run.closed;
  EXPECT_FALSE(run.result->ok());
  EXPECT_NE(run.result->error.find("garbage record"), std::string::npos) << run.result->error;
  EXPECT_GE(run.readings_after, 3u) << run.closed;
}

// The simulator's answer and each of its history faults, read back exactly.
void expect_held(const HistoryResult& result, const std::vector<HistoryRecord>& held,
                 std::size_t count) {
  const auto& records = result.records;
  ASSERT_EQ(records.size(), count);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& want = held[count - 1 - i];  // oldest first
    ASSERT_EQ(records[i].record, want) << i;
  }
}

TEST_F(HistoryTest, SimulatorVariantsReadBackExactly) {
  struct Case {
    sim::Fault fault;
    std::uint16_t mtu;
    std::size_t records;  // of the 300 held, what one page carries
  };
  for (const Case& c :
       {Case{sim::Fault::kNone, 23, 256}, Case{sim::Fault::kNone, 185, 256},
        Case{sim::Fault::kHistoryInterleaved, 23, 256},
        Case{sim::Fault::kHistoryInterleaved, 185, 256}, Case{sim::Fault::kHistoryFfStart, 23, 256},
        Case{sim::Fault::kHistoryEndMidBlock, 23, 254},
        Case{sim::Fault::kHistoryEndMidBlock, 100, 254}}) {
    SCOPED_TRACE(std::string(sim::to_string(c.fault)) + " at MTU " + std::to_string(c.mtu));
    const Run run = download(device(300, c.fault, Family::kBm6, c.mtu), 1);
    ASSERT_TRUE(run.result) << run.closed;
    ASSERT_TRUE(run.result->ok()) << run.result->error;
    expect_held(*run.result, run.held, c.records);
    EXPECT_FALSE(run.result->empty_answer);
    if (c.fault == sim::Fault::kHistoryInterleaved && c.mtu > 23) {
      // Live frames packed with the answer's blocks reached the link's readings: the one
      // before the start, one after it and after every 16th block, one before the end.
      EXPECT_GE(run.result->live_frames, 3u);
      EXPECT_GE(run.readings_during, run.result->live_frames);
    }
    EXPECT_GE(run.readings_after, 3u) << run.closed;
  }
}

TEST_F(HistoryTest, EmptyAnswerIsNoRecordsNotAFailure) {
  const Run run = download(device(300, sim::Fault::kHistoryEmpty), 1);
  ASSERT_TRUE(run.result) << run.closed;
  EXPECT_TRUE(run.result->ok()) << run.result->error;
  EXPECT_TRUE(run.result->empty_answer);
  EXPECT_TRUE(run.result->records.empty());
  EXPECT_EQ(run.result->notifications, 2u);
  EXPECT_GE(run.readings_after, 3u) << run.closed;
}

TEST_F(HistoryTest, LongBm7AnswerWhateverWasAsked) {
  const Run run = download(device(3709, sim::Fault::kHistoryLong, Family::kBm7), 1);
  ASSERT_TRUE(run.result) << run.closed;
  ASSERT_TRUE(run.result->ok()) << run.result->error;
  expect_held(*run.result, run.held, 3709);
  EXPECT_EQ(run.result->records.front().record.slot, 3708u);
  // The start, 928 record blocks, the end: one notification each at MTU 23, past the live
  // stream's flood guard of 100 a second, raised for the answer.
  EXPECT_EQ(run.result->notifications, 930u);
  EXPECT_EQ(run.limit_after, 100u);
  EXPECT_GE(run.readings_after, 3u) << run.closed;
}

TEST_F(HistoryTest, PauseOfMoreThanThreeSecondsIsTruncated) {
  const auto asked = std::chrono::steady_clock::now();
  const Run run = download(device(300, sim::Fault::kHistoryPause), 1);
  ASSERT_TRUE(run.result) << run.closed;
  EXPECT_FALSE(run.result->ok());
  EXPECT_NE(run.result->error.find("truncated: no notification for 3 s"), std::string::npos)
      << run.result->error;
  EXPECT_GE(run.result->took, kHistorySilence);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 30s);
  EXPECT_TRUE(run.result->records.empty());
  EXPECT_GE(run.readings_after, 3u) << run.closed;
}

// --- fixed ciphertexts, through a scripted peer ---------------------------------------

// Computed once with `openssl enc -aes-128-ecb -nopad -K <key>` from plaintext typed from the
// notes; the live frames and live requests are the notes' own vectors.
namespace bm6_vectors {  // key 6c656167656e64fffe30313030303039
// d1 55 07 00 00 ... (the live-data request)
const Bytes kLiveRequest = {0x69, 0x7e, 0xa0, 0xb5, 0xd5, 0x4c, 0xf0, 0x24,
                            0xe7, 0x94, 0x77, 0x23, 0x55, 0x55, 0x41, 0x14};
// d1 55 05 00 00 00 00 01 00 ... (history, one page)
const Bytes kHistoryRequest = {0x08, 0xb5, 0x31, 0x46, 0xe0, 0x3c, 0x16, 0x7d,
                               0x41, 0xe5, 0x18, 0x45, 0x76, 0xb3, 0xfa, 0x38};
// d1 55 07 00 17 00 64 05 3c 00 00 00 01 02 ff ff: 13.40 V, +23 C, normal, 100 %
const Bytes kLive = {0x02, 0xce, 0xd3, 0xfc, 0x59, 0x3f, 0xbd, 0x09,
                     0xef, 0x57, 0xf3, 0x8a, 0x73, 0x89, 0x76, 0x10};
// d1 55 05 01 00 ... 00
const Bytes kStart = {0xce, 0x8c, 0xb9, 0x42, 0x5d, 0x8d, 0x1c, 0x7d,
                      0xb2, 0x34, 0xc5, 0x34, 0xf3, 0x07, 0x25, 0x3a};
// ff ff fe 00 ... 00
const Bytes kFfStart = {0x97, 0xa8, 0x58, 0x19, 0x4b, 0x27, 0x25, 0x88,
                        0xa8, 0xc9, 0x82, 0x59, 0x03, 0x93, 0x6d, 0xa6};
// 4f757170 4f657172 50158164 00000000: 12.71 V 87 % 23 C e0, 12.70 V 87 % 23 C e2,
// 12.81 V 88 % 22 C e4, an empty slot
const Bytes kRecords0 = {0x30, 0xe3, 0x09, 0x7b, 0x6c, 0xe3, 0x79, 0x59,
                         0x7a, 0xfe, 0x19, 0x44, 0xcf, 0xc2, 0x42, 0x40};
// 4e2550f0 4e1550e4 00000000 00000000: 12.50 V 85 % 15 C e0, 12.49 V 85 % 14 C e4
const Bytes kRecords1 = {0x80, 0x65, 0x8e, 0xa8, 0xc8, 0xd2, 0x83, 0x5f,
                         0x29, 0xd4, 0xca, 0x05, 0xba, 0x72, 0x4a, 0x1b};
// 16 zero bytes: four empty slots
const Bytes kZero = {0x48, 0x5e, 0xe1, 0x04, 0x0e, 0x6f, 0xf0, 0x6d,
                     0xb4, 0x09, 0xa8, 0x43, 0x83, 0xd5, 0x5c, 0x8e};
// ff fe fe 00 04 09 00 ...
const Bytes kEnd = {0xf3, 0xc5, 0x3c, 0xe3, 0x4d, 0x74, 0x04, 0xc0,
                    0x5b, 0xc0, 0x6d, 0x22, 0x31, 0x1e, 0xca, 0xec};
// 4e0550d2 ff fe fe 00 04 09 00 ...: 12.48 V 85 % 13 C e2, then the end
const Bytes kEndMidBlock = {0x88, 0x80, 0x45, 0x67, 0xbb, 0x43, 0xe9, 0xef,
                            0xb6, 0x2d, 0x1f, 0xa2, 0x58, 0x97, 0xd3, 0x71};
// fe fe fe 00 ..., then ff fe fe 00 00 00 ...: the empty answer
const Bytes kEmptyFirst = {0x7e, 0x5c, 0xb9, 0x31, 0x80, 0x0d, 0xbc, 0x0c,
                           0x78, 0x9c, 0xcd, 0x53, 0x11, 0x67, 0xdc, 0x82};
const Bytes kEmptyEnd = {0xe3, 0xef, 0x32, 0xfd, 0xde, 0x98, 0x8e, 0xa8,
                         0x54, 0x7e, 0x5e, 0xf2, 0xa9, 0xd7, 0xbe, 0xf7};
// 4e 05 ff fe fe 00 ...: a marker inside a record
const Bytes kMisplacedEnd = {0x3a, 0x93, 0x5f, 0x1c, 0x16, 0xf2, 0x13, 0xb5,
                             0xe5, 0xc4, 0x67, 0x3f, 0x8b, 0x4a, 0x76, 0xe8};
// 4f7ff170 4f657172 50158164 00000000: a record at 255 %
const Bytes kCorrupt = {0x72, 0x0d, 0xa7, 0xd4, 0xfa, 0x91, 0xb7, 0xa7,
                        0x5c, 0x9d, 0x1b, 0xa6, 0x32, 0x26, 0xc1, 0x1d};
}  // namespace bm6_vectors

namespace bm7_vectors {  // key 6c656167656e64fffe30313030303040
const Bytes kLiveRequest = {0x58, 0x6d, 0x7b, 0x23, 0x77, 0xc6, 0x92, 0x4d,
                            0xcd, 0x75, 0x0a, 0xcb, 0x29, 0xf5, 0xbf, 0x8d};
const Bytes kHistoryRequest = {0x0e, 0xb9, 0x51, 0x18, 0xb3, 0x0b, 0x5f, 0x8c,
                               0xab, 0x88, 0x48, 0xd4, 0x9b, 0xc2, 0x8c, 0x8a};
// d1 55 07 01 07 01 17 04 aa 00 ...: 11.94 V, -7 C, low, 23 %
const Bytes kLive = {0x35, 0xa2, 0x3a, 0xcd, 0x8f, 0x8a, 0x3b, 0x36,
                     0x55, 0x4f, 0xba, 0x10, 0xf1, 0x87, 0x95, 0x07};
const Bytes kStart = {0x22, 0x44, 0xdb, 0x61, 0x3f, 0x02, 0xf4, 0x31,
                      0x17, 0xc4, 0x9d, 0xeb, 0xbe, 0x1a, 0x31, 0x7f};
// 4aa17050 4ab17052 4ac17054 4ad17050: 11.94, 11.95, 11.96, 11.97 V, 23 %, 5 C, e0 e2 e4 e0
const Bytes kRecords4 = {0x62, 0xb6, 0xd2, 0x40, 0xde, 0xc0, 0xc7, 0xf3,
                         0x8d, 0x08, 0x2d, 0xaa, 0x69, 0xdb, 0x3b, 0xb3};
// 4aa17050 00 ...: 11.94 V, then three empty slots
const Bytes kRecords1 = {0x2a, 0x4e, 0x80, 0xb5, 0xae, 0x39, 0xba, 0x75,
                         0x7f, 0x9f, 0xee, 0x05, 0xe6, 0x6b, 0xce, 0x2e};
// fe fe fe 00 39 f5 00 ...: a BM7's end
const Bytes kEnd = {0xd2, 0x9c, 0xbe, 0xfa, 0xc3, 0x72, 0x17, 0x80,
                    0xeb, 0x69, 0x92, 0x78, 0x1f, 0x3e, 0x12, 0x6b};
}  // namespace bm7_vectors

Bytes notification(std::initializer_list<Bytes> blocks) {
  Bytes pdu{att::kHandleValueNotification, 5, 0};  // the data characteristic of minimal_bm6
  for (const Bytes& b : blocks) pdu.insert(pdu.end(), b.begin(), b.end());
  return pdu;
}

struct Script {
  Family family = Family::kBm6;
  std::uint16_t mtu = 23;
  std::vector<Bytes> answer;       // notification PDUs, sent when the history request comes
  std::vector<Bytes> after_pause;  // sent 3.5 s later
};

struct ScriptedRun {
  std::optional<HistoryResult> result;
  bool request_seen = false;  // the history request's ciphertext as the vectors say
  unsigned readings_during = 0;
  std::string closed;
};

// A link to a scripted monitor: its first reading (the notes' live frame) starts a one-page
// download, answered with the script's notifications.
ScriptedRun run_script(EventLoop& loop, const Script& script) {
  const bool bm7 = script.family == Family::kBm7;
  const Bytes& live_request = bm7 ? bm7_vectors::kLiveRequest : bm6_vectors::kLiveRequest;
  const Bytes& history_request = bm7 ? bm7_vectors::kHistoryRequest : bm6_vectors::kHistoryRequest;
  const Bytes live = notification({bm7 ? bm7_vectors::kLive : bm6_vectors::kLive});
  ScriptedRun run;
  auto pair = test::seqpacket_pair();
  Timer pace(loop);
  std::unique_ptr<test::ScriptedPeer> peer;
  // The answer 50 notifications a millisecond, or fewer while the socket's buffer is full
  // (a slow reader, under a sanitizer and load, loses none), the rest after the pause.
  std::function<void(std::size_t)> send_from = [&](std::size_t at) {
    const std::size_t end = std::min(script.answer.size(), at + 50);
    while (at < end && peer->send(script.answer[at])) ++at;
    if (at < script.answer.size()) {
      pace.start(1ms, [&send_from, at] { send_from(at); });
    } else if (!script.after_pause.empty()) {
      pace.start(sim::kHistoryPauseLength, [&] {
        for (const Bytes& n : script.after_pause) peer->send(n);
      });
    }
  };
  peer = std::make_unique<test::ScriptedPeer>(
      loop, std::move(pair.theirs), [&](const Bytes& pdu) -> std::vector<Bytes> {
        if (pdu[0] == att::kExchangeMtuReq)
          return {{att::kExchangeMtuRsp, static_cast<std::uint8_t>(script.mtu),
                   static_cast<std::uint8_t>(script.mtu >> 8)}};
        if (pdu[0] == att::kWriteReq && pdu.size() == 3 + 16 && att::get_le16(&pdu[1]) == 3) {
          const Bytes value(pdu.begin() + 3, pdu.end());
          std::vector<Bytes> out{{att::kWriteRsp}};
          if (value == live_request) out.push_back(live);
          if (value == history_request) {
            run.request_seen = true;
            pace.start(0ms, [&] { send_from(0); });  // after the write's response
          }
          return out;
        }
        return test::minimal_bm6(pdu, att::kPropWrite);
      });
  std::unique_ptr<Bm6Link> link;
  std::unique_ptr<HistoryDownload> dl;
  bool closed = false;
  Bm6Link::Handlers h;
  h.on_reading = [&](const Reading&, SysClock::time_point) {
    if (dl) ++run.readings_during;
    if (dl || run.result) return;
    HistoryDownload::Options o;
    o.pages = 1;
    o.peer_pdu_limit = 100;
    dl = std::make_unique<HistoryDownload>(loop, *link, o, [&](HistoryResult r) {
      run.result = std::move(r);
      dl.reset();
    });
  };
  h.on_closed = [&](const DeviceFailure& why) {
    run.closed = why.detail;
    closed = true;
    dl.reset();
  };
  Bm6Link::Options options;
  options.family = script.family;
  options.att.max_peer_pdus_per_second = 100;
  link = std::make_unique<Bm6Link>(loop, std::move(pair.ours), options, h);
  loop.run_until([&] { return closed || run.result.has_value(); }, 20s);
  dl.reset();
  link.reset();
  return run;
}

// One block a notification: start, kRecords0, kRecords1, 62 empty blocks, the end.
std::vector<Bytes> one_page(const Bytes& start = bm6_vectors::kStart) {
  using namespace bm6_vectors;
  std::vector<Bytes> out{notification({start}), notification({kRecords0}),
                         notification({kRecords1})};
  while (out.size() < 65) out.push_back(notification({kZero}));
  out.push_back(notification({kEnd}));
  return out;
}

// What kRecords0 then kRecords1 hold, oldest first: (centivolts, %, C, event, slot).
std::vector<HistoryRecord> expected_records() {
  const auto r = [](std::uint16_t cv, std::uint8_t soc, int t, std::uint8_t e, std::uint32_t s) {
    return HistoryRecord{cv, soc, t, e, s};
  };
  return {r(1249, 85, 14, 4, 5), r(1250, 85, 15, 0, 4), r(1281, 88, 22, 4, 2),
          r(1270, 87, 23, 2, 1), r(1271, 87, 23, 0, 0)};
}

std::vector<HistoryRecord> plain(const HistoryResult& result) {
  std::vector<HistoryRecord> out;
  for (const auto& t : result.records) out.push_back(t.record);
  return out;
}

TEST(HistoryVectors, OnePageAsARealBm6SendsIt) {
  EventLoop loop;
  Script s;
  s.answer = one_page();
  const ScriptedRun run = run_script(loop, s);
  ASSERT_TRUE(run.request_seen) << run.closed;
  ASSERT_TRUE(run.result) << run.closed;
  ASSERT_TRUE(run.result->ok()) << run.result->error;
  EXPECT_EQ(plain(*run.result), expected_records());
  EXPECT_EQ(run.result->notifications, 66u);
  EXPECT_FALSE(run.result->empty_answer);
}

TEST(HistoryVectors, LiveFramesInterleavedAloneAndInsideNotifications) {
  using namespace bm6_vectors;
  EventLoop loop;
  Script s;
  s.mtu = 185;  // up to 11 blocks a notification
  s.answer = {notification({kLive}), notification({kLive, kStart, kLive, kRecords0}),
              notification({kLive}), notification({kRecords1, kZero, kLive, kZero})};
  for (int i = 0; i < 10; ++i)
    s.answer.push_back(notification({kZero, kZero, kZero, kZero, kZero, kZero}));
  s.answer.push_back(notification({kZero, kLive, kEnd, kLive}));  // one after the end, too
  const ScriptedRun run = run_script(loop, s);
  ASSERT_TRUE(run.result) << run.closed;
  ASSERT_TRUE(run.result->ok()) << run.result->error;
  EXPECT_EQ(plain(*run.result), expected_records());
  // Five live frames inside the answer's notifications went to the link as readings, and the
  // two alone besides.
  EXPECT_EQ(run.result->live_frames, 5u);
  EXPECT_EQ(run.readings_during, 7u);
  EXPECT_EQ(run.result->notifications, 13u);
}

TEST(HistoryVectors, FfFfFeStart) {
  EventLoop loop;
  Script s;
  s.answer = one_page(bm6_vectors::kFfStart);
  const ScriptedRun run = run_script(loop, s);
  ASSERT_TRUE(run.result) << run.closed;
  ASSERT_TRUE(run.result->ok()) << run.result->error;
  EXPECT_EQ(plain(*run.result), expected_records());
}

TEST(HistoryVectors, EndMarkerInTheMiddleOfABlock) {
  using namespace bm6_vectors;
  EventLoop loop;
  Script s;
  s.answer = {notification({kStart}), notification({kRecords0}), notification({kRecords1}),
              notification({kEndMidBlock})};
  const ScriptedRun run = run_script(loop, s);
  ASSERT_TRUE(run.result) << run.closed;
  ASSERT_TRUE(run.result->ok()) << run.result->error;
  auto want = expected_records();
  want.insert(want.begin(), HistoryRecord{1248, 85, 13, 2, 8});
  EXPECT_EQ(plain(*run.result), want);
}

TEST(HistoryVectors, EmptyAnswer) {
  using namespace bm6_vectors;
  EventLoop loop;
  Script s;
  s.answer = {notification({kEmptyFirst}), notification({kEmptyEnd})};
  const ScriptedRun run = run_script(loop, s);
  ASSERT_TRUE(run.result) << run.closed;
  EXPECT_TRUE(run.result->ok()) << run.result->error;
  EXPECT_TRUE(run.result->empty_answer);
  EXPECT_TRUE(run.result->records.empty());
}

TEST(HistoryVectors, LongBm7Answer) {
  // 3,709 records (927 blocks of four, one of one), BM7 live frames every 100 blocks, the
  // fe fe fe end.
  using namespace bm7_vectors;
  EventLoop loop;
  Script s;
  s.family = Family::kBm7;
  s.answer.push_back(notification({kStart}));
  for (int i = 0; i < 927; ++i) {
    s.answer.push_back(notification({kRecords4}));
    if (i % 100 == 0) s.answer.push_back(notification({kLive}));
  }
  s.answer.push_back(notification({kRecords1}));
  s.answer.push_back(notification({kEnd}));
  const ScriptedRun run = run_script(loop, s);
  ASSERT_TRUE(run.result) << run.closed;
  ASSERT_TRUE(run.result->ok()) << run.result->error;
  const auto got = plain(*run.result);
  ASSERT_EQ(got.size(), 3709u);
  EXPECT_EQ(got.front(), (HistoryRecord{1194, 23, 5, 0, 3708}));  // the oldest: kRecords1's
  constexpr std::uint8_t kEvents[] = {0, 2, 4, 0};
  for (std::size_t slot = 0; slot < 3708; ++slot) {
    const HistoryRecord& r = got[3708 - slot];
    ASSERT_EQ(r.slot, slot);
    ASSERT_EQ(r.centivolts, 1194 + slot % 4) << slot;
    ASSERT_EQ(r.event, kEvents[slot % 4]) << slot;
    ASSERT_EQ(r.soc_percent, 23);
    ASSERT_EQ(r.temperature_c, 5);
  }
  EXPECT_EQ(run.result->notifications, 930u);
  EXPECT_EQ(run.readings_during, 10u);  // the live frames between its blocks
}

TEST(HistoryVectors, PauseOfMoreThanThreeSecondsIsTruncated) {
  EventLoop loop;
  Script s;
  s.answer = one_page();
  s.after_pause.assign(s.answer.begin() + 30, s.answer.end());
  s.answer.resize(30);
  const ScriptedRun run = run_script(loop, s);
  ASSERT_TRUE(run.result) << run.closed;
  EXPECT_FALSE(run.result->ok());
  EXPECT_NE(run.result->error.find("truncated: no notification for 3 s"), std::string::npos)
      << run.result->error;
  EXPECT_GE(run.result->took, kHistorySilence);
  EXPECT_TRUE(run.result->records.empty());
}

TEST(HistoryVectors, CorruptAnswersAreRefused) {
  using namespace bm6_vectors;
  struct Case {
    std::vector<Bytes> answer;
    const char* error;
  };
  const std::vector<Case> cases = {
      {{notification({kStart}), notification({kCorrupt}), notification({kEnd})},
       "rejected: garbage record"},
      {{notification({kStart}), notification({kRecords0}), notification({kMisplacedEnd})},
       "rejected: end marker inside a record"},
      {{notification({kStart}), notification({kRecords0}),
        Bytes{att::kHandleValueNotification, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8,
              9}},  // not a whole block
       "rejected: wrong length"},
  };
  for (const Case& c : cases) {
    EventLoop loop;
    Script s;
    s.answer = c.answer;
    const ScriptedRun run = run_script(loop, s);
    ASSERT_TRUE(run.result) << run.closed;
    EXPECT_FALSE(run.result->ok());
    EXPECT_EQ(run.result->error, c.error);
    EXPECT_TRUE(run.result->records.empty());
  }
}

TEST(HistoryPages, CoverTheSpanWithOneRecordToSpare) {
  EXPECT_EQ(pages_for(0s, 120s), 1);
  EXPECT_EQ(pages_for(std::chrono::seconds(255 * 120), 120s), 1);  // 256 records
  EXPECT_EQ(pages_for(std::chrono::seconds(256 * 120), 120s), 2);
  EXPECT_EQ(pages_for(48h, 120s), 6);  // 1,441 records
  EXPECT_EQ(pages_for(std::chrono::hours(24 * 365), 1s), 255);
}

TEST_F(HistoryTest, DeviceFillsAGapBeforeAnyLiveReadingAndNeverTriesItTwice) {
  sim::SimDevice sim = device(40);
  sim.record_period = 1s;
  auto server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  const auto since = SysClock::now() - 10500ms;
  slot->last_dispatched_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch()).count();
  DeviceOptions o{.name = "van",
                  .address = DeviceAddress::unix_socket(path),
                  .reconnect_min = 20ms,
                  .reconnect_max = 50ms,
                  .backfill = true,
                  .record_period = 1s};
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, const DeviceReport& r) {
                  if (r.event == DeviceEvent::kBackfilled) {  // nothing live before the records
                    EXPECT_FALSE(slot->take(SysClock::now() - 1h).has_value());
                  }
                  events.seen.push_back(r);
                });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfilled) == 1; }, 5s));
  const auto records = slot->take_history();
  // ~10 s of records at one a second, after `since`, oldest first.
  ASSERT_GE(records.size(), 9u);
  ASSERT_LE(records.size(), 12u);
  EXPECT_GT(records.front().at, since);
  for (std::size_t i = 1; i < records.size(); ++i) EXPECT_LT(records[i - 1].at, records[i].at);
  // Then live readings, every one after the newest record.
  ASSERT_TRUE(loop.run_until([&] { return slot->stored.load() >= 3; }, 3s));
  const auto live = slot->take(SysClock::now() - 1h);
  ASSERT_TRUE(live);
  EXPECT_GE(live->received, records.back().at + 1s);

  // The link drops and comes back; nothing was dispatched meanwhile: the same gap, not
  // asked again.
  server.reset();
  server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kFirstReading) == 2; }, 5s));
  loop.run_until([] { return false; }, 300ms);
  EXPECT_EQ(dev.backfill()->downloads(), 1u);
  EXPECT_TRUE(slot->take_history().empty());

  // A new gap (readings dispatched since, then lost again) is filled.
  server.reset();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kLinkLost) == 2; }, 3s));
  ASSERT_TRUE(slot->take(SysClock::now() - 1h));  // the plugin took this link's readings
  const auto later = SysClock::now() - 5s;
  slot->last_dispatched_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(later.time_since_epoch()).count();
  server.reset();
  server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfilled) == 2; }, 5s));
  EXPECT_EQ(dev.backfill()->downloads(), 2u);
  dev.stop();
}

// A per-read link with a gap to fill stays up for the download: the records first, then
// one live reading after them, then it closes as any per-read link does.
TEST_F(HistoryTest, PerReadLinkFillsTheGapThenTakesOneReadingAndCloses) {
  sim::SimDevice sim = device(40);
  sim.record_period = 1s;
  sim::Bm6SimServer server(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  const auto since = SysClock::now() - 6500ms;
  slot->last_dispatched_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch()).count();
  DeviceOptions o{.name = "van",
                  .address = DeviceAddress::unix_socket(path),
                  .backfill = true,
                  .record_period = 1s};
  o.link = LinkMode::kPerRead;
  o.read_interval = 2000ms;
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, const DeviceReport& r) { events.seen.push_back(r); });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfilled) == 1; }, 5s));
  // Closed after the live reading that followed the records, not before the download.
  ASSERT_TRUE(loop.run_until([&] { return !dev.linked() && server.peripheral() == nullptr; }, 3s));
  const auto records = slot->take_history();
  ASSERT_GE(records.size(), 5u);
  EXPECT_GT(records.front().at, since);
  const auto live = slot->take(SysClock::now() - 1h);
  ASSERT_TRUE(live);
  EXPECT_GE(live->received, records.back().at + 1s);
  EXPECT_GE(dev.counters().readings, 2u);  // the one that started the download, and this one
  EXPECT_EQ(events.count(DeviceEvent::kLinkLost), 0);
  dev.stop();
}

TEST_F(HistoryTest, DeviceWhoseDownloadFailsSaysSoOnceAndStreams) {
  sim::SimDevice sim = device(40, sim::Fault::kHistoryCorrupt);
  sim.record_period = 1s;
  sim::Bm6SimServer server(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  slot->last_dispatched_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 (SysClock::now() - 30s).time_since_epoch())
                                 .count();
  DeviceOptions o{.name = "van",
                  .address = DeviceAddress::unix_socket(path),
                  .backfill = true,
                  .record_period = 1s};
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, const DeviceReport& r) { events.seen.push_back(r); });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfillFailed) == 1; }, 5s));
  ASSERT_TRUE(loop.run_until([&] { return slot->stored.load() >= 3; }, 3s));
  EXPECT_TRUE(slot->take(SysClock::now() - 1h).has_value());
  EXPECT_TRUE(slot->take_history().empty());
  EXPECT_EQ(events.count(DeviceEvent::kBackfillFailed), 1);
  EXPECT_EQ(events.count(DeviceEvent::kBackfilled), 0);
  for (const auto& r : events.seen) {
    if (r.event == DeviceEvent::kBackfillFailed) {
      EXPECT_NE(r.detail.find("garbage record"), std::string::npos);
    }
  }
  dev.stop();
}

TEST_F(HistoryTest, DeviceWhoseMonitorHasNoRecordsSaysSoAndStreams) {
  sim::SimDevice sim = device(40, sim::Fault::kHistoryEmpty);
  sim.record_period = 1s;
  sim::Bm6SimServer server(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  slot->last_dispatched_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 (SysClock::now() - 30s).time_since_epoch())
                                 .count();
  DeviceOptions o{.name = "van",
                  .address = DeviceAddress::unix_socket(path),
                  .backfill = true,
                  .record_period = 1s};
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, const DeviceReport& r) { events.seen.push_back(r); });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kBackfilled) == 1; }, 5s));
  ASSERT_TRUE(loop.run_until([&] { return slot->stored.load() >= 3; }, 3s));
  EXPECT_TRUE(slot->take_history().empty());
  EXPECT_EQ(events.count(DeviceEvent::kBackfillFailed), 0);
  for (const auto& r : events.seen) {
    if (r.event == DeviceEvent::kBackfilled) {
      EXPECT_NE(r.detail.find("the monitor has no stored records"), std::string::npos) << r.detail;
    }
  }
  dev.stop();
}

TEST_F(HistoryTest, DetectedBm2SaysOnceThatItHasNoHistoryAndStreams) {
  sim::SimDevice sim = device(0);
  sim.model = Family::kBm2;
  auto server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  auto slot = std::make_shared<ReadingSlot>();
  slot->last_dispatched_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 (SysClock::now() - 1h).time_since_epoch())
                                 .count();
  DeviceOptions o{.name = "bm2",
                  .address = DeviceAddress::unix_socket(path),
                  .reconnect_min = 20ms,
                  .reconnect_max = 50ms,
                  .backfill = true};
  Events events;
  std::string err;
  auto connector = make_connector(loop, {.address = o.address}, nullptr, err);
  ASSERT_TRUE(connector) << err;
  Bm6Device dev(loop, o, std::move(connector), slot,
                [&](const DeviceOptions&, const DeviceReport& r) { events.seen.push_back(r); });
  dev.start();
  ASSERT_TRUE(loop.run_until([&] { return slot->stored.load() >= 2; }, 8s));
  server.reset();
  server = std::make_unique<sim::Bm6SimServer>(loop, path, sim);
  ASSERT_TRUE(loop.run_until([&] { return events.count(DeviceEvent::kFirstReading) == 2; }, 8s));
  EXPECT_EQ(events.count(DeviceEvent::kBackfillFailed), 1);
  EXPECT_EQ(dev.backfill()->downloads(), 0u);
  dev.stop();
}

}  // namespace
}  // namespace bm6
