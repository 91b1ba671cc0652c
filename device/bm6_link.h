// One connected BM6: GATT set-up (MTU, discovery of FFF0/FFF3/FFF4 and FFF4's CCCD by UUID,
// notifications on, live-data command) and then decoded readings from FFF4 notifications.
// Re-sends the command when the stream stalls; rediscovers on Service Changed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "protocol/bm6_frame.h"
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
  std::uint64_t rejected[kFrameRejectionCount] = {};  // by reason
  std::uint64_t other_notifications = 0;              // on handles that are not FFF4's value
  std::uint64_t commands_sent = 0;
  std::uint64_t rediscoveries = 0;
  std::uint64_t rejected_total() const;
};

class Bm6Link {
 public:
  struct Options {
    AttBearer::Options att;
    // No reading for this long after the command went out: write it again. Counted from
    // the write, not its response, so a half-open link (whose write is never answered) is
    // closed after max_silent_commands * stream_timeout, not after the ATT response timeout.
    std::chrono::milliseconds stream_timeout{5000};
    // That many commands in a row with no reading: the link is dead, close it.
    unsigned max_silent_commands = 3;
  };
  struct Handlers {
    std::function<void()> on_streaming{};  // set-up done, command written: the link streams
    std::function<void(const Bm6Reading&, std::chrono::system_clock::time_point)> on_reading{};
    std::function<void(const std::string& reason)> on_closed{};  // once; may destroy the link
    // A notification that was wrong: not a reading, nor the acknowledgement or all-zero
    // frame a healthy monitor sends after a command; or on another handle.
    std::function<void()> on_dropped{};
  };
  enum class Phase { kMtu, kDiscovery, kEnable, kCommand, kStreaming, kClosed };

  // Starts set-up at once. `codec` must outlive the link (one per loop thread).
  Bm6Link(EventLoop& loop, UniqueFd fd, Bm6Codec& codec, Options options, Handlers handlers);
  ~Bm6Link();
  Bm6Link(const Bm6Link&) = delete;
  Bm6Link& operator=(const Bm6Link&) = delete;

  void close(const std::string& reason) { bearer_.close(reason); }
  Phase phase() const { return phase_; }
  const Bm6LinkStats& stats() const { return stats_; }
  const AttBearer& bearer() const { return bearer_; }

 private:
  void discover();
  void on_services(std::vector<GattService> services);
  void on_bm6_characteristics(std::vector<GattCharacteristic> chars);
  void enable_notifications(std::uint16_t cccd);
  void send_command();
  void arm_stream_watchdog();
  void on_notification(std::uint16_t handle, std::span<const std::uint8_t> value);
  void on_indication(std::uint16_t handle, std::span<const std::uint8_t> value);
  void fail(const std::string& reason);
  // Wraps a procedure callback so that a set-up superseded by a rediscovery is ignored.
  bool current(std::uint64_t generation) const { return generation == generation_; }

  Bm6Codec& codec_;
  Options options_;
  Handlers handlers_;
  AttBearer bearer_;
  GattClient gatt_;
  Phase phase_ = Phase::kMtu;
  std::uint64_t generation_ = 0;
  std::uint16_t command_handle_ = 0;
  bool command_with_response_ = true;
  bool command_unanswered_ = false;  // a Write Request of the command awaits its response
  std::uint16_t data_handle_ = 0;
  Timer watchdog_;
  bool got_reading_since_command_ = false;
  unsigned silent_commands_ = 0;
  Bm6LinkStats stats_;
};

}  // namespace bm6
