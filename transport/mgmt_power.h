// Power-cycling a controller through the kernel's management interface: Set Powered
// (0x0005) off, and once the kernel has answered, on (BlueZ doc/mgmt-api.txt). Powering
// off drops every link on the controller; powering on runs the kernel's controller set-up
// again (an HCI Reset first), which is what clears a controller that stopped making links.
// bluetoothd, when running, follows the change through the same interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/mgmt_codec.h"
#include "transport/unique_fd.h"

namespace bm6 {

// One power cycle of one controller, on the loop: start() sends off; the answer sends on;
// the answer to that, an error status, or `timeout` for either answer ends it, and `done`
// runs once from the loop (never inside start()) with the outcome; it may destroy the
// object.
class MgmtPowerCycle {
 public:
  using Done = std::function<void(bool ok, const std::string& detail)>;
  // `control`: a management socket (mgmt::open_control_socket), or a test's peer.
  MgmtPowerCycle(EventLoop& loop, std::uint16_t index, UniqueFd control, Done done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~MgmtPowerCycle();
  MgmtPowerCycle(const MgmtPowerCycle&) = delete;
  MgmtPowerCycle& operator=(const MgmtPowerCycle&) = delete;

  void start();
  bool finished() const { return finished_; }

 private:
  void send_powered(bool on);
  void fail_later(const std::string& detail);
  void on_readable();
  void finish(bool ok, const std::string& detail);

  EventLoop& loop_;
  std::uint16_t index_;
  UniqueFd fd_;
  Done done_;
  std::chrono::milliseconds timeout_;
  Timer deadline_;
  bool watched_ = false;
  bool powering_on_ = false;  // off was answered, on was sent
  bool finished_ = false;
  WeakSelf self_;
};

}  // namespace bm6
