// Turns handed out in the order they were asked for (FIFO: none is passed over for ever), on
// one loop. A ticket waits until its owner grants turns; its `granted` then runs from the
// loop, never inside enqueue(), grant() or release(), and not at all if the ticket was
// given back meanwhile. How many turns may be held at once is the owner's to say: a
// controller's connects go one at a time (Adapter), an adapter's links as its budget allows
// (device/link_budget.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "transport/event_loop.h"
#include "transport/lifetime.h"

namespace bm6 {

class TurnQueue {
 public:
  using Ticket = std::uint64_t;  // never 0
  explicit TurnQueue(EventLoop& loop) : loop_(loop) {}
  TurnQueue(const TurnQueue&) = delete;
  TurnQueue& operator=(const TurnQueue&) = delete;

  // Queues a ticket at the end of the line; it holds no turn until grant() gives it one.
  Ticket enqueue(std::function<void()> granted);
  // Gives turns to the first in line while fewer than `limit` are held; returns how many.
  unsigned grant(std::size_t limit);
  // Gives a ticket back. True if it held a turn (the owner may then grant the next); false if
  // it was waiting (it leaves the line) or is not known.
  bool release(Ticket ticket);

  std::size_t holding() const { return holders_.size(); }
  std::size_t waiting() const { return waiting_.size(); }

 private:
  struct Waiter {
    Ticket ticket;
    std::function<void()> granted;
  };
  bool holds(Ticket ticket) const;

  EventLoop& loop_;
  Ticket next_ = 1;
  std::vector<Ticket> holders_;
  std::deque<Waiter> waiting_;
  WeakSelf self_;
};

}  // namespace bm6
