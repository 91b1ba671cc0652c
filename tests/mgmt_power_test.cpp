// MgmtPowerCycle against a fake kernel (mgmt over a SOCK_SEQPACKET pair): Set Powered off,
// then on only once off was answered; errors, silence and a controller that stays off.
#include "transport/mgmt_power.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include "mgmt_fake.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::FakeMgmt;

constexpr std::uint16_t kIndex = 1;
constexpr std::uint16_t kSetPowered = 0x0005;

void spin(EventLoop& loop) {
  for (int i = 0; i < 5; ++i) loop.run_once(10ms);
}

struct Fixture {
  EventLoop loop;
  FakeMgmt kernel;
  std::optional<std::pair<bool, std::string>> outcome;
  int calls = 0;
  std::unique_ptr<MgmtPowerCycle> cycle;

  explicit Fixture(std::chrono::milliseconds timeout = 10s) {
    LinkError error;
    cycle = std::make_unique<MgmtPowerCycle>(
        loop, kIndex, kernel.opener()(error),
        [this](bool ok, const std::string& detail) {
          ++calls;
          outcome.emplace(ok, detail);
          cycle.reset();  // the engine drops it from its callback
        },
        timeout);
  }
  // Command Complete for Set Powered with Current_Settings' powered bit.
  void answer(std::uint16_t index, bool powered, std::uint8_t status = 0) {
    kernel.complete(index, kSetPowered, status, {static_cast<std::uint8_t>(powered), 0, 0, 0});
  }
};

TEST(MgmtPowerCycle, EncodesSetPowered) {
  EXPECT_EQ(mgmt::encode_set_powered(3, true), (std::vector<std::uint8_t>{5, 0, 3, 0, 1, 0, 1}));
  EXPECT_EQ(mgmt::encode_set_powered(0x0102, false),
            (std::vector<std::uint8_t>{5, 0, 2, 1, 1, 0, 0}));
}

TEST(MgmtPowerCycle, OffThenOnAfterTheAnswer) {
  Fixture f;
  f.cycle->start();
  spin(f.loop);
  auto sent = f.kernel.commands();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].opcode, kSetPowered);
  EXPECT_EQ(sent[0].index, kIndex);
  EXPECT_EQ(sent[0].params, Bytes{0});
  // Events of other controllers and other commands are not the answer.
  f.answer(0, false);
  f.kernel.complete(kIndex, 0x0004, 0, Bytes(280, 0));
  f.kernel.device_found(kIndex, {1, 2, 3, 4, 5, 6}, -60, {0x02, 0x01, 0x06});
  spin(f.loop);
  EXPECT_TRUE(f.kernel.commands().empty());
  EXPECT_FALSE(f.outcome);
  f.answer(kIndex, false);
  spin(f.loop);
  sent = f.kernel.commands();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].params, Bytes{1});
  EXPECT_FALSE(f.outcome);
  f.answer(kIndex, true);
  spin(f.loop);
  ASSERT_TRUE(f.outcome);
  EXPECT_TRUE(f.outcome->first) << f.outcome->second;
  EXPECT_EQ(f.calls, 1);
}

TEST(MgmtPowerCycle, ErrorStatusEndsIt) {
  Fixture f;
  f.cycle->start();
  spin(f.loop);
  f.kernel.commands();
  f.answer(kIndex, true, 0x0a);  // Busy
  spin(f.loop);
  ASSERT_TRUE(f.outcome);
  EXPECT_FALSE(f.outcome->first);
  EXPECT_NE(f.outcome->second.find("Set Powered off: busy"), std::string::npos)
      << f.outcome->second;
  EXPECT_TRUE(f.kernel.commands().empty());  // not powered on after a failed off
}

TEST(MgmtPowerCycle, ControllerThatStaysOffIsAFailure) {
  Fixture f;
  f.cycle->start();
  spin(f.loop);
  f.answer(kIndex, false);
  spin(f.loop);
  f.answer(kIndex, false);  // "on" answered with the powered bit clear
  spin(f.loop);
  ASSERT_TRUE(f.outcome);
  EXPECT_FALSE(f.outcome->first);
  EXPECT_NE(f.outcome->second.find("stayed off"), std::string::npos);
}

TEST(MgmtPowerCycle, NoAnswerTimesOut) {
  Fixture f(50ms);
  f.cycle->start();
  ASSERT_TRUE(f.loop.run_until([&] { return f.outcome.has_value(); }, 5000ms));
  EXPECT_FALSE(f.outcome->first);
  EXPECT_NE(f.outcome->second.find("Set Powered off: no answer"), std::string::npos);
}

TEST(MgmtPowerCycle, NoSocketFailsFromTheLoopNotFromStart) {
  EventLoop loop;
  std::optional<bool> ok;
  MgmtPowerCycle cycle(loop, kIndex, UniqueFd(), [&](bool o, const std::string&) { ok = o; });
  cycle.start();
  EXPECT_FALSE(ok);  // not inside start()
  spin(loop);
  ASSERT_TRUE(ok);
  EXPECT_FALSE(*ok);
}

}  // namespace
}  // namespace bm6
