#include "device/bm6_link.h"

#include <algorithm>

namespace bm6 {

namespace {
// One keyed codec per family and one detector per loop thread, shared by the links on it.
FamilyCodec& shared_codec(Family family) {
  thread_local std::optional<FamilyCodec> codecs[std::size(kAllFamilies)];
  auto& codec = codecs[static_cast<std::size_t>(family)];
  if (!codec) codec.emplace(family);
  return *codec;
}
FamilyDetector& shared_detector() {
  thread_local FamilyDetector detector;
  return detector;
}
// The families whose stream starts on a request: detection writes their requests in turn.
std::vector<Family> requesting_families() {
  return families_where([](const FamilyTraits& t) { return t.needs_request; });
}
}  // namespace

Bm6Link::Bm6Link(EventLoop& loop, UniqueFd fd, Options options, Handlers handlers)
    : options_(options),
      handlers_(std::move(handlers)),
      bearer_(loop, std::move(fd), options.att),
      gatt_(bearer_),
      pipeline_check_(loop),
      watchdog_(loop),
      own_poll_(PollPolicy::Options{options.stream_timeout, options.max_silent_commands}),
      poll_(options.poll ? *options.poll : own_poll_) {
  if (options_.family) codec_ = &shared_codec(*options_.family);
  bearer_.set_notification_handler([this](std::uint16_t handle, std::span<const std::uint8_t> v) {
    if (handlers_.on_raw_notification) handlers_.on_raw_notification(handle, v);
    on_notification(handle, v);
  });
  bearer_.set_indication_handler(
      [this](std::uint16_t handle, std::span<const std::uint8_t> v) { on_indication(handle, v); });
  bearer_.set_closed_handler([this](const LinkError& why) {
    phase_ = Phase::kClosed;
    watchdog_.cancel();
    pipeline_check_.cancel();
    if (!handlers_.on_closed) return;
    handlers_.on_closed(failure_ ? *failure_ : link_closed(why, bearer_.stats().pdus_in));
  });
  if (!options_.exchange_mtu) {
    begin();
    return;
  }
  stats_.mtu_exchanged = true;
  const auto gen = generation_;
  gatt_.exchange_mtu([this, gen](const LinkError& err) {
    if (!current(gen)) return;
    if (err) return fail(err);
    begin();
  });
}

void Bm6Link::begin() {
  if (options_.cache)
    if (const auto cached = options_.cache->take_for_link()) return use_cached(*cached);
  discover();
}

void Bm6Link::use_cached(const CachedHandles& handles) {
  using_cache_ = true;
  stats_.from_cache = true;
  command_handle_ = handles.command;
  command_with_response_ = handles.command_with_response;
  command_without_response_ = handles.command_without_response;
  pipeline_ok_ = pipeline_ok_ && handles.pipelined;
  data_handle_ = handles.data;
  enable_notifications(handles.cccd);
}

bool Bm6Link::abandon_cache() {
  if (!using_cache_) return false;
  using_cache_ = false;
  ++stats_.cache_abandoned;
  options_.cache->drop();
  // As after Service Changed: whatever step is in flight belongs to the abandoned set-up.
  ++generation_;
  data_handle_ = 0;
  command_handle_ = 0;
  command_unanswered_ = false;
  command_as_write_command_ = false;
  watchdog_.cancel();
  pipeline_check_.cancel();
  discover();
  return true;
}

Bm6Link::~Bm6Link() = default;

std::uint64_t Bm6LinkStats::rejected_total() const {
  std::uint64_t total = 0;
  for (const auto n : rejected) total += n;
  return total;
}

void Bm6Link::fail(FailureKind kind, std::string detail, LinkError cause) {
  fail(DeviceFailure{kind, std::move(cause), std::move(detail)});
}

void Bm6Link::fail(DeviceFailure failure) {
  if (!bearer_.is_open()) return;  // closed already: the bearer's reason stands
  const std::string detail = failure.detail;
  failure_ = std::move(failure);
  bearer_.close(detail);
}

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
      [this, gen](const LinkError& err, std::vector<GattService> services) {
        if (!current(gen)) return;
        if (err) return fail(err);
        on_services(std::move(services));
      },
      /*first_only=*/true);
}

void Bm6Link::on_services(std::vector<GattService> services) {
  if (services.empty())
    return fail(FailureKind::kProtocol,
                "the device has no BM6 service (FFF0): is it a BM6 battery monitor?");
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
      [this, gen](const LinkError& err, std::vector<GattCharacteristic> chars) {
        if (!current(gen)) return;
        if (err) return fail(err);
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
  if (!command)
    return fail(FailureKind::kProtocol, "the BM6 service has no command characteristic (FFF3)");
  if (!data)
    return fail(FailureKind::kProtocol, "the BM6 service has no data characteristic (FFF4)");
  if (!(command->properties & (att::kPropWrite | att::kPropWriteWithoutResponse)))
    return fail(FailureKind::kProtocol, "the command characteristic (FFF3) is not writable");
  if (!(data->properties & att::kPropNotify))
    return fail(FailureKind::kProtocol, "the data characteristic (FFF4) does not notify");
  command_handle_ = command->value_handle;
  command_with_response_ = (command->properties & att::kPropWrite) != 0;
  command_without_response_ = (command->properties & att::kPropWriteWithoutResponse) != 0;
  data_handle_ = data->value_handle;
  const auto gen = generation_;
  gatt_.discover_descriptors(
      *data,
      [this, gen](const LinkError& err, std::vector<GattDescriptor> descriptors) {
        if (!current(gen)) return;
        if (err) return fail(err);
        const auto cccd = std::find_if(
            descriptors.begin(), descriptors.end(),
            [](const GattDescriptor& d) { return d.uuid == att::kClientCharacteristicConfig; });
        if (cccd == descriptors.end())
          return fail(FailureKind::kProtocol,
                      "the data characteristic (FFF4) has no notification switch (CCCD 2902)");
        discovered_ = CachedHandles{command_handle_, command_with_response_,    data_handle_,
                                    cccd->handle,    command_without_response_, pipeline_ok_};
        enable_notifications(cccd->handle);
      },
      att::kClientCharacteristicConfig);
}

void Bm6Link::enable_notifications(std::uint16_t cccd) {
  phase_ = Phase::kEnable;
  cccd_handle_ = cccd;
  if (options_.pipeline && pipeline_ok_) return enable_pipelined(cccd);
  const auto gen = generation_;
  gatt_.write(cccd, {0x01, 0x00}, [this, gen](const LinkError& err) {
    if (!current(gen)) return;
    if (err) {
      if (abandon_cache()) return;
      return fail(FailureKind::kProtocol, "enabling notifications: " + err.detail, err);
    }
    start_stream();
  });
}

// One round trip (see the top of bm6_link.h). The frames that prove the form worked are
// awaited for pipeline_window; none, and the same link tries one step at a time.
void Bm6Link::enable_pipelined(std::uint16_t cccd) {
  stats_.pipelined = true;
  const auto gen = generation_;
  if (command_without_response_) {
    // The Write Request first: the command behind it reaches the server after it.
    gatt_.write(cccd, {0x01, 0x00}, [this, gen](const LinkError& err) {
      if (!current(gen) || !err) return;
      if (abandon_cache()) return;
      fail(FailureKind::kProtocol, "enabling notifications: " + err.detail, err);
    });
    command_as_write_command_ = true;
  } else {
    // FFF3 wants its write acknowledged: the CCCD write is the one that rides along.
    gatt_.write_without_response(cccd, {0x01, 0x00});
  }
  pipeline_check_.start(options_.pipeline_window, [this] { pipeline_ignored(); });
  start_stream();
}

void Bm6Link::pipeline_ignored() {
  if (!bearer_.is_open()) return;
  ++stats_.pipeline_fallbacks;
  pipeline_ok_ = false;
  fell_back_ = true;
  command_as_write_command_ = false;
  // Whatever the pipelined set-up still awaits belongs to it.
  ++generation_;
  command_unanswered_ = false;
  watchdog_.cancel();
  enable_notifications(cccd_handle_);
}

void Bm6Link::pipeline_answered() {
  pipeline_check_.cancel();
  if (!fell_back_) return;
  // The one-step form brought what the pipelined one did not: later links use it.
  fell_back_ = false;
  if (using_cache_) options_.cache->refuse_pipelining();
  if (discovered_) discovered_->pipelined = false;
}

void Bm6Link::start_stream() {
  // Known (configured, or detected before a rediscovery): the family's own command.
  if (codec_) {
    poll_.start_link(std::chrono::steady_clock::now());
    return send_command();
  }
  phase_ = Phase::kCommand;
  detection_order_.clear();
  if (options_.likely_family) detection_order_.push_back(*options_.likely_family);
  for (const Family f : requesting_families())
    if (std::find(detection_order_.begin(), detection_order_.end(), f) == detection_order_.end())
      detection_order_.push_back(f);
  next_request_ = 0;
  std::fill(std::begin(evidence_frames_), std::end(evidence_frames_), 0u);
  detection_started_ = std::chrono::steady_clock::now();
  detect_step();
}

// One detection window: the next family's request (none for a BM2, which streams by
// itself), then the frames that come in the window; none: the next family's request.
void Bm6Link::detect_step() {
  const Family family = detection_order_[next_request_++ % detection_order_.size()];
  const auto window = std::min(options_.detection_window, options_.stream_timeout);
  watchdog_.start(window, [this] {
    // Not a frame of any kind on the cached handle: the handles may have moved.
    if (!cache_confirmed_ && abandon_cache()) return;
    const auto bound = options_.stream_timeout * options_.max_silent_commands;
    if (std::chrono::steady_clock::now() - detection_started_ >= bound)
      return fail(FailureKind::kSilent,
                  "no frame of a " + family_names(kAllFamilies, "or") + " in " +
                      std::to_string(bound.count()) + " ms although the " +
                      family_names(requesting_families(), "and") +
                      " requests were written in turn" +
                      (command_unanswered_ ? " (and a write never answered)" : ""));
    detect_step();
  });
  // A request still unanswered is not queued behind itself: the windows count on.
  if (command_unanswered_) return;
  if (const auto request = shared_codec(family).live_request()) write_command(*request);
}

void Bm6Link::send_command() {
  if (phase_ != Phase::kStreaming) phase_ = Phase::kCommand;
  arm_stream_watchdog();
  // A command still unanswered is not queued again behind itself: the watchdog counts on.
  if (command_unanswered_) return;
  // A BM2 needs none: its frames come once notifications are on.
  if (const auto request = codec_->live_request()) return write_command(*request);
  if (bearer_.is_open()) streaming();
}

void Bm6Link::streaming() {
  const bool first = phase_ != Phase::kStreaming;
  phase_ = Phase::kStreaming;
  if (first && handlers_.on_streaming) handlers_.on_streaming();
}

void Bm6Link::write_command(const Block& ciphertext) {
  std::vector<std::uint8_t> value(ciphertext.begin(), ciphertext.end());
  ++stats_.commands_sent;
  const auto gen = generation_;
  if (!command_with_response_ || command_as_write_command_) {
    gatt_.write_without_response(command_handle_, std::move(value));
    if (bearer_.is_open() && codec_) streaming();
    return;
  }
  command_unanswered_ = true;
  gatt_.write(command_handle_, std::move(value), [this, gen](const LinkError& err) {
    if (!current(gen)) return;
    command_unanswered_ = false;
    if (err && abandon_cache()) return;  // a cached handle refused the command
    // While detecting, a monitor of another family may refuse a request not under its key.
    if (!codec_) return;
    if (err)
      return fail(FailureKind::kProtocol, "writing the live-data command: " + err.detail, err);
    streaming();
  });
}

bool Bm6Link::write_request(const Block& ciphertext, std::function<void(const LinkError&)> done) {
  // Once the family and the handles are known: a reading may come before the live-data
  // command's Write Response, and a request written then is queued behind it.
  if (!codec_ || command_handle_ == 0 || !bearer_.is_open()) return false;
  std::vector<std::uint8_t> value(ciphertext.begin(), ciphertext.end());
  if (!command_with_response_) {
    gatt_.write_without_response(command_handle_, std::move(value));
    if (done) done({});
    return true;
  }
  const auto gen = generation_;
  gatt_.write(command_handle_, std::move(value),
              [this, gen, done = std::move(done)](const LinkError& err) {
                if (current(gen) && done) done(err);
              });
  return true;
}

void Bm6Link::arm_stream_watchdog() {
  const auto at = poll_.deadline();
  if (at == PollPolicy::Clock::time_point::max()) return watchdog_.cancel();
  const auto now = std::chrono::steady_clock::now();
  watchdog_.start(std::max(at - now, PollPolicy::Clock::duration::zero()),
                  [this] { on_stream_deadline(); });
}

// Overdue, due before the unit stops, or dead (device/poll_policy.h says which and when).
void Bm6Link::on_stream_deadline() {
  const auto now = std::chrono::steady_clock::now();
  const auto action = poll_.due(now);
  if (action == PollPolicy::Action::kWait) return arm_stream_watchdog();
  // Not a frame of any kind on the cached handle: the handles may have moved.
  if (!cache_confirmed_ && abandon_cache()) return;
  if (action == PollPolicy::Action::kDead) return fail(silence());
  poll_.on_request(now);
  send_command();
}

DeviceFailure Bm6Link::silence() const {
  const unsigned silent = poll_.silent_requests();
  const std::string times =
      std::to_string(silent) + " x " + std::to_string(options_.stream_timeout.count()) + " ms";
  // A configured family that never gave a reading: say what the monitor did send.
  const char* configured = to_string(codec_->family());
  if (foreign_)
    return {FailureKind::kProtocol,
            {},
            std::string("configured as ") + configured + " but its frames decode as " +
                to_string(*foreign_) + " (no " + configured + " reading in " + times + ")"};
  std::string reason =
      "no reading for " + times + " although the command " +
      (command_unanswered_ ? "was written (and its write never answered)" : "was sent each time");
  if (options_.family && stats_.readings == 0)
    reason += std::string(" (configured as ") + configured +
              ": a monitor of another family stays silent; Model \"auto\" detects it)";
  return {FailureKind::kSilent, {}, reason};
}

std::optional<Family> Bm6Link::weigh(std::span<const std::uint8_t> value) {
  const auto seen = shared_detector().detect(value);
  if (!seen) return std::nullopt;
  if (!enough_evidence(*seen)) return std::nullopt;
  return seen;
}

bool Bm6Link::enough_evidence(Family family) {
  return ++evidence_frames_[static_cast<std::size_t>(family)] >= traits(family).settle_frames;
}

void Bm6Link::on_detection_frame(std::span<const std::uint8_t> value) {
  const auto seen = shared_detector().detect(value);
  if (!seen) {
    ++stats_.rejected[static_cast<int>(LiveRejection::kWrongPrefix)];
    if (handlers_.on_dropped) handlers_.on_dropped();
    return;
  }
  if (!enough_evidence(*seen)) return;  // one more
  settle(*seen, value);
}

void Bm6Link::settle(Family family, std::span<const std::uint8_t> value) {
  codec_ = &shared_codec(family);
  watchdog_.cancel();
  if (handlers_.on_family) handlers_.on_family(family);
  if (!bearer_.is_open()) return;
  // A BM6/BM7 answered its request, written already; a BM2 needs none. Either way the
  // stream is on: the watchdog counts from here.
  streaming();
  poll_.start_link(std::chrono::steady_clock::now());
  arm_stream_watchdog();
  on_notification(data_handle_, value);  // the frame that settled it may be a reading
}

void Bm6Link::on_notification(std::uint16_t handle, std::span<const std::uint8_t> value) {
  if (handle != data_handle_ || data_handle_ == 0) {
    // Before anything came on the cached data handle, a notification elsewhere says the
    // handles moved.
    if (data_handle_ != 0 && !cache_confirmed_ && abandon_cache()) return;
    ++stats_.other_notifications;
    if (handlers_.on_dropped) handlers_.on_dropped();
    return;
  }
  if (using_cache_) cache_confirmed_ = true;
  if (pipeline_check_.armed() || fell_back_) pipeline_answered();
  if (!codec_) return on_detection_frame(value);
  if (tap_) {
    const NotificationTap tap = tap_;  // the tap may remove itself
    if (tap(value)) {
      // The monitor is busy answering: not silent.
      poll_.on_busy(std::chrono::steady_clock::now());
      arm_stream_watchdog();
      return;
    }
  }
  take_live_frame(value);
}

void Bm6Link::set_notification_tap(NotificationTap tap) {
  tap_ = std::move(tap);
  poll_.set_answering(tap_ != nullptr);
  // Its deadline moved (sooner, once the answer is over).
  if (codec_ && bearer_.is_open() && watchdog_.armed()) arm_stream_watchdog();
}

void Bm6Link::take_live_frame(std::span<const std::uint8_t> value) {
  if (!codec_) return;
  const auto decoded = codec_->decode_notification(value);
  if (const auto* rejection = std::get_if<LiveRejection>(&decoded)) {
    ++stats_.rejected[static_cast<int>(*rejection)];
    // The acknowledgement of a command, the all-zero frame before the first measurement and
    // a BM2's history frames are what a healthy monitor sends: not readings, not wrong.
    const bool expected =
        *rejection == LiveRejection::kAcknowledgement || *rejection == LiveRejection::kAllZero ||
        *rejection == LiveRejection::kHistoryCount || *rejection == LiveRejection::kHistoryMarker;
    if (expected) return;
    // Configured: another family's frames are named when the link gives up.
    if (options_.family) {
      if (const auto other = weigh(value); other && *other != codec_->family()) foreign_ = other;
    }
    if (handlers_.on_dropped) handlers_.on_dropped();
    return;
  }
  if (++stats_.readings == 1) {
    stats_.pdus_to_first_reading = bearer_.stats().pdus_out;
    stats_.requests_to_first_reading = bearer_.stats().requests_out;
    // A discovery whose link delivers: its handles serve the next links.
    if (discovered_ && options_.cache) options_.cache->remember(*discovered_);
    discovered_.reset();
  }
  poll_.on_reading(std::chrono::steady_clock::now());
  arm_stream_watchdog();
  if (handlers_.on_reading)
    handlers_.on_reading(std::get<Reading>(decoded), std::chrono::system_clock::now());
}

void Bm6Link::on_indication(std::uint16_t handle, std::span<const std::uint8_t> value) {
  // Service Changed, undiscovered (see the table above discover()): an indication the link
  // never enabled, whose value is the changed handle range. Anything else is ignored.
  if (handle == 0 || handle == data_handle_ || value.size() != 4) return;
  const std::uint16_t start = att::get_le16(value.data());
  const std::uint16_t end = att::get_le16(value.data() + 2);
  if (start == 0 || start > end) return;
  // Handles may have moved: drop what we knew, and whatever set-up step is in flight.
  if (options_.cache) options_.cache->drop();
  using_cache_ = false;
  discovered_.reset();
  ++stats_.rediscoveries;
  ++generation_;
  data_handle_ = 0;
  command_handle_ = 0;
  command_unanswered_ = false;  // its answer, if any, belongs to the superseded set-up
  command_as_write_command_ = false;
  watchdog_.cancel();
  pipeline_check_.cancel();
  discover();
}

}  // namespace bm6
