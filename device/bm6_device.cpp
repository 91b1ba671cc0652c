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
          static_cast<std::size_t>(std::chrono::steady_clock::now().time_since_epoch().count()))),
      poll_(PollPolicy::Options{options_.stream_timeout, Bm6Link::Options{}.max_silent_commands}),
      setup_timer_(loop) {
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
  setup_timer_.cancel();
  held_.clear();
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

void Bm6Device::give_back_turn(bool delivered, bool linked) {
  if (!per_read()) return;
  // The link ends now rather than idling ~2 s in the kernel: the phone gets the monitor
  // sooner, and the slot is free once the kernel says the link is gone.
  auto slot_free = std::make_shared<std::function<void()>>();
  const bool ending = linked && connector_->end_link([slot_free] {
    if (*slot_free) (*slot_free)();
  });
  if (!budget_ || ticket_ == 0) return;
  // A failed turn held the link as long as a good one would have: the others waited for it
  // all the same, so it counts in the budget's estimate (and says so in its warning).
  const auto held = std::chrono::steady_clock::now() - turn_at_;
  if (ending)
    *slot_free = budget_->release_until_gone(ticket_, held, !delivered);
  else
    budget_->release(ticket_, held, !delivered);
  ticket_ = 0;
}

void Bm6Device::bound_setup(std::chrono::milliseconds after, std::chrono::milliseconds total) {
  setup_timer_.start(after, [this, total] {
    if (!link_ || got_reading_) return;
    // A monitor that answered the set-up and is being asked for its family (a first link,
    // Model auto): one more detection window per family that needs a request (BM6's request
    // then BM7's). Once only.
    if (total == options_.per_read_setup && !model() &&
        link_->phase() == Bm6Link::Phase::kCommand) {
      const auto requests = families_where([](const FamilyTraits& t) { return t.needs_request; });
      const auto more = static_cast<int>(requests.size()) * options_.detection_window;
      return bound_setup(more, total + more);
    }
    link_->close(FailureKind::kSilent,
                 "no reading for " + format_seconds(total) +
                     " after the link came up (a per-read link's set-up is bounded)");
  });
}

void Bm6Device::hold(const TimedReading& r) {
  // One per read interval is what the reads would have taken: a newer one within the
  // interval replaces the newest held, which stays the newest.
  const auto n = held_.size();
  if ((n >= 2 && r.received - held_[n - 2].received < options_.read_interval) || n >= 64)
    held_.back() = r;
  else
    held_.push_back(r);
}

void Bm6Device::release_held() {
  if (held_.empty()) return;
  const TimedReading newest = held_.back();
  // All but the newest as records (in order, before any live reading), each filed in a
  // later second than the one before it (as rrdtool files them, rounded) and in an earlier
  // second than the newest, which goes out as the live reading it is.
  const auto second = [](std::chrono::system_clock::time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t);
  };
  std::vector<TimedHistoryRecord> records;
  for (std::size_t i = 0; i + 1 < held_.size(); ++i) {
    const auto& h = held_[i];
    if (second(h.received) >= second(newest.received) || !files_after(newest.received, h.received))
      continue;
    if (!records.empty() && !files_after(h.received, records.back().at)) continue;
    records.push_back({HistoryRecord{.centivolts = h.reading.centivolts,
                                     .soc_percent = h.reading.soc_percent,
                                     .temperature_c = h.reading.temperature_c},
                       h.received});
  }
  held_.clear();
  if (!records.empty()) slot_->store_history(std::move(records));
  slot_->store(newest);
  // Per-read: that was the link's reading.
  if (per_read() && link_ && !taken_) {
    taken_ = true;
    per_read_done();
  }
}

EventLoop::Clock::duration Bm6Device::lead() const {
  // Twice what a reading took lately (queue, connect, set-up, first frame), and at least
  // one round of the adapter's turns (and a failed turn's hold, when turns failed lately:
  // this one may queue behind such a turn) and 1 s; at most half the interval, so that the
  // reading is never older than the interval when the read takes it.
  using namespace std::chrono;
  const double round = budget_ ? budget_->round_seconds() : 0;
  const double failed = budget_ ? budget_->failed_hold_seconds() : 0;
  const double wanted_s =
      std::max({2 * lead_s_, 1.5 * round, failed > 0 ? round + failed : 0, 1.0});
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
  // The fd closes now; on_link_closed follows, and says nothing.
  link_->close(FailureKind::kNone, "per-read: reading taken");
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
  if (on_event_) on_event_(options_, {event, detail});
}

void Bm6Device::emit(DeviceEvent event, const DeviceFailure& failure) {
  if (on_event_) on_event_(options_, {event, failure.detail, failure});
}

std::string format_seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

void Bm6Device::connect() {
  connector_->connect(
      [this](UniqueFd fd, const LinkError& error) { on_connected(std::move(fd), error); });
}

Bm6Link::Options Bm6Device::make_link_options() {
  Bm6Link::Options link_options;
  link_options.att.transaction_timeout = options_.response_timeout;
  link_options.att.max_peer_pdus_per_second = options_.peer_pdu_limit;
  link_options.stream_timeout = options_.stream_timeout;
  link_options.family = options_.model;
  link_options.likely_family = detected_;
  link_options.detection_window = options_.detection_window;
  link_options.cache = &cache_;
  link_options.poll = &poll_;
  if (per_read()) {
    // One round trip on a known monitor (device/bm6_link.h); the MTU only for a download.
    link_options.pipeline = true;
    link_options.exchange_mtu = backfill_ && backfill_->may_download(options_.per_read_setup);
  }
  return link_options;
}

void Bm6Device::on_connected(UniqueFd fd, const LinkError& error) {
  if (stopped_) return;
  if (!fd) {
    ++counters_.connect_failures;
    emit(DeviceEvent::kConnectFailed, connect_failed(error));
    give_back_turn(false);
    return retry_later();
  }
  // A per-read device connects every interval by design: only a connect after a failure
  // is a reconnect.
  const bool reconnect = per_read() ? after_failure_ : counters_.connects > 0;
  ++counters_.connects;
  if (reconnect) slot_->reconnects.fetch_add(1, std::memory_order_relaxed);
  link_up_ = std::chrono::steady_clock::now();
  if (per_read())
    if (auto note = connector_->links_linger_note()) emit(DeviceEvent::kLinksLinger, *note);
  taken_ = false;
  got_reading_ = false;
  rssi_.reset();
  Bm6Link::Options link_options = make_link_options();
  Bm6Link::Handlers handlers;
  handlers.on_family = [this](Family family) {
    // Remembered for later links, whose detection tries it first; a change is news.
    const auto before = detected_;
    detected_ = family;
    if (!before) {
      emit(DeviceEvent::kModelDetected, to_string(family));
    } else if (*before != family) {
      cache_.drop();  // another monitor at the address: its handles and pace are its own
      poll_.forget();
      emit(DeviceEvent::kModelChanged,
           std::string(to_string(*before)) + ", now " + to_string(family));
    }
  };
  handlers.on_reading = [this](const Reading& r, std::chrono::system_clock::time_point at) {
    on_reading(r, at);
  };
  handlers.on_closed = [this](const DeviceFailure& why) { on_link_closed(why); };
  handlers.on_dropped = [this] { slot_->frames_dropped.fetch_add(1, std::memory_order_relaxed); };
  try {
    link_ = std::make_unique<Bm6Link>(loop_, std::move(fd), link_options, std::move(handlers));
    // Asked now, the answer (a connection event or two) comes long before the set-up's
    // seven round trips are done: the first reading carries it.
    ask_rssi_now();
    if (per_read()) bound_setup(options_.per_read_setup, options_.per_read_setup);
  } catch (const std::exception& e) {
    ++counters_.connect_failures;
    emit(DeviceEvent::kConnectFailed,
         connect_failed(link_error(LinkErrorKind::kResource, e.what())));
    give_back_turn(false);
    retry_later();
  }
}

void Bm6Device::on_reading(const Reading& r, std::chrono::system_clock::time_point at) {
  if (taken_) return;  // per-read: closing after its reading
  ++counters_.readings;
  ask_rssi();
  // Held back while stored records are downloaded: they go out first, this is older.
  const bool stored = !backfill_ || backfill_->on_reading(*link_);
  if (stored)
    slot_->store({r, at, rssi_});
  else
    hold({r, at, rssi_});
  if (!got_reading_) {
    got_reading_ = true;
    setup_timer_.cancel();
    first_reading_ = std::chrono::steady_clock::now();
    emit(DeviceEvent::kFirstReading, "");
  }
  // Per-read: the first reading that goes out ends the link (after a backfill's download).
  if (per_read() && link_ && stored) {
    taken_ = true;
    per_read_done();
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

void Bm6Device::on_link_closed(const DeviceFailure& why) {
  if (stopped_) return;
  const bool was_streaming = got_reading_;
  last_link_stats_ = link_->stats();
  setup_timer_.cancel();
  // Called from the link's own deferred handler, never from inside the link's code. Also
  // after a per-read link's reading: the next link, whenever it comes, checks for a gap.
  if (backfill_) backfill_->on_link_gone();
  if (taken_) {
    // Per-read, closed by us after its reading: not a loss, nothing to say.
    link_.reset();
    give_back_turn(true, true);
    return schedule_next_turn();
  }
  link_.reset();
  release_held();  // a download the link took with it: its live readings go out
  give_back_turn(false, true);
  if (was_streaming) {
    if (std::chrono::steady_clock::now() - first_reading_ >= kStableLink) failures_ = 0;
    ++counters_.link_losses;
    emit(DeviceEvent::kLinkLost, DeviceFailure{FailureKind::kLinkLost, why.cause, why.detail});
  } else {
    ++counters_.connect_failures;
    emit(DeviceEvent::kConnectFailed, why);
  }
  retry_later();
}

std::unique_ptr<Backfill> Bm6Device::make_backfill() {
  Backfill::Options o;
  o.period = options_.record_period;
  o.max = options_.backfill_max;
  o.peer_pdu_limit = options_.peer_pdu_limit;
  // A per-read device's readings are an interval apart: only more than that is a gap.
  if (per_read()) o.spacing = options_.read_interval;
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
    // Done well, the records cover the download's time; failed, the held readings go out.
    if (ok)
      held_.clear();
    else
      release_held();
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
