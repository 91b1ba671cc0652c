#include "device/bm6_engine.h"

#include <stdexcept>

namespace bm6 {

Bm6Engine::Bm6Engine(const std::vector<DeviceOptions>& devices, Bm6Device::EventHandler on_event)
    : Bm6Engine(devices, std::move(on_event), nullptr) {}

Bm6Engine::Bm6Engine(const std::vector<DeviceOptions>& devices, Bm6Device::EventHandler on_event,
                     ScannerHandler on_scanner, AdvScanner::OpenSocket open_mgmt) {
  for (const auto& options : devices) {
    if (options.passive) {
      const int index = AdvScanner::adapter_index(options.adapter);
      if (index < 0)
        throw std::invalid_argument("device \"" + options.name + "\": \"" + options.adapter +
                                    "\" is not an adapter name like \"hci0\"");
      auto& scanner = scanners_[index];
      if (!scanner)
        scanner = std::make_unique<AdvScanner>(
            loop_, index,
            [on_scanner, index](AdvScanner::Status s, const std::string& detail) {
              if (on_scanner) on_scanner(index, s, detail);
            },
            open_mgmt);
      auto slot = std::make_shared<ReadingSlot>();
      slots_[options.name] = slot;
      passive_.push_back(std::make_unique<PassiveDevice>(loop_, options, *scanner, slot, on_event));
      continue;
    }
    std::string error;
    const ConnectorOptions connector_options{.address = options.address,
                                             .adapter = options.adapter,
                                             .random_address = options.random_address,
                                             .timeout = options.connect_timeout};
    auto connector = make_connector(loop_, connector_options, &adapters_, error);
    if (!connector) throw std::invalid_argument("device \"" + options.name + "\": " + error);
    auto slot = std::make_shared<ReadingSlot>();
    slots_[options.name] = slot;
    devices_.push_back(
        std::make_unique<Bm6Device>(loop_, options, std::move(connector), slot, on_event));
  }
}

Bm6Engine::~Bm6Engine() = default;

std::shared_ptr<ReadingSlot> Bm6Engine::slot(const std::string& device) const {
  auto it = slots_.find(device);
  return it == slots_.end() ? nullptr : it->second;
}

void Bm6Engine::run() {
  for (auto& d : devices_) d->start();
  // Subscribed first: the scanner registers every address with its first answer.
  for (auto& d : passive_) d->start();
  for (auto& [index, scanner] : scanners_) scanner->start();
  loop_.run();
  for (auto& d : devices_) d->stop();
  for (auto& d : passive_) d->stop();
}

}  // namespace bm6
