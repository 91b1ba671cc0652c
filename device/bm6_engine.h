// Everything the plugin runs on its I/O thread: one event loop, every device.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "device/adapter_watch.h"
#include "device/bm6_device.h"
#include "device/link_budget.h"
#include "device/link_limits.h"
#include "device/passive_device.h"
#include "transport/adv_scanner.h"
#include "transport/event_loop.h"
#include "transport/mgmt_power.h"

namespace bm6 {

class Bm6Engine {
 public:
  // `limits`: each adapter's MaxLinks (device/link_limits.h). Throws std::invalid_argument
  // naming the device if it cannot be used, the first of link_limit_problems() if there are
  // any (a configuration that passed them does not fail here), and std::system_error if the
  // loop cannot be created.
  Bm6Engine(const std::vector<DeviceOptions>& devices, const LinkLimits& limits,
            Bm6Device::EventHandler on_event);
  // With passive devices: what their adapters' scanners have to say (adapter down and up,
  // errors), how the scanners open their mgmt socket (tests pass a fake one), and the
  // directory where each keeps its registration record (passive-hciN.registered: what it
  // registered with the kernel, removed at the next start if a kill left it; empty: none).
  using ScannerHandler =
      std::function<void(int adapter, AdvScanner::Status, const std::string& detail)>;
  Bm6Engine(const std::vector<DeviceOptions>& devices, const LinkLimits& limits,
            Bm6Device::EventHandler on_event, ScannerHandler on_scanner,
            AdvScanner::OpenSocket open_mgmt = AdvScanner::open_mgmt_socket,
            const std::string& record_dir = {});
  ~Bm6Engine();

  std::shared_ptr<ReadingSlot> slot(const std::string& device) const;
  // Loop thread: starts every device and runs until stop(); closes every link on the way out.
  void run();
  // Any thread.
  void stop() { loop_.stop(); }
  EventLoop& loop() { return loop_; }
  // Loop thread (or after run()): the link budget of `adapter`, if used.
  const LinkBudget* budget(const AdapterId& adapter) const;
  const Bm6Device* device(const std::string& name) const;

  // Stuck adapters (device/adapter_watch.h): every Bluetooth adapter with connected devices
  // is watched; what its watch says goes to `on_note` (loop thread), and a kReset
  // power-cycles the controller through a management socket from `open_mgmt`. Before run().
  using AdapterHandler =
      std::function<void(const AdapterId& adapter, const AdapterWatch::Note& note)>;
  void set_adapter_handler(AdapterHandler on_note,
                           AdvScanner::OpenSocket open_mgmt = AdvScanner::open_mgmt_socket);
  // The watch's options for `adapter`; false when no connected device uses it.
  bool set_adapter_options(const AdapterId& adapter, const AdapterWatch::Options& options);
  const AdapterWatch* adapter_watch(const AdapterId& adapter) const;

 private:
  void add_passive(const DeviceOptions& options, const Bm6Device::EventHandler& on_event,
                   const ScannerHandler& on_scanner, const AdvScanner::OpenSocket& open_mgmt,
                   const std::string& record_dir);
  void clean_up_records(const std::string& record_dir, const ScannerHandler& on_scanner,
                        const AdvScanner::OpenSocket& open_mgmt);
  void add_connected(const DeviceOptions& options, const Bm6Device::EventHandler& on_event);
  AdvScanner& scanner_for(const AdapterId& adapter, const ScannerHandler& on_scanner,
                          const AdvScanner::OpenSocket& open_mgmt, const std::string& record_dir);
  struct WatchedAdapter {
    AdapterWatch watch;
    std::unique_ptr<MgmtPowerCycle> reset;  // while one runs
  };
  void on_adapter_event(const AdapterId& adapter, const std::string& device,
                        const DeviceReport& report);
  void handle_adapter_notes(const AdapterId& adapter, std::vector<AdapterWatch::Note> notes);
  void reset_adapter(const AdapterId& adapter);
  void feed_heard();
  Bm6Device::EventHandler watched(const AdapterId& adapter, Bm6Device::EventHandler on_event);

  EventLoop loop_;
  Adapters adapters_{loop_};
  // Before the devices, whose event handlers feed them.
  std::map<AdapterId, WatchedAdapter> watched_;  // Bluetooth adapters with connected devices
  AdapterHandler on_adapter_note_;
  AdvScanner::OpenSocket open_reset_socket_ = AdvScanner::open_mgmt_socket;
  // One scanner per adapter with passive devices, made before and destroyed after them.
  std::map<AdapterId, std::unique_ptr<AdvScanner>> scanners_;
  // Before the devices, which hold pointers to them.
  std::map<AdapterId, std::unique_ptr<LinkBudget>> budgets_;
  std::vector<std::unique_ptr<Bm6Device>> devices_;
  std::vector<std::unique_ptr<PassiveDevice>> passive_;
  std::map<std::string, std::shared_ptr<ReadingSlot>> slots_;
};

}  // namespace bm6
