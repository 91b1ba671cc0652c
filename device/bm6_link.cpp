#include "device/bm6_link.h"

#include <algorithm>

namespace bm6 {

Bm6Link::Bm6Link(EventLoop& loop, UniqueFd fd, Bm6Codec& codec, Options options, Handlers handlers)
    : codec_(codec),
      options_(options),
      handlers_(std::move(handlers)),
      bearer_(loop, std::move(fd), options.att),
      gatt_(bearer_),
      watchdog_(loop) {
  bearer_.set_notification_handler([this](std::uint16_t handle, std::span<const std::uint8_t> v) {
    on_notification(handle, v);
  });
  bearer_.set_indication_handler(
      [this](std::uint16_t handle, std::span<const std::uint8_t> v) { on_indication(handle, v); });
  bearer_.set_closed_handler([this](const std::string& reason) {
    phase_ = Phase::kClosed;
    watchdog_.cancel();
    if (handlers_.on_closed) handlers_.on_closed(reason);
  });
  const auto gen = generation_;
  gatt_.exchange_mtu([this, gen](const std::string& err) {
    if (!current(gen)) return;
    if (!err.empty()) return fail(err);
    discover();
  });
}

Bm6Link::~Bm6Link() = default;

std::uint64_t Bm6LinkStats::rejected_total() const {
  std::uint64_t total = 0;
  for (const auto n : rejected) total += n;
  return total;
}

void Bm6Link::fail(const std::string& reason) { bearer_.close(reason); }

// What a first connection asks, and why: one request at a time, each a round trip (one or
// two connection events on the air). Counted against the simulator's BM6 database (MTU 23)
// by SimulatorTest.FirstConnectionCostsSevenRequests (gatt_client_test); was 11 with discovery of
// every service.
//
//   #  request                              why
//   1  Exchange MTU                          the bearer's MTU (a peer may offer more; the
//                                            MTU-drop fault acts here)
//   2  Find By Type Value 0x2800 = FFF0      FFF0's handle range, by its UUID: one request
//                                            where listing every service took four
//   3  Read By Type 0x2803 over FFF0         FFF1..FFF3 (three declarations fit in MTU 23)
//   4  Read By Type 0x2803, continued        FFF4 and FFF5: FFF4's descriptors end before
//                                            FFF5's declaration, so that is enough: the
//                                            rest of the service (to 0xffff) is not asked
//   5  Find Information after FFF4           its user description and CCCD (2902), then
//                                            stops: nothing after the CCCD is asked for
//   6  Write Request CCCD = 0x0001           notifications on
//   7  Write Request FFF3 = command          live data (a Write Command if FFF3 takes only
//                                            those: then 6 requests)
//
// Not asked: the GATT service (0x1801) and its Service Changed characteristic, which cost
// two requests more on every link (Find By Type Value 0x1801, Read By Type over it) to learn
// a handle that matters only on a firmware update. The link enables no indication, so an
// indication that comes anyway carrying a handle range is the server's Service Changed
// (on_indication): rediscovery works without the handle.
void Bm6Link::discover() {
  phase_ = Phase::kDiscovery;
  const auto gen = generation_;
  gatt_.discover_primary_service_by_uuid(
      kBm6Service,
      [this, gen](const std::string& err, std::vector<GattService> services) {
        if (!current(gen)) return;
        if (!err.empty()) return fail(err);
        on_services(std::move(services));
      },
      /*first_only=*/true);
}

void Bm6Link::on_services(std::vector<GattService> services) {
  if (services.empty())
    return fail("the device has no BM6 service (FFF0): is it a BM6 battery monitor?");
  const auto gen = generation_;
  // Enough once FFF3 and FFF4 are known and a declaration after FFF4 bounds its descriptors.
  auto enough = [](const std::vector<GattCharacteristic>& found) {
    const auto has = [&](const att::Uuid& u) {
      return std::any_of(found.begin(), found.end(),
                         [&](const GattCharacteristic& c) { return c.uuid == u; });
    };
    return has(kBm6Command) && has(kBm6Data) && found.back().uuid != kBm6Data;
  };
  gatt_.discover_characteristics(
      services.front(),
      [this, gen](const std::string& err, std::vector<GattCharacteristic> chars) {
        if (!current(gen)) return;
        if (!err.empty()) return fail(err);
        on_bm6_characteristics(std::move(chars));
      },
      enough);
}

void Bm6Link::on_bm6_characteristics(std::vector<GattCharacteristic> chars) {
  const GattCharacteristic* command = nullptr;
  const GattCharacteristic* data = nullptr;
  for (const auto& c : chars) {
    if (c.uuid == kBm6Command && !command) command = &c;
    if (c.uuid == kBm6Data && !data) data = &c;
  }
  if (!command) return fail("the BM6 service has no command characteristic (FFF3)");
  if (!data) return fail("the BM6 service has no data characteristic (FFF4)");
  if (!(command->properties & (att::kPropWrite | att::kPropWriteWithoutResponse)))
    return fail("the command characteristic (FFF3) is not writable");
  if (!(data->properties & att::kPropNotify))
    return fail("the data characteristic (FFF4) does not notify");
  command_handle_ = command->value_handle;
  command_with_response_ = (command->properties & att::kPropWrite) != 0;
  data_handle_ = data->value_handle;
  const auto gen = generation_;
  gatt_.discover_descriptors(
      *data,
      [this, gen](const std::string& err, std::vector<GattDescriptor> descriptors) {
        if (!current(gen)) return;
        if (!err.empty()) return fail(err);
        const auto cccd = std::find_if(
            descriptors.begin(), descriptors.end(),
            [](const GattDescriptor& d) { return d.uuid == att::kClientCharacteristicConfig; });
        if (cccd == descriptors.end())
          return fail("the data characteristic (FFF4) has no notification switch (CCCD 2902)");
        enable_notifications(cccd->handle);
      },
      att::kClientCharacteristicConfig);
}

void Bm6Link::enable_notifications(std::uint16_t cccd) {
  phase_ = Phase::kEnable;
  const auto gen = generation_;
  gatt_.write(cccd, {0x01, 0x00}, [this, gen](const std::string& err) {
    if (!current(gen)) return;
    if (!err.empty()) return fail("enabling notifications: " + err);
    send_command();
  });
}

void Bm6Link::send_command() {
  if (phase_ != Phase::kStreaming) phase_ = Phase::kCommand;
  got_reading_since_command_ = false;
  arm_stream_watchdog();
  // A command still unanswered is not queued again behind itself: the watchdog counts on.
  if (command_unanswered_) return;
  const Block cipher = codec_.encrypt(live_data_request());
  std::vector<std::uint8_t> value(cipher.begin(), cipher.end());
  ++stats_.commands_sent;
  const auto gen = generation_;
  auto streaming = [this] {
    const bool first = phase_ != Phase::kStreaming;
    phase_ = Phase::kStreaming;
    if (first && handlers_.on_streaming) handlers_.on_streaming();
  };
  if (!command_with_response_) {
    gatt_.write_without_response(command_handle_, std::move(value));
    if (bearer_.is_open()) streaming();
    return;
  }
  command_unanswered_ = true;
  gatt_.write(command_handle_, std::move(value), [this, gen, streaming](const std::string& err) {
    if (!current(gen)) return;
    command_unanswered_ = false;
    if (!err.empty()) return fail("writing the live-data command: " + err);
    streaming();
  });
}

void Bm6Link::arm_stream_watchdog() {
  watchdog_.start(options_.stream_timeout, [this] {
    // Some units stop streaming, or never start: ask again, a few times.
    if (!got_reading_since_command_) {
      if (++silent_commands_ >= options_.max_silent_commands)
        return fail("no reading for " + std::to_string(silent_commands_) + " x " +
                    std::to_string(options_.stream_timeout.count()) + " ms although the command " +
                    (command_unanswered_ ? "was written (and its write never answered)"
                                         : "was sent each time"));
      send_command();
    } else {
      got_reading_since_command_ = false;
      arm_stream_watchdog();
    }
  });
}

void Bm6Link::on_notification(std::uint16_t handle, std::span<const std::uint8_t> value) {
  if (handle != data_handle_ || data_handle_ == 0) {
    ++stats_.other_notifications;
    if (handlers_.on_dropped) handlers_.on_dropped();
    return;
  }
  const auto decoded = codec_.decode_notification(value);
  if (const auto* rejection = std::get_if<FrameRejection>(&decoded)) {
    ++stats_.rejected[static_cast<int>(*rejection)];
    // The acknowledgement of a command and the all-zero frame before the first measurement
    // are what a healthy monitor sends: not readings, but not wrong either.
    const bool expected =
        *rejection == FrameRejection::kAcknowledgement || *rejection == FrameRejection::kAllZero;
    if (!expected && handlers_.on_dropped) handlers_.on_dropped();
    return;
  }
  ++stats_.readings;
  got_reading_since_command_ = true;
  silent_commands_ = 0;
  if (handlers_.on_reading)
    handlers_.on_reading(std::get<Bm6Reading>(decoded), std::chrono::system_clock::now());
}

void Bm6Link::on_indication(std::uint16_t handle, std::span<const std::uint8_t> value) {
  // Service Changed, undiscovered (see the table above discover()): an indication the link
  // never enabled, whose value is the changed handle range. Anything else is ignored.
  if (handle == 0 || handle == data_handle_ || value.size() != 4) return;
  const std::uint16_t start = att::get_le16(value.data());
  const std::uint16_t end = att::get_le16(value.data() + 2);
  if (start == 0 || start > end) return;
  // Handles may have moved: drop what we knew, and whatever set-up step is in flight.
  ++stats_.rediscoveries;
  ++generation_;
  data_handle_ = 0;
  command_handle_ = 0;
  command_unanswered_ = false;  // its answer, if any, belongs to the superseded set-up
  watchdog_.cancel();
  discover();
}

}  // namespace bm6
