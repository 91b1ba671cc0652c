#include "transport/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace bm6 {
namespace {

using namespace std::chrono_literals;

TEST(EventLoop, TimersFireInDeadlineOrder) {
  EventLoop loop;
  std::vector<int> order;
  loop.add_timer(30ms, [&] { order.push_back(3); });
  loop.add_timer(10ms, [&] { order.push_back(1); });
  loop.add_timer(20ms, [&] { order.push_back(2); });
  ASSERT_TRUE(loop.run_until([&] { return order.size() == 3; }, 2s));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(loop.pending_timers(), 0u);
}

TEST(EventLoop, CancelledTimerDoesNotFire) {
  EventLoop loop;
  bool fired = false, other = false;
  const auto id = loop.add_timer(10ms, [&] { fired = true; });
  loop.add_timer(40ms, [&] { other = true; });
  loop.cancel_timer(id);
  loop.cancel_timer(12345);  // unknown: nothing happens
  ASSERT_TRUE(loop.run_until([&] { return other; }, 2s));
  EXPECT_FALSE(fired);
}

TEST(EventLoop, PostFromAnotherThreadAndStop) {
  EventLoop loop;
  int ran = 0;
  std::thread t([&] {
    for (int i = 0; i < 100; ++i) loop.post([&] { ++ran; });
    loop.stop();
  });
  loop.run();
  t.join();
  loop.run_once(0ms);  // posts that raced with stop()
  EXPECT_EQ(ran, 100);
}

TEST(EventLoop, FdReadinessAndUnwatchInsideCallback) {
  EventLoop loop;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  int calls = 0;
  ASSERT_TRUE(loop.watch(r.get(), EPOLLIN, [&](std::uint32_t ev) {
    EXPECT_TRUE(ev & EPOLLIN);
    ++calls;
    loop.unwatch(r.get());
  }));
  ASSERT_EQ(::write(w.get(), "x", 1), 1);
  loop.run_until([&] { return calls > 0; }, 1s);
  loop.run_once(20ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(loop.watched_fds(), 0u);
}

// A process that was not scheduled past a deadline: the data that came before the loop ran
// again is handled before the deadline, so a timeout never fires over a waiting reply.
TEST(EventLoop, WhatArrivedIsHandledBeforeADeadlineThatPassedMeanwhile) {
  EventLoop loop;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  std::vector<std::string> order;
  ASSERT_TRUE(loop.watch(r.get(), EPOLLIN, [&](std::uint32_t) {
    char c;
    [[maybe_unused]] auto n = ::read(r.get(), &c, 1);
    order.push_back("data");
  }));
  loop.add_timer(5ms, [&] { order.push_back("deadline"); });
  std::this_thread::sleep_for(30ms);       // the deadline passes first,
  ASSERT_EQ(::write(w.get(), "x", 1), 1);  // then the data comes, both before the loop runs
  loop.run_until([&] { return order.size() == 2; }, 1s);
  EXPECT_EQ(order, (std::vector<std::string>{"data", "deadline"}));
}

TEST(EventLoop, IdleLoopDoesNotWakeUp) {
  EventLoop loop;
  // A far timer must not cause wake-ups before it is due.
  loop.add_timer(1h, [] {});
  const auto before = loop.wakeups();
  EXPECT_FALSE(loop.run_until([] { return false; }, 300ms));
  // One wait that ends at the 300 ms limit; rounding may cost one more.
  EXPECT_LE(loop.wakeups() - before, 2u);
}

TEST(EventLoop, TimerAddedFromTimerRuns) {
  EventLoop loop;
  int n = 0;
  std::function<void()> again = [&] {
    if (++n < 5) loop.add_timer(1ms, again);
  };
  loop.add_timer(1ms, again);
  ASSERT_TRUE(loop.run_until([&] { return n == 5; }, 2s));
}

}  // namespace
}  // namespace bm6
