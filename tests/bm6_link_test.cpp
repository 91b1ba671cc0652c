// The BM6 link's own policies against scripted peers: when a link is given up.
#include "device/bm6_link.h"

#include <gtest/gtest.h>

#include <optional>

#include "tests/scripted_bm6.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::cat;
using test::u16;

struct Closed {
  bool closed = false;
  std::string reason;
  std::chrono::steady_clock::time_point at;
  FailureKind kind = FailureKind::kNone;
};

// Answers a PDU its own way, or leaves it to the minimal BM6 database (nullopt).
using Override = std::function<std::optional<std::vector<Bytes>>(const Bytes& pdu)>;

// A link against a peer that answers the set-up, except where `respond` overrides it;
// returns when the link closes or `limit` passes.
Closed run_link(EventLoop& loop, Bm6Link::Options options, Override respond,
                std::chrono::milliseconds limit, std::unique_ptr<test::ScriptedPeer>& peer) {
  auto pair = test::seqpacket_pair();
  peer = std::make_unique<test::ScriptedPeer>(loop, std::move(pair.theirs),
                                              [respond](const Bytes& pdu) -> std::vector<Bytes> {
                                                if (pdu[0] == att::kExchangeMtuReq)
                                                  return {{att::kExchangeMtuRsp, 23, 0}};
                                                if (auto out = respond(pdu)) return *out;
                                                return test::minimal_bm6(pdu, att::kPropWrite);
                                              });
  Closed result;
  Bm6Link::Handlers handlers;
  handlers.on_closed = [&](const DeviceFailure& why) {
    result = {true, why.detail, std::chrono::steady_clock::now(), why.kind};
  };
  Bm6Link link(loop, std::move(pair.ours), options, std::move(handlers));
  loop.run_until([&] { return result.closed; }, limit);
  return result;
}

TEST(Bm6Link, HalfOpenLinkIsClosedAfterTheSilentCommandsNotTheResponseTimeout) {
  // The link's set-up completes, then the peer goes away without a word: the Write Request
  // of the command is never answered. The documented bound is max_silent_commands stream
  // timeouts; the 30 s ATT response timeout must not stretch it.
  EventLoop loop;
  Bm6Link::Options options;
  options.stream_timeout = 100ms;
  options.att.transaction_timeout = 30s;
  std::unique_ptr<test::ScriptedPeer> peer;
  bool command_seen = false;
  std::chrono::steady_clock::time_point command_at;
  const auto closed = run_link(
      loop, options,
      [&](const Bytes& pdu) -> std::optional<std::vector<Bytes>> {
        if (pdu[0] == att::kWriteReq && pdu.size() == 3 + 16 && att::get_le16(&pdu[1]) == 3) {
          if (!command_seen) command_at = std::chrono::steady_clock::now();
          command_seen = true;
          return std::vector<Bytes>{};  // never answered
        }
        return std::nullopt;
      },
      3s, peer);
  ASSERT_TRUE(command_seen);
  ASSERT_TRUE(closed.closed) << "still open after 3 s";
  const auto took = closed.at - command_at;
  EXPECT_GE(took, 250ms);  // three stream timeouts, counted from just before the write
  EXPECT_LT(took, 1s);
  EXPECT_EQ(closed.kind, FailureKind::kSilent) << closed.reason;  // not the ATT timeout's
  EXPECT_NE(closed.reason.find("never answered"), std::string::npos) << closed.reason;
  // The unanswered command was not queued again behind itself.
  int commands = 0;
  for (const auto& pdu : peer->received())
    commands += pdu[0] == att::kWriteReq && att::get_le16(&pdu[1]) == 3;
  EXPECT_EQ(commands, 1);
}

}  // namespace
}  // namespace bm6
