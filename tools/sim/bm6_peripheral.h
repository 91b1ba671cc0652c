// A simulated BM6, BM7 or BM2 (SimDevice::model): the monitor's attribute database served by the
// generic ATT server procedures (attribute_server.h) on an AttBearer, the encrypted live-data
// protocol, the fault plan (fault.h), and one central at a time. Serves Unix SEQPACKET sockets (one
// datagram = one ATT PDU, as on an L2CAP ATT channel) or a listening L2CAP socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/bm6_frame.h"
#include "protocol/family.h"
#include "protocol/history.h"
#include "tools/sim/attribute_server.h"
#include "tools/sim/fault.h"
#include "tools/sim/history_answer.h"
#include "tools/sim/unix_listener.h"
#include "transport/att.h"
#include "transport/att_bearer.h"
#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/unique_fd.h"

namespace bm6::sim {

// One notification of a capture to replay (bm6-sim --replay): its value as the monitor sent
// it (ciphertext) and when, in seconds since the capture began, if the capture says.
struct ReplayFrame {
  std::vector<std::uint8_t> value;
  std::optional<double> t;
};

struct SimDevice {
  // BM6 and BM7 stream after the live-data request under their own key (and ignore one
  // under another); a BM2 streams once notifications are on and ignores requests.
  Family model = Family::kBm6;
  Reading reading{1340, 23, 100, State::kNormal};  // a BM2 sends no temperature
  std::chrono::milliseconds period{1000};
  std::uint16_t mtu = att::kDefaultMtu;  // the server's rx MTU
  bool streams = true;                   // false: takes the command, never notifies
  // --stop-after N: N readings per live-data request, then silence until it is written again
  // (as owners report of some BM6s). 0: streams for ever.
  std::uint32_t stop_after = 0;
  // 0: the reading never changes. Otherwise a charge/discharge cycle of this length: the
  // voltage swings 0.4 V and the state of charge 15 points around the configured values,
  // and the state says charging while they rise.
  std::chrono::milliseconds cycle{0};
  std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();  // cycle start
  Fault fault = Fault::kNone;
  // How many connections misbehave; with kNeverAccept, how many connection attempts are
  // never answered.
  std::uint64_t fault_connections = ~0ull;
  std::uint16_t first_handle = 1;  // where the database starts (firmware update)
  // --busy PERIOD:DURATION: for DURATION of every PERIOD (from the start), another central
  // (the owner's phone) holds the monitor: centrals are turned away as while one is
  // connected. A link already up is left alone. Zero period: never busy.
  std::chrono::milliseconds busy_period{0};
  std::chrono::milliseconds busy_duration{0};
  // History (BM6, BM7): a record of the reading every record_period, kept across
  // connections (at most kSimHistoryCapacity); history_seed records are there at the start,
  // one period apart, the newest taken at the start.
  std::chrono::seconds record_period{kHistoryPeriod};
  std::uint32_t history_seed = 0;
  // --replay CAPTURE: these notifications instead of frames of `reading`, in order, each
  // link from the first and round again after the last, sent as they are (the model's key
  // still checks the live-data request, which a BM6 or BM7 replay waits for, sending no
  // acknowledgement of its own). Paced as the capture was (its "t") unless period_given;
  // frames without times, and the step from the last back to the first, take `period`.
  std::shared_ptr<const std::vector<ReplayFrame>> replay;
  bool period_given = false;  // --period given for this device
};

// What the simulated monitor keeps: 32 pages, the 8,192 records (11.4 days) one real BM6 gave.
inline constexpr std::size_t kSimHistoryCapacity = 32 * kHistoryRecordsPerPage;

// The records of one simulated monitor, newest first, one taken every record period on the
// server's loop for as long as it serves.
class SimHistory {
 public:
  using Observer =
      std::function<void(const HistoryRecord&, std::chrono::system_clock::time_point taken)>;
  SimHistory(EventLoop& loop, const SimDevice& device);
  // Told each record as it is taken (not the seed).
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  // Slot 0 is the newest.
  std::vector<HistoryRecord> records() const;
  std::size_t size() const { return stored_.size(); }

 private:
  void take();
  HistoryRecord record_at(std::chrono::steady_clock::time_point t) const;

  SimDevice device_;
  std::deque<HistoryRecord> stored_;  // newest first
  Timer timer_;
  Observer observer_;
};

// Whether `device` is held by its phone `elapsed` after the simulator started.
bool busy_at(const SimDevice& device, std::chrono::steady_clock::duration elapsed);

// The reading a device shows `elapsed` after the simulator started.
Reading reading_at(const SimDevice& device, std::chrono::steady_clock::duration elapsed);

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
// `name`: the GAP device name ("BM6", "BM300 Pro" for a BM7, "BM2").
Bm6Database make_bm6_database(std::uint16_t first_handle = 1, const std::string& name = "BM6");
// The GAP device name: the family's usual advertised name (FamilyTraits::advertised_names).
std::string gap_name(Family model);

// One connection: answers ATT requests, streams encrypted frames once asked to.
class Bm6Peripheral {
 public:
  struct Stats {
    std::uint64_t requests = 0;
    // Requests until the first command (a Write Request of it included): what setting the
    // link up cost; 0 while no command came.
    std::uint64_t setup_requests = 0;
    std::uint64_t commands = 0;
    std::uint64_t live_requests = 0;  // live-data requests of this model (each acknowledged)
    std::uint64_t frames_sent = 0;
    std::chrono::steady_clock::duration connected{};  // from accept to the link's end
    std::uint64_t history_requests = 0;
    std::uint64_t history_notifications = 0;  // of the answers
    // --fault no-pipelining: Write Commands ignored for coming behind an unanswered request
    // or on the CCCD.
    std::uint64_t ignored_commands = 0;
  };
  // `on_closed` runs from the loop once the link is gone; it may destroy the peripheral.
  // `history`: the monitor's records (none: the history request is not answered).
  Bm6Peripheral(EventLoop& loop, UniqueFd conn, const SimDevice& device,
                std::function<void()> on_closed, const SimHistory* history = nullptr);
  Bm6Peripheral(const Bm6Peripheral&) = delete;
  Bm6Peripheral& operator=(const Bm6Peripheral&) = delete;

  const Stats& stats() const { return stats_; }
  // The stats with `connected` up to now.
  Stats stats_now() const {
    Stats s = stats_;
    s.connected = std::chrono::steady_clock::now() - since_;
    return s;
  }
  bool notifying() const { return notify_; }
  const AttBearer& bearer() const { return bearer_; }
  // Drops the link (its closed handler runs from the loop).
  void drop(const std::string& why) { close(why); }
  // Sends a Service Changed indication for the whole database (tests of rediscovery).
  void indicate_service_changed();

 private:
  void on_request(std::uint8_t opcode, std::span<const std::uint8_t> params);
  // A Write Command a unit that takes one step at a time ignores (FaultPlan::ignores_pipelined).
  bool pipelined(std::uint8_t opcode, std::span<const std::uint8_t> params) const;
  void answer(std::uint8_t opcode, std::span<const std::uint8_t> params);
  std::uint8_t on_write(const GattAttribute& attribute, std::span<const std::uint8_t> value);
  void on_command(const Block& plaintext);
  void on_period();      // one stream period: a frame, or the fault's doing
  void replay_period();  // one frame of SimDevice::replay, and the timer for the next
  void send_garbage(Garbage kind, const Block& frame);
  void after_cccd_enabled();
  void start_stream();
  void notify(const Block& plaintext);
  void answer_history(std::uint8_t pages);
  void send_history(std::span<const Block> blocks);
  void close(const std::string& why);

  SimDevice device_;
  const SimHistory* history_;
  FamilyCodec codec_;  // the model's key
  FaultPlan plan_;
  std::function<void()> on_closed_;
  Bm6Database db_;
  AttributeServer server_;
  AttBearer bearer_;
  Timer stream_timer_;   // the next stream period
  Timer late_answer_;    // kLate: the pending request's answer
  Timer history_pause_;  // kHistoryPause: the rest of the history answer
  bool notify_ = false;
  Stats stats_;
  std::uint64_t ticks_ = 0;
  std::size_t replay_next_ = 0;      // the index of the next replayed frame
  std::uint64_t since_request_ = 0;  // stream periods since the last live-data request
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
};

class Bm6SimServer;

// The servers of one process, for counting links at once: a link whose central has hung up
// is not counted even before its server's loop has seen the hang-up, so a central that
// leaves one device and at once connects to another is never counted twice.
class LinkTally {
 public:
  void add(const Bm6SimServer* server) { servers_.push_back(server); }
  void remove(const Bm6SimServer* server);
  // Counts the links up now and keeps the maximum; returns the count.
  unsigned count();
  unsigned max() const { return max_; }

 private:
  std::vector<const Bm6SimServer*> servers_;
  unsigned max_ = 0;
};

// A listening socket that serves one central at a time; others are accepted and closed at
// once, as the monitor ignores a second central while it has one.
//
// With Fault::kNeverAccept for N attempts, the first N connection attempts are accepted and
// held without a word: the central sees a link that never answers anything, as when it sits
// in a backlog nobody accepts from, and the attempts can be counted. A held link is closed
// when the central gives up on it. Attempts after the N-th are served normally.
class Bm6SimServer {
 public:
  // Throws std::runtime_error if the socket cannot be bound (see UnixListener).
  Bm6SimServer(EventLoop& loop, std::string path, SimDevice device);
  // Serves an already listening socket (an L2CAP LE socket on the ATT channel, say);
  // `name` is what path() reports.
  Bm6SimServer(EventLoop& loop, UniqueFd listening, std::string name, SimDevice device);
  ~Bm6SimServer();
  Bm6SimServer(const Bm6SimServer&) = delete;
  Bm6SimServer& operator=(const Bm6SimServer&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t connections() const { return connections_; }
  std::uint64_t turned_away() const { return turned_away_; }
  std::uint64_t never_answered() const { return never_answered_; }  // kNeverAccept attempts
  std::uint64_t busy_refusals() const { return busy_refusals_; }    // --busy: turned away
  // A central is connected and has not hung up (LinkTally).
  bool link_up() const;
  void set_tally(LinkTally* tally);
  std::size_t held() const { return held_.size(); }
  // What the last central that left cost and got (zeros before one left).
  const Bm6Peripheral::Stats& last_link() const { return last_link_; }
  Bm6Peripheral* peripheral() { return peripheral_.get(); }
  SimHistory& history() { return history_; }
  void set_device(const SimDevice& device) { device_ = device; }
  // Out of range: the central's link drops, while the monitor goes on keeping its history.
  // On a Unix socket nobody answers a connect then, as on a radio: the backlog is kept
  // full and nothing accepted, so a central's connect waits until it gives up (see
  // SocketConnect); on an L2CAP socket, whose link the kernel completes, centrals are
  // turned away. Back in range: served again.
  void set_in_range(bool in_range);
  // Told "connected", "disconnected", "turned away" or "never answered" as centrals come
  // and go.
  void set_observer(std::function<void(const char* event)> observer) {
    observer_ = std::move(observer);
  }

 private:
  void watch_listener();
  void plug_backlog();  // out of range on a Unix socket
  void unplug_backlog();
  void on_accept();
  void hold(UniqueFd conn);
  void on_held_event(int fd);
  void tell(const char* event) {
    if (observer_) observer_(event);
  }

  EventLoop& loop_;
  std::string path_;
  SimDevice device_;
  UnixListener unix_;
  UniqueFd listen_;  // the L2CAP listener, when serving one
  int listen_fd_ = -1;
  UniqueFd plug_;  // out of range: our own connection filling the Unix socket's backlog
  SimHistory history_;
  std::unique_ptr<Bm6Peripheral> peripheral_;
  std::map<int, UniqueFd> held_;
  std::function<void(const char*)> observer_;
  std::uint64_t attempts_ = 0;
  std::uint64_t connections_ = 0;
  std::uint64_t turned_away_ = 0;
  std::uint64_t never_answered_ = 0;
  std::uint64_t busy_refusals_ = 0;
  LinkTally* tally_ = nullptr;
  bool in_range_ = true;
  Bm6Peripheral::Stats last_link_{};
  WeakSelf self_;
};

// A listening L2CAP LE socket on the ATT fixed channel of `adapter` ("hci0"), as a BM6's
// controller would accept centrals. Throws std::system_error with a readable message.
UniqueFd listen_l2cap(const std::string& adapter);

}  // namespace bm6::sim
