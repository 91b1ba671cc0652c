#include "transport/turn_queue.h"

#include <algorithm>

namespace bm6 {

TurnQueue::Ticket TurnQueue::enqueue(std::function<void()> granted) {
  const Ticket ticket = next_++;
  waiting_.push_back({ticket, std::move(granted)});
  return ticket;
}

unsigned TurnQueue::grant(std::size_t limit) {
  unsigned given = 0;
  while (!waiting_.empty() && holders_.size() < limit) {
    Waiter w = std::move(waiting_.front());
    waiting_.pop_front();
    holders_.push_back(w.ticket);
    ++given;
    loop_.post([this, self = self_.ref(), ticket = w.ticket, granted = std::move(w.granted)] {
      // Given back before its turn came through the loop: nothing to do.
      if (self.alive() && holds(ticket)) granted();
    });
  }
  return given;
}

bool TurnQueue::release(Ticket ticket) {
  const auto it = std::find(holders_.begin(), holders_.end(), ticket);
  if (it == holders_.end()) {
    std::erase_if(waiting_, [ticket](const Waiter& w) { return w.ticket == ticket; });
    return false;
  }
  holders_.erase(it);
  return true;
}

bool TurnQueue::holds(Ticket ticket) const {
  return std::find(holders_.begin(), holders_.end(), ticket) != holders_.end();
}

}  // namespace bm6
