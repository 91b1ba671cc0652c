// Issue #25: a per-read link ended through the kernel's management interface the moment its
// reading is in (Disconnect), only if our connect made it (Get Connections before), and the
// link budget's slot free when the kernel says the link is gone, or after a bound.
#include <gtest/gtest.h>

#include "device/link_budget.h"
#include "tests/mgmt_fake.h"
#include "transport/mgmt_links.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::FakeMgmt;

constexpr std::uint16_t kGetConnections = 0x0015, kDisconnect = 0x0014;
constexpr std::uint16_t kIndex = 1;  // hci1
const BdAddr kMonitor{0xa4, 0xc1, 0x38, 0x0b, 0x5e, 0x01};
const BdAddr kOther{0x11, 0x22, 0x33, 0x44, 0x55, 0x66};

MgmtLinks::Peer peer(const BdAddr& a = kMonitor) {
  MgmtLinks::Peer p;
  p.index = kIndex;
  std::copy(a.begin(), a.end(), p.address.address.begin());
  p.address.type = mgmt::kAddrLePublic;
  return p;
}

// An address and its type as the kernel frames them (least significant byte first).
Bytes wire(const BdAddr& a, std::uint8_t type = 1) {
  Bytes b = FakeMgmt::wire(a);
  b.push_back(type);
  return b;
}

Bytes connections(const std::vector<BdAddr>& links) {
  Bytes b = {static_cast<std::uint8_t>(links.size()), 0};
  for (const auto& a : links) {
    const Bytes w = wire(a);
    b.insert(b.end(), w.begin(), w.end());
  }
  return b;
}

class MgmtLinksTest : public ::testing::Test {
 protected:
  EventLoop loop;
  FakeMgmt kernel;
  MgmtLinks links{loop, kernel.opener(), 5s};

  // before_connect() of `on` (the fixture's) answered by the kernel with `present` as the
  // adapter's links.
  std::optional<bool> ask(const std::vector<BdAddr>& present, MgmtLinks* on = nullptr) {
    std::optional<bool> ours;
    (on ? *on : links).before_connect(peer(), [&](bool o) { ours = o; });
    const auto sent = kernel.commands();
    EXPECT_EQ(sent.size(), 1u);
    if (sent.size() == 1) {
      EXPECT_EQ(sent[0].opcode, kGetConnections);
      EXPECT_EQ(sent[0].index, kIndex);
      EXPECT_TRUE(sent[0].params.empty());
    }
    kernel.complete(kIndex, kGetConnections, 0, connections(present));
    loop.run_until([&] { return ours.has_value(); }, 2s);
    return ours;
  }
};

TEST_F(MgmtLinksTest, OurLinkIsDisconnectedAndGoneWhenTheKernelAnswers) {
  EXPECT_EQ(ask({kOther}), true);  // another device's link does not make ours another's
  bool gone = false;
  ASSERT_TRUE(links.end(peer(), [&] { gone = true; }));
  const auto sent = kernel.commands();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].opcode, kDisconnect);
  EXPECT_EQ(sent[0].index, kIndex);
  EXPECT_EQ(sent[0].params, wire(kMonitor, 1));  // the address, LE public
  loop.run_until([] { return false; }, 50ms);
  EXPECT_FALSE(gone);  // not before the kernel says so
  kernel.complete(kIndex, kDisconnect, 0, wire(kMonitor));
  ASSERT_TRUE(loop.run_until([&] { return gone; }, 2s));
  EXPECT_EQ(links.stats().gone_by_kernel, 1u);
  EXPECT_EQ(links.stats().gone_by_bound, 0u);
  EXPECT_FALSE(links.end(peer(), [] {}));  // ended once; a second is not ours any more
}

TEST_F(MgmtLinksTest, ALinkThatWasThereBeforeOurConnectIsNeverDisconnected) {
  // bluetoothd (or another program) holds a link to the monitor: our connect shares it.
  EXPECT_EQ(ask({kOther, kMonitor}), false);
  bool gone = false;
  EXPECT_FALSE(links.end(peer(), [&] { gone = true; }));
  EXPECT_TRUE(kernel.commands().empty());  // no Disconnect
  loop.run_until([] { return false; }, 50ms);
  EXPECT_FALSE(gone);
  EXPECT_EQ(links.stats().not_ours, 1u);
  EXPECT_EQ(links.stats().disconnects, 0u);
}

TEST_F(MgmtLinksTest, AFailedQuestionLeavesTheLinkAlone) {
  std::optional<bool> ours;
  links.before_connect(peer(), [&](bool o) { ours = o; });
  kernel.commands();
  kernel.complete(kIndex, kGetConnections, 0x0f /* not powered */, {});
  ASSERT_TRUE(loop.run_until([&] { return ours.has_value(); }, 2s));
  EXPECT_FALSE(*ours);
  EXPECT_FALSE(links.end(peer(), [] {}));
  EXPECT_TRUE(kernel.commands().empty());
}

// Without CAP_NET_ADMIN the kernel lets the socket open (untrusted) and refuses the
// commands: seen so in the VM test, where the links lingered and nothing said why.
TEST_F(MgmtLinksTest, AnUntrustedSocketIsAsGoodAsNoneAndItIsSaidOnce) {
  EXPECT_TRUE(links.available());
  EXPECT_FALSE(links.take_unavailable_note());
  std::optional<bool> ours;
  links.before_connect(peer(), [&](bool o) { ours = o; });
  kernel.commands();
  kernel.complete(kIndex, kGetConnections, 0x14 /* permission denied */, {});
  ASSERT_TRUE(loop.run_until([&] { return ours.has_value(); }, 2s));
  EXPECT_FALSE(*ours);
  EXPECT_FALSE(links.available());
  EXPECT_EQ(links.unavailable_reason().kind, LinkErrorKind::kPermission);
  EXPECT_FALSE(links.end(peer(), [] {}));
  const auto note = links.take_unavailable_note();
  ASSERT_TRUE(note);
  EXPECT_NE(note->find("CAP_NET_ADMIN"), std::string::npos) << *note;
  EXPECT_FALSE(links.take_unavailable_note());
  ours.reset();
  links.before_connect(peer(), [&](bool o) { ours = o; });  // not asked again
  ASSERT_TRUE(loop.run_until([&] { return ours.has_value(); }, 2s));
  EXPECT_FALSE(*ours);
  EXPECT_TRUE(kernel.commands().empty());
}

TEST_F(MgmtLinksTest, GoneOnDeviceDisconnected) {
  ASSERT_EQ(ask({}), true);
  bool gone = false;
  ASSERT_TRUE(links.end(peer(), [&] { gone = true; }));
  kernel.commands();
  Bytes params = wire(kMonitor);
  params.push_back(0x02);  // reason: local host terminated
  kernel.event(0x000c, kIndex, params);
  ASSERT_TRUE(loop.run_until([&] { return gone; }, 2s));
  // The Disconnect's own answer coming after is nothing more.
  kernel.complete(kIndex, kDisconnect, 0, wire(kMonitor));
  loop.run_until([] { return false; }, 50ms);
  EXPECT_EQ(links.stats().gone_by_kernel, 1u);
}

TEST_F(MgmtLinksTest, ALostAnswerHoldsNothingLongerThanTheBound) {
  MgmtLinks bounded(loop, kernel.opener(), 150ms);
  ASSERT_EQ(ask({}, &bounded), true);
  int gone = 0;
  ASSERT_TRUE(bounded.end(peer(), [&] { ++gone; }));
  ASSERT_TRUE(loop.run_until([&] { return gone == 1; }, 2s));  // nothing from the kernel
  EXPECT_EQ(bounded.stats().gone_by_bound, 1u);
  kernel.complete(kIndex, kDisconnect, 0, wire(kMonitor));  // late: ignored
  loop.run_until([] { return false; }, 50ms);
  EXPECT_EQ(gone, 1);
}

// An untrusted socket whose kernel answers Get Connections but refuses Disconnect: the link
// lingers, so it is not reported gone, not even at the bound (its slot waits for the link
// budget's linger); later links are not asked about, and it is said once.
TEST_F(MgmtLinksTest, ARefusedDisconnectIsNotAnEndedLink) {
  MgmtLinks bounded(loop, kernel.opener(), 150ms);
  ASSERT_EQ(ask({}, &bounded), true);
  int gone = 0;
  ASSERT_TRUE(bounded.end(peer(), [&] { ++gone; }));
  kernel.commands();
  kernel.complete(kIndex, kDisconnect, 0x14 /* permission denied */, {});
  loop.run_until([] { return false; }, 400ms);
  EXPECT_EQ(gone, 0);
  EXPECT_FALSE(bounded.available());
  const auto note = bounded.take_unavailable_note();
  ASSERT_TRUE(note);
  EXPECT_NE(note->find("refused Disconnect"), std::string::npos) << *note;
  EXPECT_NE(note->find("CAP_NET_ADMIN"), std::string::npos) << *note;
  EXPECT_FALSE(bounded.take_unavailable_note());
  EXPECT_FALSE(bounded.end(peer(), [&] { ++gone; }));
  EXPECT_TRUE(kernel.commands().empty());
}

TEST_F(MgmtLinksTest, AnUnansweredQuestionLetsTheConnectGoOnAsNotOurs) {
  MgmtLinks bounded(loop, kernel.opener(), 150ms);
  std::optional<bool> first, second;
  bounded.before_connect(peer(), [&](bool o) { first = o; });
  ASSERT_TRUE(loop.run_until([&] { return first.has_value(); }, 2s));  // the bound
  EXPECT_FALSE(*first);
  bounded.before_connect(peer(kOther), [&](bool o) { second = o; });
  // The late answer to the first lists nobody: it must not be taken for the second's.
  kernel.complete(kIndex, kGetConnections, 0, connections({}));
  kernel.complete(kIndex, kGetConnections, 0, connections({kOther}));
  ASSERT_TRUE(loop.run_until([&] { return second.has_value(); }, 2s));
  EXPECT_FALSE(*second);  // kOther's link was there
  EXPECT_FALSE(bounded.end(peer(), [] {}));
}

TEST(MgmtLinks, WithoutTheCapabilityLinksLingerAndItIsSaidOnce) {
  EventLoop loop;
  MgmtLinks links(loop, [](LinkError& error) {
    error = link_error(LinkErrorKind::kPermission, "needs CAP_NET_ADMIN");
    return UniqueFd();
  });
  EXPECT_FALSE(links.available());
  std::optional<bool> ours;
  links.before_connect(peer(), [&](bool o) { ours = o; });
  EXPECT_FALSE(ours.has_value());  // never from inside the call
  ASSERT_TRUE(loop.run_until([&] { return ours.has_value(); }, 2s));
  EXPECT_FALSE(*ours);
  EXPECT_FALSE(links.end(peer(), [] {}));
  const auto note = links.take_unavailable_note();
  ASSERT_TRUE(note);
  EXPECT_NE(note->find("needs CAP_NET_ADMIN"), std::string::npos) << *note;
  EXPECT_NE(note->find("2 s"), std::string::npos) << *note;
  EXPECT_FALSE(links.take_unavailable_note());  // once
}

TEST(MgmtLinksCodec, DisconnectAndGetConnectionsAsTheLayoutSays) {
  const auto p = peer();
  EXPECT_EQ(mgmt::encode_disconnect(kIndex, p.address.address, mgmt::kAddrLeRandom),
            (Bytes{0x14, 0x00, 0x01, 0x00, 0x07, 0x00, 0x01, 0x5e, 0x0b, 0x38, 0xc1, 0xa4, 0x02}));
  EXPECT_EQ(mgmt::encode_get_connections(kIndex), (Bytes{0x15, 0x00, 0x01, 0x00, 0x00, 0x00}));
  const Bytes two = connections({kOther, kMonitor});
  const auto links = mgmt::decode_connections(two);
  ASSERT_TRUE(links);
  ASSERT_EQ(links->size(), 2u);
  EXPECT_EQ((*links)[1], p.address);
  // A count that does not match the length is refused, not read past.
  Bytes wrong = two;
  wrong[0] = 3;
  EXPECT_FALSE(mgmt::decode_connections(wrong));
  EXPECT_FALSE(mgmt::decode_connections(Bytes{0x01}));
  EXPECT_FALSE(mgmt::decode_address_type(Bytes{1, 2, 3, 4, 5, 6}));
}

// ---- the link budget: a slot free when its link is gone ----

TEST(LinkBudgetGone, TheSlotIsFreeWhenTheLinkIsGoneNotAfterTheLinger) {
  EventLoop loop;
  LinkBudget budget(loop, "hci1", 1, 10s);  // a linger no test waits for
  bool first = false, second = false;
  const auto t1 = budget.acquire([&] { first = true; });
  budget.acquire([&] { second = true; });
  ASSERT_TRUE(loop.run_until([&] { return first; }, 1s));
  const auto gone = budget.release_until_gone(t1, 100ms);
  loop.run_until([] { return false; }, 100ms);
  EXPECT_FALSE(second);  // the link is still the controller's
  EXPECT_EQ(budget.in_use(), 1u);
  gone();
  ASSERT_TRUE(loop.run_until([&] { return second; }, 1s));
  EXPECT_EQ(budget.in_use(), 1u);  // the second's, nothing lingering
  gone();                          // twice: nothing more
  EXPECT_EQ(budget.in_use(), 1u);
}

TEST(LinkBudgetGone, ALostEventHoldsTheSlotOnlyUntilTheBound) {
  EventLoop loop;
  LinkBudget budget(loop, "hci1", 1, 200ms);
  bool first = false, second = false;
  const auto t1 = budget.acquire([&] { first = true; });
  budget.acquire([&] { second = true; });
  ASSERT_TRUE(loop.run_until([&] { return first; }, 1s));
  const auto gone = budget.release_until_gone(t1, 100ms);
  ASSERT_TRUE(loop.run_until([&] { return second; }, 2s));  // gone() never called
  EXPECT_EQ(budget.in_use(), 1u);
  gone();  // the event, late: the slot is not freed twice
  EXPECT_EQ(budget.in_use(), 1u);
}

}  // namespace
}  // namespace bm6
