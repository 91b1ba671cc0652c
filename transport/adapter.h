// One Bluetooth controller as the users of one loop share it. Its owner is the place for
// what is per controller: connects go one at a time (controllers and the kernel misbehave
// with several pending; attempts wait their turn in order, and the turn comes through the
// loop), and the HCI RSSI reader.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "transport/event_loop.h"
#include "transport/hci_rssi.h"
#include "transport/mgmt_links.h"
#include "transport/turn_queue.h"

namespace bm6 {

class Adapter {
 public:
  using Ticket = TurnQueue::Ticket;
  Adapter(EventLoop& loop, int id) : id_(id), rssi_(loop, id), connects_(loop) {}
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  int id() const { return id_; }
  // Queues for the right to connect; `granted` runs from the loop when it is this ticket's
  // turn, never inside acquire_connect() or release_connect().
  Ticket acquire_connect(std::function<void()> granted);
  // Gives up a ticket, waiting or granted; the next in line gets its turn.
  void release_connect(Ticket ticket);
  HciRssi& rssi() { return rssi_; }

 private:
  int id_;
  HciRssi rssi_;
  TurnQueue connects_;  // one turn at a time
};

// The adapters one loop uses, by kernel index, made on first use.
class Adapters {
 public:
  explicit Adapters(EventLoop& loop) : loop_(loop) {}
  Adapter& get(int id);
  // Ending the links the loop's connects made (transport/mgmt_links.h), made on first use;
  // `open` replaces the kernel's control socket (tests).
  MgmtLinks& links();
  void set_links_socket(MgmtLinks::OpenSocket open) { open_links_ = std::move(open); }

 private:
  EventLoop& loop_;
  MgmtLinks::OpenSocket open_links_;
  std::unique_ptr<MgmtLinks> links_;
  std::map<int, std::unique_ptr<Adapter>> adapters_;
};

}  // namespace bm6
