// One long-lived listener for LE advertisements on one adapter, shared by every subscriber
// on it, on the loop thread. It reports (address, address type, RSSI, AD bytes, time) to the
// subscribers of that address; what the bytes mean is the caller's business.
//
// Why the kernel's management interface (mgmt, HCI_CHANNEL_CONTROL), and how:
// - Discovery (Start Discovery) is not used: there is one per adapter and nobody owns it, so
//   running it ourselves stops bluetoothd's (`bluetoothctl scan on`) or gets Busy, and it ends
//   by itself after ~10 s. A raw HCI socket setting scan parameters would fight the kernel.
// - Add Device with action 0x00 ("background scan") per address makes the kernel run its own
//   passive scan with the controller's accept list and report those devices as Device Found,
//   beside bluetoothd's scans and connections: it is how the kernel means a program to follow
//   known devices. Device Found reaches every mgmt socket, so reports of bluetoothd's active
//   discoveries (advertisement and scan response merged) arrive too: the AD bytes are
//   handed over whole, whichever packet carried the data.
// - One advertisement monitor (Add Adv Patterns Monitor), where the kernel monitors in
//   software (no controller offload): its only purpose is that the kernel then scans with
//   the controller's duplicate filter off. With the filter on (Add Device alone), a real
//   controller reports a device once per scan: a monitor whose advertisement does not change
//   would be heard once. Where the controller offloads monitors it would filter by the
//   pattern, and AD of unknown content has none to give: no monitor then (said once).
// - The kernel forgets or stops what we registered in several ways, each seen in a VM:
//   bluetoothd removes every entry and monitor when it starts (Device Removed / Adv Monitor
//   Removed events), an adapter that goes away forgets them (Index Removed, then Index
//   Added), and after a link to a device on this adapter ends the kernel stops reporting it
//   until the entry is removed and added again (Device Disconnected). Each event re-registers
//   what it undid; power on registers everything again (Add Device of a present entry is a
//   no-op). No timers: nothing wakes the loop until the kernel has something to say.
// - Entries outlive the process: the destructor removes them, and with a registration record
//   (transport/registration_record.h) a start after a kill removes those a previous run added
//   and this one does not want; an address it did not add is never removed.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "transport/address.h"
#include "transport/event_loop.h"
#include "transport/link_error.h"
#include "transport/mgmt_codec.h"
#include "transport/receive_batch.h"
#include "transport/registration_record.h"
#include "transport/unique_fd.h"

namespace bm6 {

struct AdvReport {
  BdAddr address{};
  bool random_address = false;
  std::optional<int> rssi_dbm;         // nullopt when the controller has none (127)
  std::span<const std::uint8_t> data;  // the AD (EIR) bytes: valid during the callback only
  // When the batch that carried it was read (one clock read per receive call, not per
  // report: the reports of one batch arrived within microseconds of each other).
  std::chrono::system_clock::time_point received;
  std::chrono::steady_clock::time_point received_steady;  // the same moment, for intervals
};

class AdvScanner {
 public:
  enum class Status {
    kScanning,     // the adapter is up and the first registration went out (said once)
    kAdapterDown,  // powered off, removed, or not there: nothing can be heard
    kAdapterUp,    // back after kAdapterDown; everything registered again
    kError,        // a command failed or the socket cannot be used; each message once
  };
  using StatusHandler = std::function<void(Status, const std::string& detail)>;
  using ReportHandler = std::function<void(const AdvReport&)>;
  // Opens the mgmt socket (non-blocking); invalid with `error` set when it cannot.
  using OpenSocket = std::function<UniqueFd(LinkError& error)>;
  using SubscriptionId = std::uint64_t;

  struct Stats {
    std::uint64_t receives = 0;   // receive calls that took packets (one per batch)
    std::uint64_t events = 0;     // mgmt packets read
    std::uint64_t reports = 0;    // Device Found / Adv Monitor Device Found for this adapter
    std::uint64_t delivered = 0;  // reports handed to a subscriber
    std::uint64_t malformed = 0;  // packets too short or with lengths that do not add up
    std::uint64_t commands = 0;   // commands sent
  };

  AdvScanner(EventLoop& loop, int adapter_index, StatusHandler on_status,
             OpenSocket open = open_mgmt_socket);
  ~AdvScanner();  // removes what it registered with the kernel
  AdvScanner(const AdvScanner&) = delete;
  AdvScanner& operator=(const AdvScanner&) = delete;

  // Keep the addresses registered in the file at `path` (before start()). start() then
  // removes the addresses recorded there that nobody has subscribed to by then.
  void record_registrations_in(std::string path) { record_path_ = std::move(path); }
  // Opens the socket and asks for the adapter's state; registration follows its answer.
  void start();
  // `on_report` runs on the loop for each advertisement from `address`, until unsubscribe().
  SubscriptionId subscribe(const BdAddr& address, bool random_address, ReportHandler on_report);
  void unsubscribe(SubscriptionId id);
  // `on_heard` runs on the loop for every LE advertisement reported on this adapter, from any
  // address, subscribed or not (with the monitor registered the kernel reports every device
  // its scans hear, its own passive scans for pending connects among them). It must not
  // destroy the scanner.
  using HeardHandler = std::function<void(const BdAddr&)>;
  void set_heard_handler(HeardHandler on_heard) { on_heard_ = std::move(on_heard); }

  int adapter_index() const { return index_; }
  bool adapter_up() const { return up_; }
  bool monitor_registered() const { return monitor_handle_ != 0; }
  const Stats& stats() const { return stats_; }

  // The real one: HCI_CHANNEL_CONTROL, all controllers (events are filtered by index).
  static UniqueFd open_mgmt_socket(LinkError& error);

 private:
  struct Subscriber {
    SubscriptionId id;
    ReportHandler on_report;
  };
  struct Entry {
    bool random_address = false;
    std::vector<Subscriber> subscribers;
  };
  // Every report looks its address up: hashed, not a walk down a tree of 1,000 memcmp()s.
  struct AddressHash {
    std::size_t operator()(const BdAddr& a) const noexcept {
      std::uint64_t v = 0;
      for (const std::uint8_t b : a) v = v << 8 | b;
      return static_cast<std::size_t>((v * 0x9e3779b97f4a7c15ull) >> 16);
    }
  };

  // Up to 16 events per recvmmsg(), 4096 bytes each (an extended report fits); a busy
  // socket is served kBatchesPerWakeup batches at a time. Made on the first event.
  using Batch = ReceiveBatch<4096, 16>;
  void on_readable();
  void handle(std::span<const std::uint8_t> packet);
  void on_command_done(std::uint16_t opcode, std::uint8_t status,
                       std::span<const std::uint8_t> reply);
  void on_device_found(const std::optional<mgmt::DeviceFound>& found);
  std::string hci() const { return "hci" + std::to_string(index_); }
  void set_up(bool up, const std::string& why_down);
  void register_all();
  std::vector<std::pair<BdAddr, bool>> entries_in_address_order() const;  // (address, random)
  void add_device(const BdAddr& address, bool random_address);
  bool remove_device(const BdAddr& address, bool random_address);  // false: not sent
  void add_monitor();
  void remove_stale_registrations();
  void record(const BdAddr& address, bool random_address, bool registered);
  void save_record();
  bool send(const std::vector<std::uint8_t>& packet);  // a command (transport/mgmt_codec.h)
  void error_once(const std::string& message);

  EventLoop& loop_;
  const int index_;
  StatusHandler on_status_;
  OpenSocket open_;
  UniqueFd fd_;
  std::unique_ptr<Batch> batch_;  // receive buffers, made on the first event
  std::chrono::system_clock::time_point batch_received_;  // when the current batch was read
  std::chrono::steady_clock::time_point batch_received_steady_;
  std::unordered_map<BdAddr, Entry, AddressHash> entries_;
  std::map<SubscriptionId, BdAddr> by_id_;
  SubscriptionId next_id_ = 1;
  bool up_ = false;
  bool state_known_ = false;  // the first answer about the adapter came
  bool said_scanning_ = false;
  bool down_said_ = false;
  std::uint16_t monitor_handle_ = 0;
  bool monitor_pending_ = false;
  bool monitor_unusable_ = false;  // offloaded or unsupported: Add Device alone
  std::set<std::string> errors_said_;
  std::string record_path_;       // empty: no registration record
  RegisteredAddresses recorded_;  // what the record file says (once start() read it)
  HeardHandler on_heard_;
  Stats stats_;
};

}  // namespace bm6
