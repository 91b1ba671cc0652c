// Everything the plugin runs on its I/O thread: one event loop, every device.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "device/bm6_device.h"
#include "device/link_budget.h"
#include "device/passive_device.h"
#include "transport/adv_scanner.h"
#include "transport/event_loop.h"

namespace bm6 {

class Bm6Engine {
 public:
  // Throws std::invalid_argument naming the device if an address cannot be used, naming
  // the adapter if it has more persistent devices than its MaxLinks, and std::system_error
  // if the loop cannot be created.
  Bm6Engine(const std::vector<DeviceOptions>& devices, Bm6Device::EventHandler on_event);
  // With passive devices: what their adapters' scanners have to say (adapter down and up,
  // errors), how the scanners open their mgmt socket (tests pass a fake one), and the
  // directory where each keeps its registration record (passive-hciN.registered: what it
  // registered with the kernel, removed at the next start if a kill left it; empty: none).
  using ScannerHandler =
      std::function<void(int adapter, AdvScanner::Status, const std::string& detail)>;
  Bm6Engine(const std::vector<DeviceOptions>& devices, Bm6Device::EventHandler on_event,
            ScannerHandler on_scanner,
            AdvScanner::OpenSocket open_mgmt = AdvScanner::open_mgmt_socket,
            const std::string& record_dir = {});
  ~Bm6Engine();

  std::shared_ptr<ReadingSlot> slot(const std::string& device) const;
  // Loop thread: starts every device and runs until stop(); closes every link on the way out.
  void run();
  // Any thread.
  void stop() { loop_.stop(); }
  EventLoop& loop() { return loop_; }
  // Loop thread (or after run()): the link budget of `adapter` ("hci0", "unix"), if used.
  const LinkBudget* budget(const std::string& adapter) const;
  const Bm6Device* device(const std::string& name) const;

 private:
  void add_passive(const DeviceOptions& options, const Bm6Device::EventHandler& on_event,
                   const ScannerHandler& on_scanner, const AdvScanner::OpenSocket& open_mgmt,
                   const std::string& record_dir);
  void clean_up_records(const std::string& record_dir, const ScannerHandler& on_scanner,
                        const AdvScanner::OpenSocket& open_mgmt);
  AdvScanner& scanner_for(int index, const ScannerHandler& on_scanner,
                          const AdvScanner::OpenSocket& open_mgmt, const std::string& record_dir);

  EventLoop loop_;
  Adapters adapters_{loop_};
  // One scanner per adapter with passive devices, made before and destroyed after them.
  std::map<int, std::unique_ptr<AdvScanner>> scanners_;
  // Before the devices, which hold pointers to them.
  std::map<std::string, std::unique_ptr<LinkBudget>> budgets_;
  std::vector<std::unique_ptr<Bm6Device>> devices_;
  std::vector<std::unique_ptr<PassiveDevice>> passive_;
  std::map<std::string, std::shared_ptr<ReadingSlot>> slots_;
};

}  // namespace bm6
