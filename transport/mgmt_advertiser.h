// Advertising data of one's own through the kernel's Bluetooth management interface (mgmt
// Add Advertising 0x003E, Remove Advertising 0x003F; BlueZ doc/mgmt-api.txt). The kernel
// then picks the HCI commands (legacy or extended advertising) that its controller and its
// own scanning expect; raw HCI advertising on a 5.0 controller goes unseen by the kernel's
// extended scanning.
//
// Re-adding an existing instance updates it and restarts its advertising at once. A real
// controller repeats an advertisement every interval by itself; an emulated one (btvirt)
// reports an advertiser to scanners only when advertising is switched on, so the advertiser
// can re-add its instances periodically, which also brings them back after another program
// (bluetoothd starting) removed them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/mgmt_socket.h"
#include "transport/unique_fd.h"

namespace bm6 {

namespace mgmt {

inline constexpr std::uint16_t kOpAddAdvertising = 0x003e;
inline constexpr std::uint16_t kOpRemoveAdvertising = 0x003f;
inline constexpr std::uint16_t kEvCommandComplete = 0x0001;
inline constexpr std::uint16_t kEvCommandStatus = 0x0002;
// Add Advertising flags.
inline constexpr std::uint32_t kAdvConnectable = 1u << 0;   // connectable, identity address
inline constexpr std::uint32_t kAdvDiscoverable = 1u << 1;  // the kernel prepends Flags (3 bytes)
// Legacy advertising data and scan response: at most 31 bytes each, Flags included.
inline constexpr std::size_t kMaxLegacyData = 31;

struct AdvertisingInstance {
  std::uint8_t id = 1;  // 1-254
  std::uint32_t flags = 0;
  std::vector<std::uint8_t> adv_data;  // AD structures (length, type, data...)
  std::vector<std::uint8_t> scan_rsp;
  // Seconds until the kernel removes the instance by itself (0: never): re-adding starts it
  // again, so an advertiser that dies without removing its instances (SIGKILL) leaves them
  // for this long only. The kernel refuses a timeout while the adapter is powered off.
  std::uint16_t timeout_s = 0;
  bool operator==(const AdvertisingInstance&) const = default;
};

// The command packets (header: opcode, controller index, parameter length; little-endian).
// Add Advertising: nullopt when a data field is over 255 bytes (the kernel checks the rest).
std::optional<std::vector<std::uint8_t>> encode_add_advertising(std::uint16_t index,
                                                                const AdvertisingInstance& i);
std::vector<std::uint8_t> encode_remove_advertising(std::uint16_t index, std::uint8_t instance);

// A little-endian 16-bit field, as every management field is.
std::uint16_t le16(const std::uint8_t* p);

// A Command Complete or Command Status event.
struct CommandReply {
  std::uint16_t index = 0;
  std::uint16_t opcode = 0;
  std::uint8_t status = 0;  // 0: success
};
std::optional<CommandReply> decode_command_reply(std::span<const std::uint8_t> packet);
// "rejected (LE off, or the adapter powered off)", "invalid parameters ...", ...
std::string status_text(std::uint8_t status);

}  // namespace mgmt

// Keeps a set of advertising instances added on one adapter while started: adds them at
// start(), again every `refresh` (asking `source` each time, so data that changes is
// advertised as it changes), and removes them at stop() and on destruction. Replies are
// read from the loop; a failure is reported once (not every refresh) until an add succeeds,
// except Busy, which the next refresh retries.
class MgmtAdvertiser {
 public:
  using Source = std::function<std::vector<mgmt::AdvertisingInstance>()>;
  using ProblemHandler = std::function<void(const std::string& problem)>;
  struct Options {
    std::uint16_t index = 0;                 // the adapter, as in hciN
    std::chrono::milliseconds refresh{150};  // 0: add only at start()
  };
  struct Stats {
    std::uint64_t adds_sent = 0;
    std::uint64_t removes_sent = 0;
    std::uint64_t failures = 0;  // replies with an error status, and writes that failed
  };

  // `control`: a management socket (mgmt::open_control_socket), or a test's peer.
  // `on_problem` runs from start(), stop() and the loop; it must not destroy the advertiser.
  MgmtAdvertiser(EventLoop& loop, UniqueFd control, Options options, Source source,
                 ProblemHandler on_problem);
  ~MgmtAdvertiser();
  MgmtAdvertiser(const MgmtAdvertiser&) = delete;
  MgmtAdvertiser& operator=(const MgmtAdvertiser&) = delete;

  void start();  // adds now, then every refresh; does nothing while started
  void stop();   // removes what was added; nothing more until start()
  bool started() const { return started_; }
  const Stats& stats() const { return stats_; }

 private:
  void add_all();
  void remove_all();
  void send(const std::vector<std::uint8_t>& packet, const char* what);
  void on_readable();
  void problem(const std::string& text);

  EventLoop& loop_;
  UniqueFd fd_;
  Options options_;
  Source source_;
  ProblemHandler on_problem_;
  Timer refresh_;
  std::vector<std::uint8_t> added_;  // instance ids added and not removed
  bool started_ = false;
  bool reported_ = false;  // a problem was reported and nothing succeeded since
  Stats stats_;
  WeakSelf self_;
};

}  // namespace bm6
