#include "transport/adapter.h"

namespace bm6 {

Adapter::Ticket Adapter::acquire_connect(std::function<void()> granted) {
  const Ticket ticket = connects_.enqueue(std::move(granted));
  connects_.grant(1);
  return ticket;
}

void Adapter::release_connect(Ticket ticket) {
  if (connects_.release(ticket)) connects_.grant(1);
}

Adapter& Adapters::get(int id) {
  auto& a = adapters_[id];
  if (!a) a = std::make_unique<Adapter>(loop_, id);
  return *a;
}

}  // namespace bm6
