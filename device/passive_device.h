// A monitor read from its advertisements only (Mode "passive"): no link, so the owner's phone
// app stays free and one adapter serves any number of monitors. It subscribes to its
// adapter's AdvScanner, decodes each advertisement of its address (protocol/advertisement.h:
// the decrypted address must be the advertiser's, so other vendors' data, other families and
// wrong keys are dropped and counted) and stores readings into the same ReadingSlot as a
// connected device, stamped with the advertisement's arrival and carrying its RSSI. The
// advertisement's byte 10 becomes the temperature only if options.passive_temperature says
// so: its meaning is unconfirmed (protocol/advertisement.h).
//
// Silence: no reading for the passive timeout is an event (kSilent, once; a connected BM6
// stops advertising, so a phone holding it looks like this too), and the next reading is
// kFirstReading again, so the plugin logs and notifies both like a connected device's link.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "device/bm6_device.h"
#include "protocol/advertisement.h"
#include "protocol/family.h"
#include "transport/adv_scanner.h"
#include "transport/event_loop.h"
#include "transport/lifetime.h"

namespace bm6 {

struct PassiveCounters {
  std::uint64_t advertisements = 0;   // reports of this address
  std::uint64_t readings = 0;         // stored from encrypted data
  std::uint64_t beacon_readings = 0;  // stored from the iBeacon alone (charge only)
  std::uint64_t dropped = 0;          // manufacturer data that was not a reading
  std::uint64_t silences = 0;         // kSilent events
};

class PassiveDevice {
 public:
  // `options.address` must be a Bluetooth address (the config checks it); throws
  // std::invalid_argument otherwise.
  PassiveDevice(EventLoop& loop, DeviceOptions options, AdvScanner& scanner,
                std::shared_ptr<ReadingSlot> slot, Bm6Device::EventHandler on_event);
  ~PassiveDevice();
  PassiveDevice(const PassiveDevice&) = delete;
  PassiveDevice& operator=(const PassiveDevice&) = delete;

  void start();
  void stop();  // fires no events

  // One advertisement of this device's address (the scanner calls it; benchmarks too).
  void on_advertisement(const AdvReport& report);

  const PassiveCounters& counters() const { return counters_; }
  std::optional<Family> model() const { return options_.model ? options_.model : detected_; }
  std::chrono::milliseconds timeout() const;
  bool silent() const { return silent_; }

 private:
  void store(const Reading& r, const AdvReport& report, bool voltage_known, bool state_known);
  void heard_reading(std::chrono::steady_clock::time_point at);
  void check_silence();
  void emit(DeviceEvent event, const std::string& detail);
  void silent(FailureKind kind, const std::string& detail);  // a kSilent event

  DeviceOptions options_;
  BdAddr address_{};
  AdvScanner& scanner_;
  std::shared_ptr<ReadingSlot> slot_;
  Bm6Device::EventHandler on_event_;
  AdvScanner::SubscriptionId subscription_ = 0;
  std::vector<std::unique_ptr<FamilyCodec>> codecs_;   // the families tried, likeliest first
  std::vector<std::span<const std::uint8_t>> fields_;  // kept: no allocation per advertisement
  std::optional<Family> detected_;                     // Model "auto": the family whose key decoded
  Timer silence_timer_;
  std::chrono::steady_clock::time_point last_reading_{};
  std::chrono::steady_clock::time_point last_encrypted_{};
  bool heard_ = false;   // a reading since start or since the last silence
  bool silent_ = false;  // kSilent said, no reading since
  std::uint64_t dropped_since_reading_ = 0;
  std::optional<AdRejection> last_rejection_;
  PassiveCounters counters_;
};

}  // namespace bm6
