// One ATT bearer over a connected SOCK_SEQPACKET fd (one datagram = one PDU), in the manner
// of BlueZ's src/shared/att.c: at most one request of ours in flight with its own timer,
// a separate queue for commands, confirmations and our responses, every peer request
// answered, and the link shut down on a protocol violation.
//
// Owned and driven by one EventLoop thread. Callbacks run on that thread and may destroy
// the bearer; the destructor fires none.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transport/att.h"
#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/unique_fd.h"

namespace bm6 {

// What came back for one request: its response, or the peer's Error Response.
struct AttResult {
  std::uint8_t opcode = 0;               // response opcode, or att::kErrorRsp
  std::span<const std::uint8_t> params;  // valid during the callback only
  std::uint8_t error = 0;                // with kErrorRsp: the error code
  std::uint16_t error_handle = 0;
  bool ok() const { return opcode != att::kErrorRsp; }
};

class AttBearer {
 public:
  struct Options {
    std::chrono::milliseconds transaction_timeout{30000};  // Core spec: 30 s
    std::uint16_t rx_mtu = att::kMaxMtu;                   // the MTU we offer
  };
  struct Stats {
    std::uint64_t pdus_in = 0;
    std::uint64_t pdus_out = 0;
    std::uint64_t peer_requests_answered = 0;
    std::uint64_t notifications = 0;
    std::uint64_t indications = 0;
  };
  using ResponseHandler = std::function<void(const AttResult&)>;
  using ValueHandler = std::function<void(std::uint16_t handle, std::span<const std::uint8_t>)>;
  using ClosedHandler = std::function<void(const std::string& reason)>;

  // Takes the connected, non-blocking fd. Throws std::system_error if the loop refuses it.
  AttBearer(EventLoop& loop, UniqueFd fd, Options options);
  AttBearer(EventLoop& loop, UniqueFd fd) : AttBearer(loop, std::move(fd), Options{}) {}
  ~AttBearer();
  AttBearer(const AttBearer&) = delete;
  AttBearer& operator=(const AttBearer&) = delete;

  // Queues a request; `on_response` runs once with its response or Error Response. If the
  // bearer closes first it never runs: the closed handler tells the owner instead.
  void send_request(std::vector<std::uint8_t> pdu, ResponseHandler on_response);
  // Queues a command (no answer expected), e.g. a Write Command.
  void send_command(std::vector<std::uint8_t> pdu);

  void set_notification_handler(ValueHandler handler) { on_notification_ = std::move(handler); }
  // Indications are confirmed by the bearer after the handler returns.
  void set_indication_handler(ValueHandler handler) { on_indication_ = std::move(handler); }
  // Runs once, from the loop (never inside another call), after the link closed for any
  // reason other than the destructor.
  void set_closed_handler(ClosedHandler handler) { on_closed_ = std::move(handler); }

  // Shuts the link down now: pending requests are dropped, the closed handler runs.
  void close(const std::string& reason);

  bool is_open() const { return fd_.get() >= 0; }
  int fd() const { return fd_.get(); }  // for socket options of the link; -1 once closed
  std::uint16_t mtu() const { return mtu_; }
  // The MTU both sides agreed on: min(ours, theirs), never below 23.
  void set_peer_mtu(std::uint16_t peer_rx_mtu);
  std::uint16_t rx_mtu() const { return options_.rx_mtu; }
  const Stats& stats() const { return stats_; }

 private:
  struct Request {
    std::vector<std::uint8_t> pdu;
    ResponseHandler on_response;
  };

  void on_events(std::uint32_t events);
  void read_pdus();
  // Each returns false if the bearer closed or was destroyed while handling the PDU.
  bool handle_pdu(std::span<const std::uint8_t> pdu);
  bool handle_response(std::uint8_t opcode, std::span<const std::uint8_t> params);
  bool handle_value(bool indication, std::span<const std::uint8_t> params);
  void answer_peer_request(std::uint8_t opcode, std::span<const std::uint8_t> params);
  void flush();
  bool send_pdu(const std::vector<std::uint8_t>& pdu);  // false: would block or failed
  void update_interest();
  void on_timeout();

  EventLoop& loop_;
  Options options_;
  UniqueFd fd_;
  std::uint16_t mtu_ = att::kDefaultMtu;
  std::deque<std::vector<std::uint8_t>> write_queue_;  // commands, confirmations, responses
  std::deque<Request> request_queue_;
  std::optional<Request> in_flight_;
  bool in_flight_sent_ = false;
  Timer timer_;  // the in-flight request's transaction timeout
  bool want_write_ = false;
  ValueHandler on_notification_;
  ValueHandler on_indication_;
  ClosedHandler on_closed_;
  Stats stats_;
  WeakSelf self_;
};

}  // namespace bm6
