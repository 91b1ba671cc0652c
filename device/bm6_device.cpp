#include "device/bm6_device.h"

#include "device/history_download.h"
#include "device/link_errors.h"

#include <algorithm>
#include <cstdio>

namespace bm6 {

Bm6Device::Bm6Device(EventLoop& loop, DeviceOptions options, std::unique_ptr<Connector> connector,
                     std::shared_ptr<ReadingSlot> slot, EventHandler on_event)
    : loop_(loop),
      options_(std::move(options)),
      connector_(std::move(connector)),
      slot_(std::move(slot)),
      on_event_(std::move(on_event)),
      reconnect_timer_(loop),
      rng_(static_cast<std::minstd_rand::result_type>(
          std::hash<std::string>{}(options_.name) ^
          static_cast<std::size_t>(std::chrono::steady_clock::now().time_since_epoch().count()))) {
  if (options_.backfill) backfill_ = make_backfill();
}

Bm6Device::~Bm6Device() { stop(); }

void Bm6Device::start() {
  stopped_ = false;
  connect();
}

void Bm6Device::stop() {
  stopped_ = true;
  reconnect_timer_.cancel();
  connector_->cancel();
  if (backfill_) backfill_->on_link_gone();
  link_.reset();  // the link's closed handler is not run from its destructor
}

std::chrono::milliseconds Bm6Device::backoff(unsigned attempt) {
  const auto min = std::max<std::int64_t>(1, options_.reconnect_min.count());
  const auto max = std::max<std::int64_t>(min, options_.reconnect_max.count());
  std::int64_t delay = min;
  for (unsigned i = 1; i < attempt && delay < max; ++i) delay *= 2;
  delay = std::min(delay, max);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(delay * jitter(rng_)));
}

void Bm6Device::emit(DeviceEvent event, const std::string& detail) {
  if (on_event_) on_event_(options_, event, detail);
}

std::string format_seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

void Bm6Device::connect() {
  connector_->connect(
      [this](UniqueFd fd, const std::string& error) { on_connected(std::move(fd), error); });
}

void Bm6Device::on_connected(UniqueFd fd, const std::string& error) {
  if (stopped_) return;
  if (!fd) {
    ++counters_.connect_failures;
    emit(DeviceEvent::kConnectFailed, error);
    return retry_later();
  }
  if (++counters_.connects > 1) slot_->reconnects.fetch_add(1, std::memory_order_relaxed);
  got_reading_ = false;
  rssi_.reset();
  Bm6Link::Options link_options;
  link_options.att.transaction_timeout = options_.response_timeout;
  link_options.att.max_peer_pdus_per_second = options_.peer_pdu_limit;
  link_options.stream_timeout = options_.stream_timeout;
  link_options.family = options_.model;
  link_options.likely_family = detected_;
  link_options.detection_window = options_.detection_window;
  Bm6Link::Handlers handlers;
  handlers.on_family = [this](Family family) {
    // Remembered for later links, whose detection tries it first; a change is news.
    const auto before = detected_;
    detected_ = family;
    if (!before)
      emit(DeviceEvent::kModelDetected, to_string(family));
    else if (*before != family)
      emit(DeviceEvent::kModelChanged,
           std::string(to_string(*before)) + ", now " + to_string(family));
  };
  handlers.on_reading = [this](const Reading& r, std::chrono::system_clock::time_point at) {
    ++counters_.readings;
    ask_rssi();
    // Held back while stored records are downloaded: they go out first, this is older.
    if (!backfill_ || backfill_->on_reading(*link_)) slot_->store({r, at, rssi_});
    if (!got_reading_) {
      got_reading_ = true;
      first_reading_ = std::chrono::steady_clock::now();
      emit(DeviceEvent::kFirstReading, "");
    }
  };
  handlers.on_closed = [this](const std::string& reason) { on_link_closed(reason); };
  handlers.on_dropped = [this] { slot_->frames_dropped.fetch_add(1, std::memory_order_relaxed); };
  try {
    link_ = std::make_unique<Bm6Link>(loop_, std::move(fd), link_options, std::move(handlers));
    // Asked now, the answer (a connection event or two) comes long before the set-up's
    // seven round trips are done: the first reading carries it.
    ask_rssi_now();
  } catch (const std::exception& e) {
    ++counters_.connect_failures;
    emit(DeviceEvent::kConnectFailed, e.what());
    retry_later();
  }
}

void Bm6Device::ask_rssi() {
  // Once per read interval: one HCI command, answered within a connection event, while a
  // reading goes out per interval anyway. Readings never wait for it: each carries the
  // newest answer there is.
  if (!link_ || std::chrono::steady_clock::now() - rssi_asked_ < options_.read_interval) return;
  ask_rssi_now();
}

void Bm6Device::ask_rssi_now() {
  rssi_asked_ = std::chrono::steady_clock::now();
  Bm6Link* link = link_.get();
  connector_->read_rssi(link->bearer().fd(), [this, self = self_.ref(), link](int dbm) {
    // Dropped if the device, or the link it was asked for, is gone.
    if (!self.alive() || link_.get() != link) return;
    rssi_ = dbm;
  });
}

void Bm6Device::on_link_closed(const std::string& socket_reason) {
  if (stopped_) return;
  const bool was_streaming = got_reading_;
  // "Broken pipe" says what the socket saw; a monitor that closed before answering is busy.
  const std::string reason = explain_link_closed(socket_reason, link_->bearer().stats().pdus_in);
  // Called from the link's own deferred handler, never from inside the link's code.
  if (backfill_) backfill_->on_link_gone();
  link_.reset();
  if (was_streaming) {
    if (std::chrono::steady_clock::now() - first_reading_ >= kStableLink) failures_ = 0;
    ++counters_.link_losses;
    emit(DeviceEvent::kLinkLost, reason);
  } else {
    ++counters_.connect_failures;
    emit(DeviceEvent::kConnectFailed, reason);
  }
  retry_later();
}

std::unique_ptr<Backfill> Bm6Device::make_backfill() {
  Backfill::Options o;
  o.period = options_.record_period;
  o.max = options_.backfill_max;
  o.peer_pdu_limit = options_.peer_pdu_limit;
  Backfill::Hooks hooks;
  hooks.last_dispatched = [slot = slot_]() -> std::optional<std::chrono::system_clock::time_point> {
    const auto ns = slot->last_dispatched_ns.load(std::memory_order_relaxed);
    if (ns <= 0) return std::nullopt;
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(ns)));
  };
  hooks.deliver = [slot = slot_](std::vector<TimedHistoryRecord> records) {
    slot->store_history(std::move(records));
  };
  hooks.report = [this](bool ok, const std::string& detail) {
    emit(ok ? DeviceEvent::kBackfilled : DeviceEvent::kBackfillFailed, detail);
  };
  return std::make_unique<Backfill>(loop_, o, std::move(hooks));
}

void Bm6Device::retry_later() {
  if (stopped_) return;
  ++failures_;
  reconnect_timer_.start(backoff(failures_), [this] { connect(); });
}

}  // namespace bm6
