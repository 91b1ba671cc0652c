// One ATT bearer over a connected SOCK_SEQPACKET fd (one datagram = one PDU), in the manner
// of BlueZ's src/shared/att.c: at most one request of ours in flight with its own timer,
// at most one indication of ours awaiting its confirmation with its own timer, a separate
// queue for commands, notifications, confirmations and our responses, every peer request
// answered, and the link shut down on a protocol violation.
//
// It serves both roles. As a client it sends requests and takes notifications and
// indications. As a server, the owner sets a request handler: each peer request goes to it
// and must be answered exactly once, then or later, with respond() or respond_error(); the
// peer may not send another request before that (the protocol is sequential), and one that
// does gets its link closed. Without a request handler the bearer answers as a client with
// an empty database: Exchange MTU with our MTU, discovery with Attribute Not Found, anything
// else with Request Not Supported.
//
// Owned and driven by one EventLoop thread. Callbacks run on that thread and may destroy
// the bearer; the destructor fires none.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "transport/att.h"
#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/link_error.h"
#include "transport/transaction_queue.h"
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
  // How long a socket whose link the peer or the kernel ended stays open after the bearer
  // closed (see close()): the kernel's teardown of the link is over long before.
  static constexpr std::chrono::milliseconds kPeerGoneCloseDelay{500};
  struct Options {
    std::chrono::milliseconds transaction_timeout{30000};  // Core spec: 30 s
    std::uint16_t rx_mtu = att::kMaxMtu;                   // the MTU we offer
    // A peer sending more PDUs than this unasked (everything but responses) within one
    // second floods the link, which is closed at once: a hostile peer then costs what the
    // owner's reconnect backoff allows, not a core until the transaction timeout. 0: no
    // limit. Only the owner knows what rate is normal for its peer.
    unsigned max_peer_pdus_per_second = 0;
  };
  struct Stats {
    std::uint64_t pdus_in = 0;
    std::uint64_t pdus_out = 0;
    // Our requests sent: each is a round trip, as one at a time is in flight (commands
    // sent behind one ride along).
    std::uint64_t requests_out = 0;
    std::uint64_t peer_requests_answered = 0;
    std::uint64_t notifications = 0;
    std::uint64_t indications = 0;
    std::uint64_t indications_sent = 0;
    std::uint64_t confirmations = 0;
  };
  using ResponseHandler = std::function<void(const AttResult&)>;
  using ValueHandler = std::function<void(std::uint16_t handle, std::span<const std::uint8_t>)>;
  using ClosedHandler = std::function<void(const LinkError& why)>;
  // A peer request or command: its opcode and parameters (valid during the call only).
  using PduHandler = std::function<void(std::uint8_t opcode, std::span<const std::uint8_t>)>;
  using ConfirmedHandler = std::function<void()>;

  // Takes the connected, non-blocking fd. Throws std::system_error if the loop refuses it.
  AttBearer(EventLoop& loop, UniqueFd fd, Options options);
  AttBearer(EventLoop& loop, UniqueFd fd) : AttBearer(loop, std::move(fd), Options{}) {}
  ~AttBearer();
  AttBearer(const AttBearer&) = delete;
  AttBearer& operator=(const AttBearer&) = delete;

  // Queues a request; `on_response` runs once with its response or Error Response. If the
  // bearer closes first it never runs: the closed handler tells the owner instead.
  void send_request(std::vector<std::uint8_t> pdu, ResponseHandler on_response);
  // Queues a PDU that expects no answer: a command (Write Command), a notification, or a
  // response the owner builds itself.
  void send_without_response(std::vector<std::uint8_t> pdu);

  // Server role. Queues a Handle Value Notification.
  void send_notification(std::uint16_t handle, std::span<const std::uint8_t> value);
  // Queues a Handle Value Indication; one at a time is outstanding, the next waits for the
  // confirmation. `on_confirmed` runs once when it comes; a confirmation that does not come
  // within the transaction timeout closes the link.
  void send_indication(std::uint16_t handle, std::span<const std::uint8_t> value,
                       ConfirmedHandler on_confirmed = nullptr);
  // Every peer request goes to `handler`, which answers it (then or later) with respond() or
  // respond_error(), or never (the peer times out).
  void set_request_handler(PduHandler handler) { on_request_ = std::move(handler); }
  // Peer commands (Write Command, Signed Write Command, unknown commands); never answered.
  void set_command_handler(PduHandler handler) { on_command_ = std::move(handler); }
  // Answers the peer's pending request with `pdu`, which must be the response to it (a bug
  // otherwise: the link closes). An Exchange MTU Response makes the bearer adopt the agreed
  // MTU once it is queued. Returns false, sending nothing, if no request is pending (the link
  // closed since, or it was answered already).
  bool respond(std::vector<std::uint8_t> pdu);
  // Answers the peer's pending request with an Error Response.
  bool respond_error(std::uint8_t error_code, std::uint16_t handle = 0);
  // The opcode of the peer request awaiting our answer, if any.
  std::optional<std::uint8_t> pending_peer_request() const { return peer_request_; }

  void set_notification_handler(ValueHandler handler) { on_notification_ = std::move(handler); }
  // Indications are confirmed by the bearer after the handler returns.
  void set_indication_handler(ValueHandler handler) { on_indication_ = std::move(handler); }
  // Runs once, from the loop (never inside another call), after the link closed for any
  // reason other than the destructor.
  void set_closed_handler(ClosedHandler handler) { on_closed_ = std::move(handler); }

  // Shuts the link down now: pending requests are dropped, the closed handler runs with `why`.
  void close(LinkError why);
  // The owner closes the link: kClosedByUs with `reason` as the detail.
  void close(const std::string& reason);

  bool is_open() const { return fd_.get() >= 0; }
  int fd() const { return fd_.get(); }  // for socket options of the link; -1 once closed
  std::uint16_t mtu() const { return mtu_; }
  // The MTU both sides agreed on: min(ours, theirs), never below 23.
  void set_peer_mtu(std::uint16_t peer_rx_mtu);
  // Changes Options::max_peer_pdus_per_second, for an exchange the owner knows is bigger than
  // its peer's normal rate (a bulk download), and back. Starts a fresh one-second window, so
  // the PDUs of a burst allowed under a raised limit do not count against the restored one.
  void set_max_peer_pdus_per_second(unsigned limit);
  unsigned max_peer_pdus_per_second() const { return options_.max_peer_pdus_per_second; }
  std::uint16_t rx_mtu() const { return options_.rx_mtu; }
  const Stats& stats() const { return stats_; }

 private:
  struct Request {
    std::vector<std::uint8_t> pdu;
    ResponseHandler on_response;
  };
  struct Indication {
    std::vector<std::uint8_t> pdu;
    ConfirmedHandler on_confirmed;
  };

  void on_events(std::uint32_t events);
  void read_pdus();
  // Each returns false if the bearer closed or was destroyed while handling the PDU.
  bool handle_pdu(std::span<const std::uint8_t> pdu);
  bool handle_response(std::uint8_t opcode, std::span<const std::uint8_t> params);
  bool handle_value(bool indication, std::span<const std::uint8_t> params);
  bool handle_peer_request(std::uint8_t opcode, std::span<const std::uint8_t> params);
  bool handle_confirmation();
  void answer_by_default(std::uint8_t opcode, std::span<const std::uint8_t> params);
  void flush();
  bool send_pdu(const std::vector<std::uint8_t>& pdu);  // false: would block or failed
  void update_interest();
  void on_timeout();
  bool within_peer_budget();  // false: the link was closed for flooding
  void on_indication_timeout();
  void fail(LinkErrorKind kind, std::string detail, int os_errno = 0);

  EventLoop& loop_;
  Options options_;
  UniqueFd fd_;
  std::uint16_t mtu_ = att::kDefaultMtu;
  std::deque<std::vector<std::uint8_t>> write_queue_;  // commands, confirmations, responses
  TransactionQueue<Request> requests_;
  TransactionQueue<Indication> indications_;
  std::optional<std::uint8_t> peer_request_;  // the peer request awaiting our answer
  std::uint16_t peer_offered_mtu_ = 0;        // with a pending Exchange MTU Request
  bool want_write_ = false;
  ValueHandler on_notification_;
  ValueHandler on_indication_;
  ClosedHandler on_closed_;
  PduHandler on_request_;
  PduHandler on_command_;
  Stats stats_;
  EventLoop::Clock::time_point budget_window_{};  // start of the current one-second window
  unsigned budget_used_ = 0;                      // peer PDUs in that window
  WeakSelf self_;
};

}  // namespace bm6
