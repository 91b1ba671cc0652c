#include "tools/sim/advertising.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>

#include <cerrno>
#include <system_error>

#include "transport/address.h"
#include "transport/advertising_data.h"

namespace bm6::sim {

std::vector<mgmt::AdvertisingInstance> advertising_instances(FamilyCodec& codec, Family model,
                                                             const Reading& reading,
                                                             const BdAddr& address) {
  AdvertisedReading r;
  r.centivolts = reading.centivolts;
  r.soc_percent = reading.soc_percent;
  if (traits(model).advert.state_and_byte10) {
    r.state = reading.state;
    // Byte 10's meaning is unconfirmed: the simulator puts its temperature there (0-127),
    // as the decoders that read it as one assume, so the PassiveTemperature opt-in can be
    // tried; real units have shown only 1-7 there.
    const int t = reading.temperature_c.value_or(-1);
    if (t >= 0 && t < 0x80) r.byte10 = static_cast<std::uint8_t>(t);
  }
  const auto block = encode_advertisement(codec, r, address);
  if (!block) return {};
  const std::string name = gap_name(model);
  std::vector<std::uint8_t> scan_rsp;
  ad::append(scan_rsp, ad::kCompleteName,
             {reinterpret_cast<const std::uint8_t*>(name.data()), name.size()});
  const std::uint32_t flags = mgmt::kAdvConnectable | mgmt::kAdvDiscoverable;

  mgmt::AdvertisingInstance encrypted{
      kEncryptedInstance, flags, {}, scan_rsp, kAdvertisingTimeoutS};
  const std::uint8_t fff0[] = {0xf0, 0xff};
  ad::append(encrypted.adv_data, ad::kUuid16Complete, fff0);
  ad::append(encrypted.adv_data, ad::kManufacturerData, *block);
  std::vector<mgmt::AdvertisingInstance> out{encrypted};
  if (traits(model).advertises_ibeacon) {
    mgmt::AdvertisingInstance beacon{kBeaconInstance, flags, {}, scan_rsp, kAdvertisingTimeoutS};
    ad::append(beacon.adv_data, ad::kManufacturerData, encode_ibeacon(reading.soc_percent));
    out.push_back(std::move(beacon));
  }
  return out;
}

AdapterIdentity adapter_identity(const std::string& adapter) {
  const auto parsed = AdapterId::parse(adapter);
  const int id = parsed ? parsed->index() : -1;
  if (id < 0) throw std::system_error(ENODEV, std::generic_category(), "no adapter " + adapter);
  bdaddr_t local{};
  if (::hci_devba(id, &local) != 0)
    throw std::system_error(errno, std::generic_category(), "adapter " + adapter + " is not up");
  return {static_cast<std::uint16_t>(id),
          bdaddr_from_lsb_first(std::span<const std::uint8_t, 6>(local.b, 6))};
}

SimAdvertiser::SimAdvertiser(EventLoop& loop, UniqueFd control, const AdapterIdentity& adapter,
                             const SimDevice& device, std::chrono::milliseconds refresh,
                             std::function<void(const std::string&)> on_problem)
    : device_(device),
      address_(adapter.address),
      codec_(std::make_unique<FamilyCodec>(device.model)),
      advertiser_(
          loop, std::move(control), {adapter.index, refresh},
          [this] {
            // The CLI keeps readings within what the model carries; a cycle swinging past
            // it is advertised as the configured reading, as the stream does.
            const Reading now =
                reading_at(device_, std::chrono::steady_clock::now() - device_.epoch);
            auto instances = advertising_instances(*codec_, device_.model, now, address_);
            if (instances.empty())
              instances = advertising_instances(*codec_, device_.model, device_.reading, address_);
            return instances;
          },
          std::move(on_problem)) {}

}  // namespace bm6::sim
