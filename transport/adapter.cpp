#include "transport/adapter.h"

#include "transport/mgmt_socket.h"

namespace bm6 {

Adapter::Ticket Adapter::acquire_connect(std::function<void()> granted) {
  const Ticket ticket = connects_.enqueue(std::move(granted));
  connects_.grant(1);
  return ticket;
}

void Adapter::release_connect(Ticket ticket) {
  if (connects_.release(ticket)) connects_.grant(1);
}

MgmtLinks& Adapters::links() {
  if (!links_) {
    auto open = open_links_ ? open_links_ : [](LinkError& error) {
      return mgmt::open_control_socket(
          error, "ending per-read links at once needs CAP_NET_ADMIN (as passive mode)");
    };
    links_ = std::make_unique<MgmtLinks>(loop_, std::move(open));
  }
  return *links_;
}

Adapter& Adapters::get(int id) {
  auto& a = adapters_[id];
  if (!a) a = std::make_unique<Adapter>(loop_, id);
  return *a;
}

}  // namespace bm6
