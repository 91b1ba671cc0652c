#include "device/passive_device.h"

#include <algorithm>
#include <stdexcept>

#include "transport/advertising_data.h"

namespace bm6 {

PassiveDevice::PassiveDevice(EventLoop& loop, DeviceOptions options, AdvScanner& scanner,
                             std::shared_ptr<ReadingSlot> slot, Bm6Device::EventHandler on_event)
    : options_(std::move(options)),
      scanner_(scanner),
      slot_(std::move(slot)),
      on_event_(std::move(on_event)),
      silence_timer_(loop) {
  if (!options_.address.is_bluetooth())
    throw std::invalid_argument("passive mode needs a Bluetooth address, not \"" +
                                options_.address.text() + "\"");
  address_ = options_.address.bdaddr();
  // A configured Model is the only key tried; "auto" tries each, and the decrypted address
  // (48 bits) tells which family is right.
  if (options_.model) {
    codecs_.push_back(std::make_unique<FamilyCodec>(*options_.model));
  } else {
    for (const Family f : kAllFamilies) codecs_.push_back(std::make_unique<FamilyCodec>(f));
  }
}

PassiveDevice::~PassiveDevice() { stop(); }

std::chrono::milliseconds PassiveDevice::timeout() const {
  return options_.passive_timeout.count() > 0 ? options_.passive_timeout
                                              : 3 * options_.read_interval;
}

void PassiveDevice::start() {
  if (subscription_ != 0) return;
  subscription_ = scanner_.subscribe(address_, options_.address.random(),
                                     [this](const AdvReport& r) { on_advertisement(r); });
  last_reading_ = std::chrono::steady_clock::now();
  silence_timer_.start(timeout(), [this] { check_silence(); });
}

void PassiveDevice::stop() {
  if (subscription_ != 0) scanner_.unsubscribe(subscription_);
  subscription_ = 0;
  silence_timer_.cancel();
}

void PassiveDevice::emit(DeviceEvent event, const std::string& detail) {
  if (on_event_) on_event_(options_, {event, detail});
}

void PassiveDevice::silent(FailureKind kind, const std::string& detail) {
  if (on_event_) on_event_(options_, {DeviceEvent::kSilent, detail, {kind, {}, detail}});
}

void PassiveDevice::on_advertisement(const AdvReport& report) {
  ++counters_.advertisements;
  ad::manufacturer_data_views(report.data, fields_);
  const std::span<const std::span<const std::uint8_t>> fields = fields_;
  if (fields.empty()) return;  // flags, a name, service UUIDs: alive, but no reading in it
  std::optional<BeaconReading> beacon;
  std::optional<AdRejection> rejection;
  for (std::size_t i = 0; i < codecs_.size(); ++i) {
    const PassiveDecode d = decode_manufacturer_views(*codecs_[i], address_, fields);
    if (const auto* r = std::get_if<AdvertisedReading>(&d)) {
      const Family family = codecs_[i]->family();
      if (!options_.model && detected_ != family) {
        const auto before = detected_;
        detected_ = family;
        std::rotate(codecs_.begin(), codecs_.begin() + static_cast<std::ptrdiff_t>(i),
                    codecs_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        if (!before)
          emit(DeviceEvent::kModelDetected, to_string(family));
        else
          emit(DeviceEvent::kModelChanged,
               std::string(to_string(*before)) + ", now " + to_string(family));
      }
      last_encrypted_ = report.received_steady;
      ++counters_.readings;
      const auto temperature =
          options_.passive_temperature ? unconfirmed_temperature_c(*r) : std::nullopt;
      store(Reading{r->centivolts, temperature, r->soc_percent, r->state.value_or(State::kNormal)},
            report, true, r->state.has_value());
      return;
    }
    if (const auto* b = std::get_if<BeaconReading>(&d)) {
      beacon = *b;
    } else if (!rejection) {
      rejection = std::get<AdRejection>(d);
    }
  }
  const bool encrypted_present =
      std::any_of(fields.begin(), fields.end(), [](const auto& f) { return f.size() == 16; });
  // Data that claims to be a reading and is not (another vendor's, a wrong key or Model,
  // another beacon): counted, and said if the device falls silent.
  const bool bad_beacon = !beacon && rejection && *rejection != AdRejection::kNoManufacturerData;
  if (encrypted_present || bad_beacon) {
    ++counters_.dropped;
    ++dropped_since_reading_;
    last_rejection_ = rejection.value_or(AdRejection::kAddressMismatch);
    slot_->frames_dropped.fetch_add(1, std::memory_order_relaxed);
  }
  // The iBeacon carries the charge only: used when the encrypted data is absent (none
  // decoded for the passive timeout), never in turn with the full readings of a monitor that
  // alternates the two advertisements.
  if (beacon && report.received_steady - last_encrypted_ >= timeout()) {
    ++counters_.beacon_readings;
    store(Reading{0, std::nullopt, beacon->soc_percent, State::kNormal}, report, false, false);
  }
}

void PassiveDevice::store(const Reading& r, const AdvReport& report, bool voltage_known,
                          bool state_known) {
  TimedReading t{r, report.received, report.rssi_dbm};
  t.voltage_known = voltage_known;
  t.state_known = state_known;
  slot_->store(t);
  heard_reading(report.received_steady);
}

void PassiveDevice::heard_reading(std::chrono::steady_clock::time_point at) {
  last_reading_ = at;
  dropped_since_reading_ = 0;
  last_rejection_.reset();
  if (!heard_) {
    heard_ = true;
    silent_ = false;
    emit(DeviceEvent::kFirstReading, "");
  }
  // Not restarted per reading: it fires once per timeout while readings flow and re-arms
  // for what is left (cheaper than a timer operation per advertisement).
  if (!silence_timer_.armed()) silence_timer_.start(timeout(), [this] { check_silence(); });
}

void PassiveDevice::check_silence() {
  const auto quiet = std::chrono::steady_clock::now() - last_reading_;
  if (heard_ && quiet < timeout()) {
    silence_timer_.start(timeout() - quiet, [this] { check_silence(); });
    return;
  }
  // Silent: said once; the timer stays off until a reading comes (no wake-ups meanwhile).
  heard_ = false;
  silent_ = true;
  ++counters_.silences;
  const std::string span = format_seconds(timeout());
  if (dropped_since_reading_ > 0) {
    // Heard, but only data that was not a reading (a wrong Model).
    silent(FailureKind::kProtocol,
           "no reading in " + span + ": " + std::to_string(dropped_since_reading_) +
               " advertisement(s) from its address were not readings (" +
               to_string(last_rejection_.value_or(AdRejection::kAddressMismatch)) +
               "): is Model right?");
  } else {
    silent(FailureKind::kUnreachable,
           "no advertisement heard in " + span +
               ": out of range, powered off, or a phone or another reader is connected to it "
               "(a connected monitor stops advertising)");
  }
  dropped_since_reading_ = 0;
}

}  // namespace bm6
