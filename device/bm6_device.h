// A configured BM6 and its connection for as long as the plugin runs: connect, set up,
// stream, and on any failure reconnect with exponential backoff and jitter. Lives on the
// engine's loop thread; readings cross to collectd's read threads through a ReadingSlot.
//
// A per-read device (LinkMode::kPerRead) links only for a reading: ahead of the read that
// will take it (the slot says when reads happen), it asks its adapter's LinkBudget for a
// turn, connects, takes the first valid reading and closes at once, leaving the monitor
// free for a phone until the next turn. Failures back off as a persistent device's do.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "device/bm6_link.h"
#include "device/handle_cache.h"
#include "device/link_budget.h"
#include "protocol/family.h"
#include "protocol/history.h"
#include "transport/address.h"
#include "transport/connector.h"
#include "transport/event_loop.h"
#include "transport/lifetime.h"

namespace bm6 {

// Persistent: one link for as long as the plugin runs, a reading every second (the phone
// app is kept out). Per-read: a link per read interval, just long enough for one reading.
enum class LinkMode { kPersistent, kPerRead };

struct DeviceOptions {
  std::string name{};
  DeviceAddress address{};             // with its LE address type (BM6s use public)
  std::optional<AdapterId> adapter{};  // Bluetooth adapter; unset: the first that is up
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds reconnect_min{1000};
  std::chrono::milliseconds reconnect_max{60000};
  // No reading for this long: write the command again; three such in a row: reconnect.
  std::chrono::milliseconds stream_timeout{5000};
  std::chrono::milliseconds response_timeout{30000};  // one ATT transaction
  // A monitor sends about one PDU a second: a peer sending more than this many in a second
  // is flooding, and its link is closed (then backed off like any failure). 0: no limit.
  unsigned peer_pdu_limit = 100;
  // The monitor's family; unset: detected on the first link and remembered (Model "auto").
  std::optional<Family> model{};
  // Detection: how long to wait for a frame after one family's request before the next's.
  std::chrono::milliseconds detection_window{2000};
  // How often the plugin reads the device (collectd's interval for it): the link's RSSI is
  // asked as soon as the link is up, so that its first reading carries it, and then once
  // per interval, the reading that goes out carrying the newest answer.
  std::chrono::milliseconds read_interval{10000};
  // Passive mode: read the monitor's advertisements, never connect (device/passive_device.h).
  bool passive = false;
  // Passive: no reading from an advertisement for this long is silence; 0: 3 read intervals.
  std::chrono::milliseconds passive_timeout{0};
  // Passive: the advertisement's byte 10 dispatched as the temperature (PassiveTemperature).
  // Off by default: public captures show only 1-7 there, so it is probably not one.
  bool passive_temperature = false;
  LinkMode link = LinkMode::kPersistent;
  // Per-read: from the link up to its first reading, at most this long (plus two detection
  // windows while a first link detects the family), or the link is closed and the turn given back
  // as failed: a monitor that accepts and answers nothing must not hold a shared link for the 30 s
  // ATT response timeout. On a radio a per-read link's reading comes in 1-1.5 s.
  std::chrono::milliseconds per_read_setup{3000};
  // Backfill (device/history_download.h): when a link's first reading comes more than a
  // record period after the last reading dispatched (ReadingSlot::last_dispatched), the
  // stored records covering the gap (at most backfill_max of it) are downloaded and handed
  // to the read callback (ReadingSlot::take_history) before any live reading of that link.
  // Live readings held back meanwhile are handed over the same way if the download fails.
  bool backfill = false;
  std::chrono::seconds backfill_max{std::chrono::hours(48)};
  std::chrono::milliseconds record_period{kHistoryPeriod};  // the monitor's, whole seconds
};

struct TimedReading {
  Reading reading;
  std::chrono::system_clock::time_point received;
  std::optional<int> rssi_dbm{};  // of the link, when the transport can tell (Bluetooth)
  // Passive mode: a BM2's advertisement has no state; an iBeacon has the charge only.
  bool voltage_known = true;
  bool state_known = true;
};

// The newest reading not yet dispatched, handed from the loop thread to a read callback,
// and the device's health counters, which only grow.
class ReadingSlot {
 public:
  std::atomic<std::uint64_t> frames_dropped{0};  // notifications that were not readings
  std::atomic<std::uint64_t> reconnects{0};      // connections after the first
  std::atomic<std::uint64_t> stored{0};          // readings stored (benchmarks' frame count)
  std::atomic<std::uint64_t> air_ms{0};          // per-read: milliseconds its links were up, in all
  // When the latest take() ran (steady clock, ns since its epoch; 0: never): a per-read
  // device times its next link from it, so the reading is fresh when the read comes.
  std::atomic<std::int64_t> last_take_ns{0};

  void store(const TimedReading& r) {
    stored.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    latest_ = r;
  }
  // Backfill: stored records for the read callback, oldest first, to dispatch before any
  // live reading it takes afterwards; and the time of the last reading it dispatched (ns
  // since the epoch, 0: unknown), which tells the loop thread where a gap starts.
  std::atomic<std::int64_t> last_dispatched_ns{0};
  void store_history(std::vector<TimedHistoryRecord> records) {
    std::lock_guard lock(mutex_);
    history_.insert(history_.end(), records.begin(), records.end());
  }
  std::vector<TimedHistoryRecord> take_history() {
    std::lock_guard lock(mutex_);
    return std::exchange(history_, {});
  }

  // The newest reading, if one arrived since the last take() and not before `not_before`.
  // Either way the slot is empty afterwards: no value is dispatched twice.
  std::optional<TimedReading> take(std::chrono::system_clock::time_point not_before) {
    last_take_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                       std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    std::optional<TimedReading> r;
    r.swap(latest_);
    if (r && r->received < not_before) return std::nullopt;
    return r;
  }

 private:
  std::mutex mutex_;
  std::optional<TimedReading> latest_;
  std::vector<TimedHistoryRecord> history_;
};

// Counters a device keeps for the life of the plugin, for tests and benchmarks: loop thread
// only. The counters collectd reads live in the ReadingSlot, as atomics.
struct DeviceCounters {
  std::uint64_t connects = 0;          // successful connects
  std::uint64_t connect_failures = 0;  // attempts that did not connect
  std::uint64_t link_losses = 0;       // established links that went down
  std::uint64_t readings = 0;
  std::uint64_t per_read_links = 0;  // per-read links closed after their reading
  std::chrono::nanoseconds air{};    // per-read: link up to link down, summed
};

// A link that delivered readings for this long was healthy: its loss starts the reconnect
// backoff afresh. One that drops sooner keeps backing off, so a flapping device is retried
// ever more slowly rather than at the minimum delay after each short success.
inline constexpr std::chrono::seconds kStableLink{60};

enum class DeviceEvent {
  kFirstReading,    // the first reading on a new link: readings flow
  kConnectFailed,   // an attempt failed; `failure` says why
  kLinkLost,        // an established link went down; `failure` says why (kind kLinkLost)
  kModelDetected,   // the first link found the family; `detail` is its name ("BM7")
  kModelChanged,    // a later link found another family; `detail`: "BM6, now BM7"
  kSilent,          // passive: no reading from an advertisement for the timeout; `failure` why
  kBackfilled,      // a history download filled a gap; `detail` says how much
  kBackfillFailed,  // a history download failed; `detail` says why (once per gap)
  // The device's adapter cannot give every per-read device a reading every interval;
  // `detail` says so and what it can do. Once per adapter, through one of its devices.
  kAdapterOverbooked,
  // Per-read links cannot be ended at once (no management interface capability): each
  // lingers about 2 s after its reading; `detail` says so and why. Once per plugin.
  kLinksLinger,
};

// What a device says: the event, a detail for people (for a failure, the failure's), and
// with kConnectFailed, kLinkLost and kSilent the failure as a value, which is what code
// decides on.
struct DeviceReport {
  DeviceEvent event;
  std::string detail{};
  DeviceFailure failure{FailureKind::kNone};
};

std::string format_seconds(std::chrono::milliseconds ms);  // "2.5 s"

class Backfill;

class Bm6Device {
 public:
  using EventHandler = std::function<void(const DeviceOptions&, const DeviceReport&)>;

  // `connector` is made from options by the caller (make_connector), with its timeout.
  Bm6Device(EventLoop& loop, DeviceOptions options, std::unique_ptr<Connector> connector,
            std::shared_ptr<ReadingSlot> slot, EventHandler on_event);
  ~Bm6Device();
  Bm6Device(const Bm6Device&) = delete;
  Bm6Device& operator=(const Bm6Device&) = delete;

  // Per-read turns come from `budget` (the adapter's; it must outlive the device); without
  // one a per-read device links whenever it is due. Before start().
  void set_budget(LinkBudget* budget) { budget_ = budget; }
  void start();
  // Closes the link and cancels everything pending; fires no events.
  void stop();

  const DeviceCounters& counters() const { return counters_; }
  const DeviceOptions& options() const { return options_; }
  // Failures in a row that the reconnect backoff counts (loop thread only).
  unsigned consecutive_failures() const { return failures_; }
  bool linked() const { return link_ != nullptr; }
  bool per_read() const { return options_.link == LinkMode::kPerRead; }
  const HandleCache& handle_cache() const { return cache_; }
  const PollPolicy& poll_policy() const { return poll_; }
  // The latest link's statistics (ATT PDUs to its first reading, cache use); zeros before.
  const Bm6LinkStats& last_link_stats() const { return last_link_stats_; }
  const Backfill* backfill() const { return backfill_.get(); }
  // The family configured, or detected on a link and remembered; nullopt until then.
  std::optional<Family> model() const { return options_.model ? options_.model : detected_; }
  // The delay before reconnect attempt `attempt` (1-based): min * 2^(attempt-1), capped at
  // max, then scaled by a random factor in [0.5, 1] so many devices do not retry in step.
  std::chrono::milliseconds backoff(unsigned attempt);

 private:
  void connect();
  void on_connected(UniqueFd fd, const LinkError& error);
  Bm6Link::Options make_link_options();  // for the next link
  void on_link_closed(const DeviceFailure& why);
  void on_reading(const Reading& r, std::chrono::system_clock::time_point at);
  void retry_later();
  void ask_rssi();      // once per read interval, from a reading
  void ask_rssi_now();  // the link is up
  void emit(DeviceEvent event, const std::string& detail);
  void emit(DeviceEvent event, const DeviceFailure& failure);
  // Per-read: ask for a turn (the budget's, if any), then connect.
  void want_link();
  void on_turn();
  // `linked`: a link came up on the turn, and is ended through the connector where it can
  // be (its slot then free once it is gone, not after the kernel's linger).
  void give_back_turn(bool delivered, bool linked = false);
  void per_read_done();       // the reading is in: close, give the turn back, plan the next
  void schedule_next_turn();  // ahead of the next read that a new reading would serve
  // Per-read: no first reading `after` from now (`total` since the link came up) closes it.
  void bound_setup(std::chrono::milliseconds after, std::chrono::milliseconds total);
  // Backfill: live readings held back during a download, one per read interval at most.
  void hold(const TimedReading& r);
  // The download failed or its link went: the held readings go out after all, in order.
  void release_held();
  EventLoop::Clock::duration lead() const;
  std::unique_ptr<Backfill> make_backfill();

  EventLoop& loop_;
  DeviceOptions options_;
  std::unique_ptr<Connector> connector_;
  std::shared_ptr<ReadingSlot> slot_;
  EventHandler on_event_;
  std::unique_ptr<Bm6Link> link_;
  std::unique_ptr<Backfill> backfill_;  // with options_.backfill; told before link_ goes
  Timer reconnect_timer_;
  unsigned failures_ = 0;     // consecutive, reset when a stable link (kStableLink) goes down
  bool got_reading_ = false;  // on the current link
  std::chrono::steady_clock::time_point first_reading_{};  // of the current link
  std::optional<int> rssi_;                                // of the current link
  std::chrono::steady_clock::time_point rssi_asked_{};
  std::optional<Family> detected_;  // by a link, for the plugin's life (Model "auto")
  bool stopped_ = true;
  std::minstd_rand rng_;
  DeviceCounters counters_;
  HandleCache cache_;  // across this device's links
  // When its links write the command again, with what they learnt of the unit's pace.
  PollPolicy poll_;
  Bm6LinkStats last_link_stats_{};
  // Per-read.
  LinkBudget* budget_ = nullptr;
  LinkBudget::Ticket ticket_ = 0;
  bool taken_ = false;          // the current link delivered its reading
  bool after_failure_ = false;  // the next connect is a reconnect (counted as one)
  std::chrono::steady_clock::time_point wanted_at_{}, turn_at_{}, link_up_{};
  double lead_s_ = 0;  // running mean: from wanting a link to its reading, seconds
  EventLoop::Clock::time_point target_{};  // the read the next link is for (unset: unknown)
  Timer setup_timer_;                      // per-read: from link up to its first reading
  std::vector<TimedReading> held_;         // backfill: live readings held during a download
  WeakSelf self_;                          // for late RSSI answers
};

}  // namespace bm6
