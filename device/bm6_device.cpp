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
  if (per_read()) return want_link();
  connect();
}

void Bm6Device::stop() {
  stopped_ = true;
  reconnect_timer_.cancel();
  connector_->cancel();
  if (backfill_) backfill_->on_link_gone();
  link_.reset();  // the link's closed handler is not run from its destructor
  if (budget_ && ticket_ != 0) budget_->release(ticket_);
  ticket_ = 0;
}

void Bm6Device::want_link() {
  wanted_at_ = std::chrono::steady_clock::now();
  if (!budget_) return on_turn();
  ticket_ = budget_->acquire([this] { on_turn(); });
}

void Bm6Device::on_turn() {
  if (stopped_) return;
  turn_at_ = std::chrono::steady_clock::now();
  connect();
}

void Bm6Device::give_back_turn(bool delivered) {
  if (!per_read() || !budget_ || ticket_ == 0) return;
  // Only holds that delivered feed the budget's mean: a failure's is the backoff's business.
  budget_->release(ticket_, delivered ? std::chrono::steady_clock::now() - turn_at_
                                      : std::chrono::steady_clock::duration::zero());
  ticket_ = 0;
}

EventLoop::Clock::duration Bm6Device::lead() const {
  // Twice what a reading took lately (queue, connect, set-up, first frame), and at least
  // one round of the adapter's turns and 1 s; at most half the interval, so that the
  // reading is never older than the interval when the read takes it.
  using namespace std::chrono;
  const double round = budget_ ? budget_->round_seconds() : 0;
  const double wanted_s = std::max({2 * lead_s_, 1.5 * round, 1.0});
  const auto wanted = duration_cast<milliseconds>(duration<double>(wanted_s));
  return std::min<EventLoop::Clock::duration>(wanted, options_.read_interval / 2);
}

void Bm6Device::per_read_done() {
  const auto now = std::chrono::steady_clock::now();
  const auto air = now - link_up_;
  counters_.air += air;
  ++counters_.per_read_links;
  slot_->air_ms.fetch_add(static_cast<std::uint64_t>(
                              std::chrono::duration_cast<std::chrono::milliseconds>(air).count()),
                          std::memory_order_relaxed);
  const double took = std::chrono::duration<double>(now - wanted_at_).count();
  lead_s_ = lead_s_ == 0 ? took : lead_s_ + 0.25 * (took - lead_s_);
  // Later than the read it was for (the queue was longer than the lead): start that much
  // earlier next time, and then some.
  if (target_ != EventLoop::Clock::time_point{} && now > target_)
    lead_s_ += std::chrono::duration<double>(now - target_).count() / 2 + 0.25;
  failures_ = 0;
  after_failure_ = false;
  link_->close("per-read: reading taken");  // the fd closes now; on_link_closed follows
}

void Bm6Device::schedule_next_turn() {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = std::chrono::duration_cast<EventLoop::Clock::duration>(
      std::max(options_.read_interval, std::chrono::milliseconds(1)));
  const auto ahead = lead();
  const std::int64_t last_ns = slot_->last_take_ns.load(std::memory_order_relaxed);
  EventLoop::Clock::time_point target;
  if (last_ns == 0) {
    target = now + interval;  // no read yet: its phase is unknown
  } else {
    // The read that will take this reading: the first one after now.
    target = EventLoop::Clock::time_point(EventLoop::Clock::duration(last_ns));
    if (target <= now) target += ((now - target) / interval + 1) * interval;
    // Normally the next link is for the read after it. A reading that came just after a
    // read (less than the lead ago) would be almost an interval old by then: the next
    // link serves that read afresh.
    if (target - now <= interval - ahead) target += interval;
  }
  target_ = last_ns == 0 ? EventLoop::Clock::time_point{} : target;
  reconnect_timer_.start(std::max(target - ahead - now, EventLoop::Clock::duration::zero()),
                         [this] { want_link(); });
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
    give_back_turn(false);
    return retry_later();
  }
  // A per-read device connects every interval by design: only a connect after a failure
  // is a reconnect.
  const bool reconnect = per_read() ? after_failure_ : counters_.connects > 0;
  ++counters_.connects;
  if (reconnect) slot_->reconnects.fetch_add(1, std::memory_order_relaxed);
  link_up_ = std::chrono::steady_clock::now();
  taken_ = false;
  got_reading_ = false;
  rssi_.reset();
  Bm6Link::Options link_options;
  link_options.att.transaction_timeout = options_.response_timeout;
  link_options.att.max_peer_pdus_per_second = options_.peer_pdu_limit;
  link_options.stream_timeout = options_.stream_timeout;
  link_options.family = options_.model;
  link_options.likely_family = detected_;
  link_options.detection_window = options_.detection_window;
  link_options.cache = &cache_;
  Bm6Link::Handlers handlers;
  handlers.on_family = [this](Family family) {
    // Remembered for later links, whose detection tries it first; a change is news.
    const auto before = detected_;
    detected_ = family;
    if (!before) {
      emit(DeviceEvent::kModelDetected, to_string(family));
    } else if (*before != family) {
      cache_.drop();  // another monitor at the address: its handles are its own
      emit(DeviceEvent::kModelChanged,
           std::string(to_string(*before)) + ", now " + to_string(family));
    }
  };
  handlers.on_reading = [this](const Reading& r, std::chrono::system_clock::time_point at) {
    if (taken_) return;  // per-read: closing after its reading
    ++counters_.readings;
    ask_rssi();
    // Held back while stored records are downloaded: they go out first, this is older.
    const bool stored = !backfill_ || backfill_->on_reading(*link_);
    if (stored) slot_->store({r, at, rssi_});
    if (!got_reading_) {
      got_reading_ = true;
      first_reading_ = std::chrono::steady_clock::now();
      emit(DeviceEvent::kFirstReading, "");
    }
    // Per-read: the first reading that goes out ends the link (after a backfill's download).
    if (per_read() && link_ && stored) {
      taken_ = true;
      per_read_done();
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
    give_back_turn(false);
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
  last_link_stats_ = link_->stats();
  if (taken_) {
    // Per-read, closed by us after its reading: not a loss, nothing to say.
    link_.reset();
    give_back_turn(true);
    return schedule_next_turn();
  }
  // "Broken pipe" says what the socket saw; a monitor that closed before answering is busy.
  const std::string reason = explain_link_closed(socket_reason, link_->bearer().stats().pdus_in);
  // Called from the link's own deferred handler, never from inside the link's code.
  if (backfill_) backfill_->on_link_gone();
  link_.reset();
  give_back_turn(false);
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
  after_failure_ = true;
  target_ = {};  // a retry serves whichever read comes: its lateness says nothing of the lead
  reconnect_timer_.start(backoff(failures_), [this] {
    if (per_read()) return want_link();
    connect();
  });
}

}  // namespace bm6
