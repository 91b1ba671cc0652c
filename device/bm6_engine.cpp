#include "device/bm6_engine.h"

#include <stdexcept>

namespace bm6 {

Bm6Engine::Bm6Engine(const std::vector<DeviceOptions>& devices, Bm6Device::EventHandler on_event) {
  for (const auto& options : devices) {
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
  loop_.run();
  for (auto& d : devices_) d->stop();
}

}  // namespace bm6
