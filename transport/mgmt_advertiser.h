// Advertising data of one's own through the kernel's Bluetooth management interface (mgmt
// Add Advertising 0x003E, Remove Advertising 0x003F; BlueZ doc/mgmt-api.txt). The kernel
// then picks the HCI commands (legacy or extended advertising) that its controller and its
// own scanning expect; raw HCI advertising on a 5.0 controller goes unseen by the kernel's
// extended scanning.
//
// Re-adding an existing instance updates it and restarts its advertising at once. A real
// controller repeats an advertisement every interval by itself; an emulated one (btvirt)
// reports an advertiser to scanners only when advertising is switched on, so the advertiser
// can re-add its instances periodically, which also brings them back after another program
// (bluetoothd starting) removed them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/mgmt_codec.h"
#include "transport/mgmt_socket.h"
#include "transport/unique_fd.h"

namespace bm6 {

// Keeps a set of advertising instances added on one adapter while started: adds them at
// start(), again every `refresh` (asking `source` each time, so data that changes is
// advertised as it changes), and removes them at stop() and on destruction. Replies are
// read from the loop; a failure is reported once (not every refresh) until an add succeeds,
// except Busy, which the next refresh retries.
class MgmtAdvertiser {
 public:
  using Source = std::function<std::vector<mgmt::AdvertisingInstance>()>;
  using ProblemHandler = std::function<void(const std::string& problem)>;
  struct Options {
    std::uint16_t index = 0;                 // the adapter, as in hciN
    std::chrono::milliseconds refresh{150};  // 0: add only at start()
  };
  struct Stats {
    std::uint64_t adds_sent = 0;
    std::uint64_t removes_sent = 0;
    std::uint64_t failures = 0;  // replies with an error status, and writes that failed
  };

  // `control`: a management socket (mgmt::open_control_socket), or a test's peer.
  // `on_problem` runs from start(), stop() and the loop; it must not destroy the advertiser.
  MgmtAdvertiser(EventLoop& loop, UniqueFd control, Options options, Source source,
                 ProblemHandler on_problem);
  ~MgmtAdvertiser();
  MgmtAdvertiser(const MgmtAdvertiser&) = delete;
  MgmtAdvertiser& operator=(const MgmtAdvertiser&) = delete;

  void start();  // adds now, then every refresh; does nothing while started
  void stop();   // removes what was added; nothing more until start()
  bool started() const { return started_; }
  const Stats& stats() const { return stats_; }

 private:
  void add_all();
  void remove_all();
  void send(const std::vector<std::uint8_t>& packet, const char* what);
  void on_readable();
  void problem(const std::string& text);

  EventLoop& loop_;
  UniqueFd fd_;
  Options options_;
  Source source_;
  ProblemHandler on_problem_;
  Timer refresh_;
  std::vector<std::uint8_t> added_;  // instance ids added and not removed
  bool started_ = false;
  bool reported_ = false;  // a problem was reported and nothing succeeded since
  Stats stats_;
  WeakSelf self_;
};

}  // namespace bm6
