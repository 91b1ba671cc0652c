#include "transport/att_bearer.h"

#include <gtest/gtest.h>

#include "tests/param_name.h"

#include <cctype>
#include <cerrno>

#include <fcntl.h>

#include "tests/seqpacket_peer.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;

class AttBearerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = test::seqpacket_pair();
    AttBearer::Options options;
    options.transaction_timeout = 150ms;
    bearer = std::make_unique<AttBearer>(loop, std::move(pair.ours), options);
    bearer->set_closed_handler([this](const LinkError& e) {
      closed = true;
      why = e;
      reason = e.detail;
    });
    peer = std::make_unique<test::ScriptedPeer>(loop, std::move(pair.theirs));
  }
  void settle() {
    loop.run_until([] { return false; }, 30ms);
  }

  EventLoop loop;
  std::unique_ptr<AttBearer> bearer;
  std::unique_ptr<test::ScriptedPeer> peer;
  bool closed = false;
  LinkError why;
  std::string reason;  // why.detail, for failure messages
};

TEST_F(AttBearerTest, AnswersPeerMtuRequestAndAdoptsMinimum) {
  peer->send({att::kExchangeMtuReq, 0x40, 0x00});  // peer offers 64
  settle();
  ASSERT_EQ(peer->received().size(), 1u);
  EXPECT_EQ(peer->received()[0], (Bytes{att::kExchangeMtuRsp, 0x05, 0x02}));
  EXPECT_EQ(bearer->mtu(), 64);
  peer->send({att::kExchangeMtuReq, 0x10, 0x00});  // below 23: clamped
  settle();
  EXPECT_EQ(bearer->mtu(), 23);
  EXPECT_FALSE(closed);
}

TEST_F(AttBearerTest, AnswersDiscoveryWithAttributeNotFoundAndOthersNotSupported) {
  peer->send({att::kReadByGroupTypeReq, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28});
  peer->send({att::kReadByTypeReq, 0x05, 0x00, 0xff, 0xff, 0x03, 0x28});
  peer->send({att::kFindInformationReq, 0x01, 0x00, 0xff, 0xff});
  peer->send({att::kReadReq, 0x03, 0x00});
  peer->send({att::kWriteReq, 0x03, 0x00, 0x01});
  peer->send({0x3f, 0x01});                        // unknown request
  peer->send({0x7f, 0x01});                        // unknown command: no answer
  peer->send({att::kWriteCmd, 0x03, 0x00, 0x01});  // command: no answer
  settle();
  const auto& got = peer->received();
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0], (Bytes{att::kErrorRsp, att::kReadByGroupTypeReq, 0x01, 0x00, 0x0a}));
  EXPECT_EQ(got[1], (Bytes{att::kErrorRsp, att::kReadByTypeReq, 0x05, 0x00, 0x0a}));
  EXPECT_EQ(got[2], (Bytes{att::kErrorRsp, att::kFindInformationReq, 0x01, 0x00, 0x0a}));
  EXPECT_EQ(got[3], (Bytes{att::kErrorRsp, att::kReadReq, 0x00, 0x00, 0x06}));
  EXPECT_EQ(got[4], (Bytes{att::kErrorRsp, att::kWriteReq, 0x00, 0x00, 0x06}));
  EXPECT_EQ(got[5], (Bytes{att::kErrorRsp, 0x3f, 0x00, 0x00, 0x06}));
  EXPECT_EQ(bearer->stats().peer_requests_answered, 6u);
  EXPECT_FALSE(closed);
}

TEST_F(AttBearerTest, ConfirmsIndicationsAndDeliversNotifications) {
  std::vector<std::pair<std::uint16_t, Bytes>> notified, indicated;
  bearer->set_notification_handler([&](std::uint16_t h, std::span<const std::uint8_t> v) {
    notified.emplace_back(h, Bytes(v.begin(), v.end()));
  });
  bearer->set_indication_handler([&](std::uint16_t h, std::span<const std::uint8_t> v) {
    indicated.emplace_back(h, Bytes(v.begin(), v.end()));
  });
  peer->send({att::kHandleValueNotification, 0x16, 0x00, 0xaa, 0xbb});
  peer->send({att::kHandleValueIndication, 0x08, 0x00, 0x01, 0x00, 0xff, 0xff});
  settle();
  ASSERT_EQ(notified.size(), 1u);
  EXPECT_EQ(notified[0].first, 0x16);
  EXPECT_EQ(notified[0].second, (Bytes{0xaa, 0xbb}));
  ASSERT_EQ(indicated.size(), 1u);
  ASSERT_EQ(peer->received().size(), 1u);
  EXPECT_EQ(peer->received()[0], (Bytes{att::kHandleValueConfirmation}));
}

TEST_F(AttBearerTest, OneRequestInFlightAtATime) {
  std::vector<std::uint8_t> answered;
  bearer->send_request({att::kReadReq, 0x03, 0x00},
                       [&](const AttResult& r) { answered.push_back(r.opcode); });
  bearer->send_request({att::kReadReq, 0x05, 0x00},
                       [&](const AttResult& r) { answered.push_back(r.opcode); });
  settle();
  ASSERT_EQ(peer->received().size(), 1u) << "second request sent before the first was answered";
  peer->send({att::kReadRsp, 0x42});
  settle();
  ASSERT_EQ(peer->received().size(), 2u);
  EXPECT_EQ(peer->received()[1], (Bytes{att::kReadReq, 0x05, 0x00}));
  peer->send({att::kErrorRsp, att::kReadReq, 0x05, 0x00, att::kReadNotPermitted});
  settle();
  EXPECT_EQ(answered, (std::vector<std::uint8_t>{att::kReadRsp, att::kErrorRsp}));
  EXPECT_FALSE(closed);
}

TEST_F(AttBearerTest, TransactionTimeoutClosesTheLink) {
  bool answered = false;
  bearer->send_request({att::kReadReq, 0x03, 0x00}, [&](const AttResult&) { answered = true; });
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 2s));
  EXPECT_FALSE(answered);
  EXPECT_EQ(why.kind, LinkErrorKind::kTimedOut) << reason;
  EXPECT_EQ(why.os_errno, ETIMEDOUT);
  EXPECT_FALSE(bearer->is_open());
  settle();
  EXPECT_TRUE(peer->peer_closed());
}

struct Violation {
  const char* name;
  Bytes pdu;
  bool with_request;
  const char* reason;
};

void PrintTo(const Violation& c, std::ostream* os) { *os << c.name; }

class AttBearerViolation : public AttBearerTest, public ::testing::WithParamInterface<Violation> {};

TEST_P(AttBearerViolation, ClosesTheLink) {
  const auto& v = GetParam();
  bool answered = false;
  if (v.with_request)
    bearer->send_request({att::kReadReq, 0x03, 0x00}, [&](const AttResult&) { answered = true; });
  settle();
  peer->send(v.pdu);
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 1s)) << v.name;
  EXPECT_FALSE(answered) << v.name;
  EXPECT_EQ(why.kind, LinkErrorKind::kProtocol) << v.name << ": " << reason;
  // The kind is one for all: the detail, made here, says which violation it was.
  EXPECT_NE(reason.find(v.reason), std::string::npos) << v.name << ": " << reason;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, AttBearerViolation,
    ::testing::Values(
        Violation{"unsolicited response", {att::kReadRsp, 1}, false, "unexpected Read Response"},
        Violation{"wrong response", {att::kWriteRsp}, true, "in answer to"},
        Violation{"error for another request",
                  {att::kErrorRsp, att::kWriteReq, 3, 0, 1},
                  true,
                  "mismatched Error Response"},
        Violation{"short error", {att::kErrorRsp, att::kReadReq, 3}, true, "malformed"},
        Violation{"notification without handle",
                  {att::kHandleValueNotification, 0x16},
                  false,
                  "malformed notification"},
        Violation{"confirmation we never asked for",
                  {att::kHandleValueConfirmation},
                  false,
                  "unexpected Handle Value Confirmation"},
        Violation{"oversized PDU", Bytes(24, att::kHandleValueNotification), false,
                  "exceeds the ATT MTU"}),
    test::ParamName());

TEST_F(AttBearerTest, PeerHangUpClosesOnceAndDestructorFiresNothing) {
  int closes = 0;
  bearer->set_closed_handler([&](const LinkError&) { ++closes; });
  peer->hang_up();
  ASSERT_TRUE(loop.run_until([&] { return closes > 0; }, 1s));
  settle();
  EXPECT_EQ(closes, 1);

  auto pair = test::seqpacket_pair();
  bool fired = false;
  {
    AttBearer other(loop, std::move(pair.ours));
    other.set_closed_handler([&](const LinkError&) { fired = true; });
    other.send_request({att::kReadReq, 1, 0}, [&](const AttResult&) { fired = true; });
  }
  settle();
  EXPECT_FALSE(fired);
}

// Linux 6.1 oopses when a socket is closed while the kernel still tears the link down (see
// AttBearer::close): a link the peer ended is closed a moment later; one we end, at once.
bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST_F(AttBearerTest, ALinkThePeerEndedIsClosedAMomentLater) {
  const int fd = bearer->fd();
  peer->hang_up();
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 1s));
  EXPECT_EQ(why.kind, LinkErrorKind::kClosedByPeer);
  EXPECT_FALSE(bearer->is_open());
  EXPECT_TRUE(fd_open(fd));
  EXPECT_EQ(loop.watched_fds(), 0u);  // no longer watched (nor is the peer, hung up)
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop.run_until([&] { return !fd_open(fd); }, 2s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, AttBearer::kPeerGoneCloseDelay - 50ms);

  auto pair = test::seqpacket_pair();
  AttBearer ours(loop, std::move(pair.ours));
  const int our_fd = ours.fd();
  ours.close("done");
  EXPECT_FALSE(fd_open(our_fd));
}

TEST_F(AttBearerTest, ResponseHandlerMayDestroyTheBearer) {
  bearer->send_request({att::kReadReq, 0x03, 0x00}, [&](const AttResult&) { bearer.reset(); });
  settle();
  peer->send({att::kReadRsp, 1});
  peer->send({att::kHandleValueNotification, 0x16, 0x00, 1});  // arrives after the reset
  settle();
  EXPECT_EQ(bearer, nullptr);
  EXPECT_FALSE(closed);
}

// --- the server role ---

TEST_F(AttBearerTest, RequestHandlerAnswersEachPeerRequest) {
  std::vector<Bytes> asked;
  bearer->set_request_handler([&](std::uint8_t opcode, std::span<const std::uint8_t> params) {
    Bytes pdu{opcode};
    pdu.insert(pdu.end(), params.begin(), params.end());
    asked.push_back(pdu);
    if (opcode == att::kReadReq) {
      EXPECT_TRUE(bearer->respond({att::kReadRsp, 0x42}));
    } else {
      EXPECT_TRUE(bearer->respond_error(att::kWriteNotPermitted, 0x0003));
    }
    EXPECT_FALSE(bearer->respond({att::kReadRsp, 0x43})) << "answered twice";
  });
  std::vector<Bytes> commands;
  bearer->set_command_handler([&](std::uint8_t opcode, std::span<const std::uint8_t> params) {
    Bytes pdu{opcode};
    pdu.insert(pdu.end(), params.begin(), params.end());
    commands.push_back(pdu);
  });
  peer->set_responder([&](const Bytes& pdu) -> std::vector<Bytes> {
    // The next request only once the previous one is answered, as a client does.
    if (pdu[0] == att::kReadRsp) return {{att::kWriteReq, 0x03, 0x00, 0x01}};
    return {};
  });
  peer->send({att::kReadReq, 0x03, 0x00});
  peer->send({att::kWriteCmd, 0x05, 0x00, 0x07});
  settle();
  ASSERT_EQ(peer->received().size(), 2u);
  EXPECT_EQ(peer->received()[0], (Bytes{att::kReadRsp, 0x42}));
  EXPECT_EQ(peer->received()[1],
            (Bytes{att::kErrorRsp, att::kWriteReq, 0x03, 0x00, att::kWriteNotPermitted}));
  EXPECT_EQ(asked.size(), 2u);
  EXPECT_EQ(commands, (std::vector<Bytes>{{att::kWriteCmd, 0x05, 0x00, 0x07}}));
  EXPECT_EQ(bearer->stats().peer_requests_answered, 2u);
  EXPECT_FALSE(closed) << reason;
}

TEST_F(AttBearerTest, RequestHandlerMayAnswerLater) {
  bearer->set_request_handler([](std::uint8_t, std::span<const std::uint8_t>) {});
  peer->send({att::kExchangeMtuReq, 0x40, 0x00});  // peer offers 64
  settle();
  EXPECT_TRUE(peer->received().empty());
  EXPECT_EQ(bearer->pending_peer_request(), att::kExchangeMtuReq);
  EXPECT_EQ(bearer->mtu(), 23);
  Timer later(loop);
  later.start(50ms, [&] {
    EXPECT_TRUE(bearer->respond(att::encode_mtu(att::kExchangeMtuRsp, bearer->rx_mtu())));
  });
  settle();
  settle();
  ASSERT_EQ(peer->received().size(), 1u);
  EXPECT_EQ(peer->received()[0], (Bytes{att::kExchangeMtuRsp, 0x05, 0x02}));
  EXPECT_EQ(bearer->mtu(), 64) << "the agreed MTU applies once the response is out";
  EXPECT_FALSE(bearer->pending_peer_request());
  EXPECT_FALSE(closed) << reason;
}

TEST_F(AttBearerTest, SecondPeerRequestBeforeOurAnswerClosesTheLink) {
  bearer->set_request_handler([](std::uint8_t, std::span<const std::uint8_t>) {});
  peer->send({att::kReadReq, 0x03, 0x00});
  peer->send({att::kReadReq, 0x05, 0x00});
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 1s));
  EXPECT_EQ(why.kind, LinkErrorKind::kProtocol) << reason;
  EXPECT_NE(reason.find("before our answer"), std::string::npos) << reason;
  EXPECT_FALSE(bearer->respond({att::kReadRsp}));
}

TEST_F(AttBearerTest, WrongResponseFromTheOwnerIsABug) {
  bearer->set_request_handler([&](std::uint8_t, std::span<const std::uint8_t>) {
    EXPECT_FALSE(bearer->respond({att::kWriteRsp}));
  });
  peer->send({att::kReadReq, 0x03, 0x00});
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 1s));
  EXPECT_EQ(why.kind, LinkErrorKind::kOther) << reason;  // ours: a bug, not the peer's fault
  EXPECT_NE(reason.find("bug: Write Response in answer"), std::string::npos) << reason;
}

TEST_F(AttBearerTest, NotificationsAndOneOutstandingIndication) {
  const Bytes v1{0x01}, v2{0x02}, n{0xaa};
  int confirmed = 0;
  bearer->send_indication(0x0008, v1, [&] { ++confirmed; });
  bearer->send_indication(0x0008, v2, [&] { ++confirmed; });
  bearer->send_notification(0x0016, n);
  settle();
  ASSERT_EQ(peer->received().size(), 2u) << "second indication sent before the confirmation";
  EXPECT_EQ(peer->received()[0], (Bytes{att::kHandleValueIndication, 0x08, 0x00, 0x01}));
  EXPECT_EQ(peer->received()[1], (Bytes{att::kHandleValueNotification, 0x16, 0x00, 0xaa}));
  EXPECT_EQ(confirmed, 0);
  peer->send({att::kHandleValueConfirmation});
  settle();
  EXPECT_EQ(confirmed, 1);
  ASSERT_EQ(peer->received().size(), 3u);
  EXPECT_EQ(peer->received()[2], (Bytes{att::kHandleValueIndication, 0x08, 0x00, 0x02}));
  peer->send({att::kHandleValueConfirmation});
  settle();
  EXPECT_EQ(confirmed, 2);
  EXPECT_FALSE(closed) << reason;
  // Nothing outstanding now: one more confirmation is a protocol violation.
  peer->send({att::kHandleValueConfirmation});
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 1s));
  EXPECT_EQ(why.kind, LinkErrorKind::kProtocol) << reason;
  EXPECT_NE(reason.find("unexpected Handle Value Confirmation"), std::string::npos) << reason;
}

TEST_F(AttBearerTest, UnconfirmedIndicationTimesOut) {
  bool confirmed = false;
  const Bytes v{0x01};
  bearer->send_indication(0x0008, v, [&] { confirmed = true; });
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 2s));
  EXPECT_FALSE(confirmed);
  EXPECT_EQ(why.kind, LinkErrorKind::kTimedOut) << reason;
  EXPECT_EQ(why.os_errno, ETIMEDOUT);
}

TEST_F(AttBearerTest, RequestHandlerMayDestroyTheBearer) {
  bearer->set_request_handler([&](std::uint8_t, std::span<const std::uint8_t>) { bearer.reset(); });
  peer->send({att::kReadReq, 0x03, 0x00});
  peer->send({att::kHandleValueNotification, 0x16, 0x00, 1});
  settle();
  EXPECT_EQ(bearer, nullptr);
  EXPECT_FALSE(closed);
}

}  // namespace
}  // namespace bm6

namespace bm6 {
namespace {

// A peer flooding the link unasked: closed once it passes the owner's per-second budget,
// whatever it floods with; responses to our own requests never count.
TEST(AttBearerFloodGuard, ClosesALinkFloodedPastTheBudget) {
  for (const Bytes& pdu : {Bytes{att::kHandleValueNotification, 5, 0, 1, 2},
                           Bytes{att::kExchangeMtuReq, 23, 0}, Bytes{0x7f, 1}}) {
    EventLoop loop;
    auto pair = test::seqpacket_pair();
    AttBearer::Options options;
    options.max_peer_pdus_per_second = 20;
    AttBearer bearer(loop, std::move(pair.ours), options);
    LinkError why;
    bearer.set_closed_handler([&](const LinkError& e) { why = e; });
    test::ScriptedPeer peer(loop, std::move(pair.theirs));
    for (int i = 0; i < 20; ++i) peer.send(pdu);
    loop.run_until([] { return false; }, 30ms);
    EXPECT_TRUE(bearer.is_open()) << "20 within the budget of 20";
    peer.send(pdu);
    loop.run_until([&] { return bool(why); }, 500ms);
    EXPECT_FALSE(bearer.is_open());
    EXPECT_EQ(why.kind, LinkErrorKind::kProtocol) << why.detail;
    EXPECT_NE(why.detail.find("floods the link"), std::string::npos) << why.detail;
  }
}

TEST(AttBearerFloodGuard, NoBudgetNoLimitAndResponsesDoNotCount) {
  EventLoop loop;
  auto pair = test::seqpacket_pair();
  AttBearer::Options unlimited;
  AttBearer bearer(loop, std::move(pair.ours), unlimited);
  test::ScriptedPeer peer(loop, std::move(pair.theirs));
  for (int i = 0; i < 500; ++i) peer.send({att::kHandleValueNotification, 5, 0, 1});
  loop.run_until([] { return false; }, 100ms);
  EXPECT_TRUE(bearer.is_open());

  auto pair2 = test::seqpacket_pair();
  AttBearer::Options tight;
  tight.max_peer_pdus_per_second = 3;
  AttBearer asking(loop, std::move(pair2.ours), tight);
  test::ScriptedPeer answering(loop, std::move(pair2.theirs), [](const Bytes& pdu) {
    return std::vector<Bytes>{{att::kReadRsp, pdu[1]}};
  });
  int answers = 0;
  for (int i = 0; i < 10; ++i)
    asking.send_request({att::kReadReq, static_cast<std::uint8_t>(i), 0},
                        [&](const AttResult& r) { answers += r.ok(); });
  loop.run_until([&] { return answers == 10; }, 1s);
  EXPECT_EQ(answers, 10);
  EXPECT_TRUE(asking.is_open());
}

}  // namespace
}  // namespace bm6
