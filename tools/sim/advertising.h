// What a simulated monitor broadcasts while no central holds it, as a BM6 does: the
// encrypted manufacturer data (protocol/advertisement.h) with service FFF0, the name in the
// scan response, and, from a BM6 or BM7, the iBeacon carrying the state of charge. They do
// not fit in one 31-byte advertisement; a BM6 alternates them, so they are two instances.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/advertisement.h"
#include "protocol/family.h"
#include "tools/sim/bm6_peripheral.h"
#include "transport/event_loop.h"
#include "transport/mgmt_advertiser.h"

namespace bm6::sim {

// Instance ids (the adapter's first two: a BM6 has no other advertising).
inline constexpr std::uint8_t kEncryptedInstance = 1;
inline constexpr std::uint8_t kBeaconInstance = 2;
// How often the instances are re-added while no central is connected: an emulated
// controller (btvirt) shows an advertiser to scanners only when advertising starts, so this
// stands in for an advertising interval (a BM6's is about 100 ms or more).
inline constexpr std::chrono::milliseconds kAdvertisingRefresh{150};
// The instances' lifetime in the kernel, renewed by every refresh: a simulator that is killed
// (SIGKILL, no clean-up) stops advertising this long after.
inline constexpr std::uint16_t kAdvertisingTimeoutS = 3;

// The instances for `reading` of `device.model` advertised from `address`: connectable (the
// identity address, which the encrypted data must carry) and discoverable. Empty when the
// family cannot carry the reading (no state for a BM6, say).
std::vector<mgmt::AdvertisingInstance> advertising_instances(FamilyCodec& codec, Family model,
                                                             const Reading& reading,
                                                             const BdAddr& address);

// The adapter an --l2cap device is served on: its index and public address. Throws
// std::system_error with a readable message, as listen_l2cap does.
struct AdapterIdentity {
  std::uint16_t index = 0;
  BdAddr address{};
};
AdapterIdentity adapter_identity(const std::string& adapter);

// Advertises `device` on an adapter from start() on while no central is connected: the
// reading of the moment (reading_at) at every refresh; stopped by central_connected() and
// set_in_range(false), resumed by central_disconnected() and set_in_range(true).
class SimAdvertiser {
 public:
  SimAdvertiser(EventLoop& loop, UniqueFd control, const AdapterIdentity& adapter,
                const SimDevice& device, std::chrono::milliseconds refresh,
                std::function<void(const std::string&)> on_problem);
  // Starts advertising unless a central is connected or the device is out of range.
  void start() {
    if (!connected_ && in_range_) advertiser_.start();
  }
  void central_connected() {
    connected_ = true;
    advertiser_.stop();
  }
  void central_disconnected() {
    connected_ = false;
    if (in_range_) advertiser_.start();
  }
  // A monitor out of range is not heard: nothing advertised, so no central connects (a
  // connect waits until it gives up, as on a radio), until it is back.
  void set_in_range(bool in_range) {
    in_range_ = in_range;
    if (!in_range_)
      advertiser_.stop();
    else if (!connected_)
      advertiser_.start();
  }
  const MgmtAdvertiser& advertiser() const { return advertiser_; }

 private:
  SimDevice device_;
  BdAddr address_;
  std::unique_ptr<FamilyCodec> codec_;  // the model's key, for the advertiser's source
  MgmtAdvertiser advertiser_;
  bool connected_ = false;
  bool in_range_ = true;
};

}  // namespace bm6::sim
