// One connected monitor (BM6, BM7 or BM2): GATT set-up (MTU, discovery of FFF0/FFF3/FFF4 and
// FFF4's CCCD by UUID, notifications on, live-data command) and then decoded readings from
// FFF4 notifications. Writes the command again when a reading is overdue, or before a unit
// that stops after N readings stops (device/poll_policy.h); rediscovers on Service Changed.
// With a HandleCache (Options::cache), a later link skips discovery and writes the cached
// CCCD and command handles (see device/handle_cache.h for the checks).
//
// A per-read link sets Options::pipeline and, unless a history download may be due, clears
// Options::exchange_mtu (every frame fits the default MTU of 23; only a history answer puts
// several 16-byte blocks in one notification): a cached link then costs one round trip.
// Pipelined, the CCCD Write Request and the command as a Write Command go together (ATT
// lets a command follow a request still in flight, and the server handles them in order);
// where FFF3 takes only Write Requests, the CCCD goes as a Write Command ahead of the
// command's Write Request. A unit that ignores the pipelined form (no notification within
// Options::pipeline_window) gets the one-step-at-a-time form on the same link, and once that
// brings a notification, the handle cache remembers it (CachedHandles::pipelined).
//
// The family is configured (Options::family) or detected on the link: notifications on (a
// BM2 then streams by itself), the BM6 request, and after a detection window without a frame
// the BM7 request, in turn until one family's frame arrives (FamilyDetector; a family only
// after its traits' settle_frames agreeing frames: two for a BM2, as a random block passes its
// checks ~1 in 2,000).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <optional>
#include <span>

#include "device/handle_cache.h"
#include "device/link_errors.h"
#include "device/poll_policy.h"
#include "protocol/family.h"
#include "transport/att_bearer.h"
#include "transport/event_loop.h"
#include "transport/gatt_client.h"
#include "transport/lifetime.h"

namespace bm6 {

inline constexpr att::Uuid kBm6Service{0xfff0};
inline constexpr att::Uuid kBm6Command{0xfff3};
inline constexpr att::Uuid kBm6Data{0xfff4};

struct Bm6LinkStats {
  std::uint64_t readings = 0;
  std::uint64_t rejected[kLiveRejectionCount] = {};  // by reason; in detection, frames of
                                                     // no family count as kWrongPrefix
  std::uint64_t other_notifications = 0;             // on handles that are not FFF4's value
  std::uint64_t commands_sent = 0;
  std::uint64_t rediscoveries = 0;
  bool from_cache = false;                  // set up from the device's handle cache
  std::uint64_t cache_abandoned = 0;        // the cached handles failed a check: discovered
  std::uint64_t pdus_to_first_reading = 0;  // ATT PDUs sent before the first reading
  // ATT requests sent before the first reading: the link's round trips (one in flight).
  std::uint64_t requests_to_first_reading = 0;
  bool mtu_exchanged = false;
  bool pipelined = false;                // notifications on and command in one round trip
  std::uint64_t pipeline_fallbacks = 0;  // the unit ignored it: one step at a time instead
  std::uint64_t rejected_total() const;
};

class Bm6Link {
 public:
  struct Options {
    AttBearer::Options att;
    // The longest silence before the command is written again (sooner once the unit's
    // frame period is known: device/poll_policy.h), and the wait between commands that bring
    // no reading. Counted from the write, not its response, so a half-open link (whose write
    // is never answered) is closed after max_silent_commands * stream_timeout, not after the
    // ATT response timeout.
    std::chrono::milliseconds stream_timeout{5000};
    // That many commands in a row with no reading: the link is dead, close it.
    unsigned max_silent_commands = 3;
    // When to write the command again, with what earlier links learnt of the unit (the
    // device's, made with the two values above; must outlive the link). nullptr: the link's
    // own, learning from this link alone.
    PollPolicy* poll = nullptr;
    // The monitor's family as configured: no detection; another family's frames are wrong,
    // and named when the link gives up. Unset: detected on the link (the set-up bound is
    // then max_silent_commands * stream_timeout from the first request).
    std::optional<Family> family{};
    // Detection: the family an earlier link found, whose request goes first.
    std::optional<Family> likely_family{};
    // Detection: how long to wait for a frame after a request before writing the other
    // family's (at most stream_timeout).
    std::chrono::milliseconds detection_window{2000};
    // The device's handles from earlier links (used, checked, dropped or filled here);
    // nullptr: every link discovers. Must outlive the link.
    HandleCache* cache = nullptr;
    // Exchange MTU first (see the top of this file).
    bool exchange_mtu = true;
    // The CCCD write and the command in one round trip, and how long to wait for a
    // notification before taking the unit for one that ignores that form.
    bool pipeline = false;
    std::chrono::milliseconds pipeline_window{1500};
  };
  struct Handlers {
    std::function<void()> on_streaming{};  // set-up done, command written: the link streams
    std::function<void(const Reading&, std::chrono::system_clock::time_point)> on_reading{};
    // Once; may destroy the link. Why it closed: the bearer's failure (a link closed before
    // the monitor answered anything as busy: device/link_errors.h), or the link's own.
    std::function<void(const DeviceFailure& why)> on_closed{};
    // A notification that was wrong: not a reading, nor the acknowledgement or all-zero
    // frame a healthy monitor sends after a command; or on another handle.
    std::function<void()> on_dropped{};
    // Detection settled on the family (once per link; not called with Options::family).
    std::function<void(Family)> on_family{};
    // Every ATT notification as it arrived, on any handle, before the link makes anything
    // of it (bm6ctl capture records them). Must not destroy the link.
    std::function<void(std::uint16_t handle, std::span<const std::uint8_t> value)>
        on_raw_notification{};
  };
  enum class Phase { kMtu, kDiscovery, kEnable, kCommand, kStreaming, kClosed };

  // Starts set-up at once.
  Bm6Link(EventLoop& loop, UniqueFd fd, Options options, Handlers handlers);
  ~Bm6Link();
  Bm6Link(const Bm6Link&) = delete;
  Bm6Link& operator=(const Bm6Link&) = delete;

  // Closes the link; on_closed says `kind` and `detail`.
  void close(FailureKind kind, std::string detail) { fail(kind, std::move(detail)); }
  Phase phase() const { return phase_; }
  const Bm6LinkStats& stats() const { return stats_; }
  const AttBearer& bearer() const { return bearer_; }
  // For an exchange beside the live stream (device/history_download.h). FFF4 notifications go
  // to the tap first (ciphertext, once the family is known); those it returns true for are
  // neither readings nor dropped, and count as the stream's activity. nullptr removes it.
  // While a tap is set, the live-data command is written again only after stream_timeout
  // without a frame (PollPolicy::set_answering): the monitor is answering something else.
  using NotificationTap = std::function<bool(std::span<const std::uint8_t> ciphertext)>;
  void set_notification_tap(NotificationTap tap);
  // A live frame (ciphertext) the tap found inside a notification it took (a reading between
  // a history answer's blocks): decoded as if it had come alone.
  void take_live_frame(std::span<const std::uint8_t> ciphertext);
  // Writes a 16-byte request (ciphertext) to the command characteristic (FFF3); `done` runs
  // with no error once it is written, or with the error. false (nothing written) while the family
  // or the handles are not known (detection, rediscovery) or the link is closed.
  bool write_request(const Block& ciphertext, std::function<void(const LinkError&)> done);
  // The bearer's flood guard (AttBearer::set_max_peer_pdus_per_second).
  void set_peer_pdu_limit(unsigned limit) { bearer_.set_max_peer_pdus_per_second(limit); }
  // The family configured or detected; nullopt while detecting.
  std::optional<Family> family() const {
    return codec_ ? std::optional<Family>(codec_->family()) : std::nullopt;
  }

 private:
  void begin();  // after the MTU exchange, or at once: the cache, else discovery
  void discover();
  void use_cached(const CachedHandles& handles);
  // Cached handles failed a check: drop them and discover on this link. False if the link
  // was not set up from the cache (the caller then fails as without one).
  bool abandon_cache();
  void on_services(std::vector<GattService> services);
  void on_bm6_characteristics(std::vector<GattCharacteristic> chars);
  void enable_notifications(std::uint16_t cccd);
  void enable_pipelined(std::uint16_t cccd);
  void pipeline_ignored();   // no notification within the window: one step at a time
  void pipeline_answered();  // the first notification on the data handle
  void start_stream();       // notifications are on: detect the family, or send the command
  void send_command();
  void write_command(const Block& ciphertext);
  void streaming();
  void detect_step();
  void on_detection_frame(std::span<const std::uint8_t> value);
  void settle(Family family, std::span<const std::uint8_t> value);
  // Counts one frame that is evidence of `family`: whether enough agree to settle it.
  bool enough_evidence(Family family);
  // The family `value` is evidence of, once its traits' settle_frames frames agree.
  std::optional<Family> weigh(std::span<const std::uint8_t> value);
  void arm_stream_watchdog();
  void on_stream_deadline();
  DeviceFailure silence() const;
  void on_notification(std::uint16_t handle, std::span<const std::uint8_t> value);
  void on_indication(std::uint16_t handle, std::span<const std::uint8_t> value);
  // Closes the link for a failure of its own: on_closed gets it rather than the bearer's.
  void fail(FailureKind kind, std::string detail, LinkError cause = {});
  void fail(const LinkError& error) { fail(failure_kind(error), error.detail, error); }
  void fail(DeviceFailure failure);
  // Wraps a procedure callback so that a set-up superseded by a rediscovery is ignored.
  bool current(std::uint64_t generation) const { return generation == generation_; }

  // Once the family is configured or detected: the loop thread's codec for it, shared by
  // every link on the thread (AES key schedules cost kilobytes; a link needs none of its own).
  FamilyCodec* codec_ = nullptr;
  Options options_;
  Handlers handlers_;
  AttBearer bearer_;
  GattClient gatt_;
  Phase phase_ = Phase::kMtu;
  std::uint64_t generation_ = 0;
  std::uint16_t command_handle_ = 0;
  bool command_with_response_ = true;
  bool command_without_response_ = false;  // FFF3 takes Write Commands too
  bool pipeline_ok_ = true;                // try the pipelined set-up (until it is ignored)
  bool command_as_write_command_ = false;  // pipelined: commands go as Write Commands
  bool fell_back_ = false;                 // pipeline ignored: confirm the step-wise form
  std::uint16_t cccd_handle_ = 0;
  Timer pipeline_check_;
  bool command_unanswered_ = false;  // a Write Request of the command awaits its response
  std::uint16_t data_handle_ = 0;
  Timer watchdog_;
  PollPolicy own_poll_;  // unless Options::poll
  PollPolicy& poll_;
  // Detection: the families whose requests are written in turn, the next one, when it began.
  std::vector<Family> detection_order_;
  std::size_t next_request_ = 0;
  std::chrono::steady_clock::time_point detection_started_{};
  // Frames that were evidence of each family, on this link.
  unsigned evidence_frames_[std::size(kAllFamilies)] = {};
  std::optional<Family> foreign_{};          // configured family: another family whose frames came
  bool using_cache_ = false;                 // set up from the cache, not yet confirmed
  bool cache_confirmed_ = false;             // a notification came on the cached data handle
  std::optional<CachedHandles> discovered_;  // by this link: cached at its first reading
  Bm6LinkStats stats_;
  NotificationTap tap_;
  std::optional<DeviceFailure> failure_;  // why the link closed itself
};

}  // namespace bm6
