// The turn queue (transport/turn_queue.h) and the receive batch (transport/receive_batch.h),
// each written once for its two users (Adapter and LinkBudget; AttBearer and AdvScanner).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <vector>

#include "transport/event_loop.h"
#include "transport/receive_batch.h"
#include "transport/turn_queue.h"
#include "transport/unique_fd.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;

TEST(TurnQueue, TurnsComeInOrderThroughTheLoopUpToTheOwnersLimit) {
  EventLoop loop;
  TurnQueue turns(loop);
  std::vector<int> granted;
  const auto a = turns.enqueue([&] { granted.push_back(1); });
  turns.enqueue([&] { granted.push_back(2); });
  turns.enqueue([&] { granted.push_back(3); });
  EXPECT_EQ(turns.waiting(), 3u);
  EXPECT_EQ(turns.grant(2), 2u);
  EXPECT_EQ(turns.grant(2), 0u);  // two held already
  EXPECT_TRUE(granted.empty());   // never inside grant()
  EXPECT_EQ(turns.holding(), 2u);
  EXPECT_EQ(turns.waiting(), 1u);
  loop.run_once(0ms);
  EXPECT_EQ(granted, (std::vector<int>{1, 2}));
  EXPECT_TRUE(turns.release(a));
  EXPECT_EQ(turns.grant(2), 1u);
  loop.run_once(0ms);
  EXPECT_EQ(granted, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(turns.release(a));  // given back already
}

TEST(TurnQueue, ATicketGivenBackBeforeItsTurnRunsNeverRuns) {
  EventLoop loop;
  TurnQueue turns(loop);
  int runs = 0;
  const auto held = turns.enqueue([&] { ++runs; });
  const auto waiting = turns.enqueue([&] { ++runs; });
  EXPECT_EQ(turns.grant(1), 1u);
  EXPECT_TRUE(turns.release(held));  // granted, but the loop has not run it yet
  EXPECT_FALSE(turns.release(waiting));
  EXPECT_EQ(turns.waiting(), 0u);
  EXPECT_EQ(turns.grant(1), 0u);
  loop.run_once(0ms);
  EXPECT_EQ(runs, 0);
}

TEST(TurnQueue, ATurnPendingWhenTheQueueGoesDoesNotRun) {
  EventLoop loop;
  int runs = 0;
  {
    TurnQueue turns(loop);
    turns.enqueue([&] { ++runs; });
    turns.grant(1);
  }
  loop.run_once(0ms);
  EXPECT_EQ(runs, 0);
}

TEST(ReceiveBatch, TakesUpToItsCountAndShowsWhatDidNotFit) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd ours(fds[0]), theirs(fds[1]);
  for (const std::string d : {"abc", "0123456789", "x"})
    ASSERT_EQ(::send(theirs.get(), d.data(), d.size(), 0), static_cast<ssize_t>(d.size()));
  ReceiveBatch<8, 2> batch;
  ASSERT_EQ(batch.receive(ours.get()), 2);  // full: the rest waits for the next call
  EXPECT_EQ(batch[0].length, 3u);
  EXPECT_FALSE(batch[0].truncated);
  EXPECT_EQ(std::string(batch[0].bytes.begin(), batch[0].bytes.end()), "abc");
  EXPECT_EQ(batch[1].length, 10u);  // its real size
  EXPECT_TRUE(batch[1].truncated);
  EXPECT_EQ(std::string(batch[1].bytes.begin(), batch[1].bytes.end()), "01234567");
  ASSERT_EQ(batch.receive(ours.get()), 1);  // fewer than its count: drained
  EXPECT_EQ(std::string(batch[0].bytes.begin(), batch[0].bytes.end()), "x");
  EXPECT_EQ(batch.receive(ours.get()), -1);
  EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
  theirs.reset();  // the peer's end closed: zero-length datagrams (EOF)
  ASSERT_GE(batch.receive(ours.get()), 1);
  EXPECT_EQ(batch[0].length, 0u);
  EXPECT_TRUE(batch[0].bytes.empty());
}

}  // namespace
}  // namespace bm6
