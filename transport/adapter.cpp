#include "transport/adapter.h"

#include <algorithm>

namespace bm6 {

Adapter::Ticket Adapter::acquire_connect(std::function<void()> granted) {
  const Ticket ticket = next_++;
  waiting_.push_back({ticket, std::move(granted)});
  grant_next();
  return ticket;
}

void Adapter::release_connect(Ticket ticket) {
  if (holder_ == ticket) {
    holder_ = 0;
    grant_next();
    return;
  }
  std::erase_if(waiting_, [ticket](const Waiter& w) { return w.ticket == ticket; });
}

void Adapter::grant_next() {
  if (holder_ != 0 || waiting_.empty()) return;
  holder_ = waiting_.front().ticket;
  auto granted = std::move(waiting_.front().granted);
  waiting_.pop_front();
  loop_.post([this, self = self_.ref(), ticket = holder_, granted = std::move(granted)] {
    if (self.alive() && holder_ == ticket) granted();
  });
}

Adapter& Adapters::get(int id) {
  auto& a = adapters_[id];
  if (!a) a = std::make_unique<Adapter>(loop_, id);
  return *a;
}

}  // namespace bm6
