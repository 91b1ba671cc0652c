// The ATT bearer's transaction queue (transport/transaction_queue.h): in order, at most one
// in flight, its timer armed from the send to the answer.
#include <gtest/gtest.h>

#include <string>

#include "transport/event_loop.h"
#include "transport/transaction_queue.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;

TEST(TransactionQueue, OneInFlightInOrderWithItsOwnTimer) {
  EventLoop loop;
  TransactionQueue<std::string> q(loop);
  EXPECT_EQ(q.next_to_send(), nullptr);
  q.enqueue("first");
  q.enqueue("second");
  std::string* t = q.next_to_send();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(*t, "first");
  EXPECT_TRUE(q.unsent());
  EXPECT_EQ(q.awaiting(), nullptr);
  EXPECT_EQ(q.next_to_send(), t);  // not sent (the socket was full): still the first
  int timeouts = 0;
  q.sent(10s, [&] { ++timeouts; });
  EXPECT_FALSE(q.unsent());
  EXPECT_EQ(q.next_to_send(), nullptr);  // the second waits for the first's answer
  ASSERT_NE(q.awaiting(), nullptr);
  EXPECT_EQ(q.complete(), "first");
  ASSERT_NE(q.next_to_send(), nullptr);
  EXPECT_EQ(*q.next_to_send(), "second");
  q.sent(1ms, [&] { ++timeouts; });
  // The second's timer fires; the first's was stopped by its answer.
  EXPECT_TRUE(loop.run_until([&] { return timeouts == 1; }, 5s));
}

TEST(TransactionQueue, ClearDropsEverythingAndStopsTheTimer) {
  EventLoop loop;
  TransactionQueue<std::string> q(loop);
  q.enqueue("a");
  q.enqueue("b");
  q.next_to_send();
  int timeouts = 0;
  q.sent(1ms, [&] { ++timeouts; });
  q.clear();
  EXPECT_EQ(q.awaiting(), nullptr);
  EXPECT_EQ(q.next_to_send(), nullptr);
  loop.run_once(20ms);
  EXPECT_EQ(timeouts, 0);
}

}  // namespace
}  // namespace bm6
