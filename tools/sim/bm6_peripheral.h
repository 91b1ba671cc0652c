// A simulated BM6: a GATT server with the monitor's database, the encrypted live-data
// protocol, and one central at a time. Serves Unix SEQPACKET sockets (one datagram = one ATT
// PDU, as on an L2CAP ATT channel).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/bm6_frame.h"
#include "transport/att.h"
#include "transport/event_loop.h"
#include "transport/unique_fd.h"

namespace bm6::sim {

// Ways a simulated BM6 misbehaves, one per device, for the first `fault_connections`.
enum class Fault {
  kNone,
  kDropAtMtu,        // the link drops at the MTU exchange
  kDropAtDiscovery,  // ... at service discovery
  kDropAfterCccd,    // ... right after notifications were enabled
  kDropMidStream,    // ... after three frames
  kSilent,           // accepts, then answers nothing
  kGarbage,          // between real frames: random bytes, wrong lengths, bad fields, frames
                     // on another handle, acknowledgements, all-zero frames
  kErrorDiscovery,   // ATT error response to service discovery
  kErrorCccd,        // ATT error response to the CCCD write
  kErrorCommand,     // ATT error response to the command write
  kPeerRequests,     // sends the client requests and an indication of its own
  kFirmwareUpdate,   // handles move with every connection; Service Changed mid-stream
  kFlood,            // thousands of frames per second
  kLate,             // answers every request 1.5 s late (past a 1 s client timeout)
  kNeverAccept,      // listens, but never accepts a central (for good)
};
const char* to_string(Fault fault);
bool parse_fault(const std::string& name, Fault& fault);

struct SimDevice {
  Bm6Reading reading{1340, 23, 100, Bm6State::kNormal};
  std::chrono::milliseconds period{1000};
  std::uint16_t mtu = att::kDefaultMtu;  // the server's rx MTU
  bool streams = true;                   // false: takes the command, never notifies
  // 0: the reading never changes. Otherwise a charge/discharge cycle of this length: the
  // voltage swings 0.4 V and the state of charge 15 points around the configured values,
  // and the state says charging while they rise.
  std::chrono::milliseconds cycle{0};
  std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();  // cycle start
  Fault fault = Fault::kNone;
  std::uint64_t fault_connections = ~0ull;  // how many connections misbehave
  std::uint16_t first_handle = 1;           // where the database starts (firmware update)
};

// The reading a device shows `elapsed` after the simulator started.
Bm6Reading reading_at(const SimDevice& device, std::chrono::steady_clock::duration elapsed);

struct GattAttribute {
  std::uint16_t handle;
  att::Uuid type;
  std::vector<std::uint8_t> value;
  bool readable = true;
  bool writable = false;
};

// The attribute layout of a BM6 as a phone sees it: GAP, GATT (with Service Changed), a
// 128-bit vendor service, then FFF0 with FFF1..FFF5; FFF4 has a user description before
// its CCCD.
struct Bm6Database {
  std::vector<GattAttribute> attributes;
  std::uint16_t service_changed = 0;  // value handles and CCCDs the server acts on
  std::uint16_t service_changed_cccd = 0;
  std::uint16_t command = 0;
  std::uint16_t data = 0;
  std::uint16_t data_cccd = 0;
};
Bm6Database make_bm6_database(std::uint16_t first_handle = 1);

// One connection: answers ATT requests, streams encrypted frames once asked to.
class Bm6Peripheral {
 public:
  struct Stats {
    std::uint64_t requests = 0;
    std::uint64_t commands = 0;
    std::uint64_t frames_sent = 0;
  };
  Bm6Peripheral(EventLoop& loop, UniqueFd conn, Bm6Codec& codec, const SimDevice& device,
                std::function<void()> on_closed);
  ~Bm6Peripheral();
  Bm6Peripheral(const Bm6Peripheral&) = delete;
  Bm6Peripheral& operator=(const Bm6Peripheral&) = delete;

  const Stats& stats() const { return stats_; }
  bool notifying() const { return notify_; }
  // Sends a Service Changed indication for the whole database (tests of rediscovery).
  void indicate_service_changed();

 private:
  void on_events(std::uint32_t events);
  void handle(std::span<const std::uint8_t> pdu);
  void answer(std::uint8_t opcode, std::span<const std::uint8_t> params);
  void read_by_group_type(std::span<const std::uint8_t> params);
  void read_by_type(std::span<const std::uint8_t> params);
  void find_information(std::span<const std::uint8_t> params);
  void find_by_type_value(std::span<const std::uint8_t> params);
  void read(std::span<const std::uint8_t> params);
  // Returns an ATT error code, or 0.
  std::uint8_t write(std::uint16_t handle, std::span<const std::uint8_t> value);
  void on_command(const Block& plaintext);
  void on_period();  // one stream period: a frame, or the fault's doing
  void after_cccd_enabled();
  void notify(const Block& plaintext);
  void send(std::vector<std::uint8_t> pdu);
  void flush();
  void close();
  const GattAttribute* find(std::uint16_t handle) const;
  std::uint16_t group_end(std::size_t service_index) const;

  EventLoop& loop_;
  UniqueFd fd_;
  Bm6Codec& codec_;
  SimDevice device_;
  std::function<void()> on_closed_;
  Bm6Database db_;
  std::uint16_t mtu_ = att::kDefaultMtu;
  bool notify_ = false;
  EventLoop::TimerId stream_timer_ = 0;
  std::shared_ptr<std::function<void()>> stream_tick_;  // re-arms itself each period
  std::deque<std::vector<std::uint8_t>> out_;
  bool want_write_ = false;
  Stats stats_;
  std::uint64_t ticks_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// A listening socket that serves one central at a time; others are accepted and closed at
// once, as the monitor ignores a second central while it has one.
class Bm6SimServer {
 public:
  // Throws std::system_error if the socket cannot be bound.
  Bm6SimServer(EventLoop& loop, std::string path, SimDevice device);
  // Serves an already listening socket (an L2CAP LE socket on the ATT channel, say);
  // `name` is what path() reports.
  Bm6SimServer(EventLoop& loop, UniqueFd listening, std::string name, SimDevice device);
  ~Bm6SimServer();

  const std::string& path() const { return path_; }
  std::uint64_t connections() const { return connections_; }
  std::uint64_t turned_away() const { return turned_away_; }
  Bm6Peripheral* peripheral() { return peripheral_.get(); }
  void set_device(const SimDevice& device) { device_ = device; }
  // Told "connected", "disconnected" or "turned away" as centrals come and go.
  void set_observer(std::function<void(const char* event)> observer) {
    observer_ = std::move(observer);
  }

 private:
  void on_accept();

  EventLoop& loop_;
  std::string path_;
  bool unlink_path_ = false;
  SimDevice device_;
  UniqueFd listen_;
  Bm6Codec codec_;
  std::unique_ptr<Bm6Peripheral> peripheral_;
  std::function<void(const char*)> observer_;
  std::uint64_t connections_ = 0;
  std::uint64_t turned_away_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// A listening L2CAP LE socket on the ATT fixed channel of `adapter` ("hci0"), as a BM6's
// controller would accept centrals. Throws std::system_error with a readable message.
UniqueFd listen_l2cap(const std::string& adapter);

}  // namespace bm6::sim
