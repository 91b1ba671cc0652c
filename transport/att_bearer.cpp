#include "transport/att_bearer.h"
#include "transport/receive_batch.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

namespace bm6 {

AttBearer::AttBearer(EventLoop& loop, UniqueFd fd, Options options)
    : loop_(loop), options_(options), fd_(std::move(fd)), requests_(loop), indications_(loop) {
  options_.rx_mtu = std::clamp(options_.rx_mtu, att::kDefaultMtu, att::kMaxMtu);
  if (!loop_.watch(fd_.get(), EPOLLIN, [this](std::uint32_t ev) { on_events(ev); }))
    throw std::system_error(errno, std::generic_category(), "epoll_ctl ATT socket");
}

AttBearer::~AttBearer() {
  if (fd_) loop_.unwatch(fd_.get());
}

void AttBearer::set_peer_mtu(std::uint16_t peer_rx_mtu) {
  mtu_ = std::max(att::kDefaultMtu, std::min(options_.rx_mtu, peer_rx_mtu));
}

void AttBearer::send_request(std::vector<std::uint8_t> pdu, ResponseHandler on_response) {
  if (!is_open()) return;
  requests_.enqueue(Request{std::move(pdu), std::move(on_response)});
  flush();
}

void AttBearer::send_without_response(std::vector<std::uint8_t> pdu) {
  if (!is_open()) return;
  write_queue_.push_back(std::move(pdu));
  flush();
}

void AttBearer::send_notification(std::uint16_t handle, std::span<const std::uint8_t> value) {
  send_without_response(att::encode_handle_value(att::kHandleValueNotification, handle, value));
}

void AttBearer::send_indication(std::uint16_t handle, std::span<const std::uint8_t> value,
                                ConfirmedHandler on_confirmed) {
  if (!is_open()) return;
  indications_.enqueue(
      Indication{att::encode_handle_value(att::kHandleValueIndication, handle, value),
                 std::move(on_confirmed)});
  flush();
}

bool AttBearer::respond(std::vector<std::uint8_t> pdu) {
  if (!is_open() || !peer_request_) return false;
  const std::uint8_t req = *peer_request_;
  if (pdu.empty() || (pdu[0] != att::response_to(req) && pdu[0] != att::kErrorRsp)) {
    fail(LinkErrorKind::kOther, std::string("bug: ") +
                                    (pdu.empty() ? "empty PDU" : att::opcode_name(pdu[0])) +
                                    " in answer to the peer's " + att::opcode_name(req));
    return false;
  }
  peer_request_.reset();
  ++stats_.peer_requests_answered;
  const bool mtu_exchanged = req == att::kExchangeMtuReq && pdu[0] == att::kExchangeMtuRsp;
  // The new MTU applies only after the response is sent (queued first, then adopted).
  send_without_response(std::move(pdu));
  if (mtu_exchanged && is_open()) set_peer_mtu(peer_offered_mtu_);
  return true;
}

bool AttBearer::respond_error(std::uint8_t error_code, std::uint16_t handle) {
  if (!is_open() || !peer_request_) return false;
  return respond(att::encode_error_rsp(*peer_request_, handle, error_code));
}

void AttBearer::close(const std::string& reason) {
  close(link_error(LinkErrorKind::kClosedByUs, reason));
}

void AttBearer::fail(LinkErrorKind kind, std::string detail, int os_errno) {
  close(link_error(kind, std::move(detail), os_errno));
}

void AttBearer::close(LinkError why) {
  if (!is_open()) return;
  requests_.clear();
  indications_.clear();
  loop_.unwatch(fd_.get());
  if (why.kind == LinkErrorKind::kClosedByPeer || why.kind == LinkErrorKind::kLinkLost) {
    // The kernel woke us from the middle of its own teardown of the link: closing now races
    // it, and Linux 6.1 (Debian 12's kernel) then deletes the link's HCI channel twice and
    // oopses in hci_chan_del (upstream "Bluetooth: L2CAP: Fix corrupted list in
    // hci_chan_del"), killing the thread inside close(). So the socket is closed a moment later.
    loop_.add_timer(kPeerGoneCloseDelay, [fd = std::make_shared<UniqueFd>(std::move(fd_))] {});
  }
  fd_.reset();
  write_queue_.clear();
  peer_request_.reset();
  // Deferred, so whoever called close() (or sent the PDU that failed) is never re-entered;
  // dropped if the owner destroys the bearer first.
  if (auto handler = std::move(on_closed_)) {
    loop_.post([self = self_.ref(), handler = std::move(handler), why = std::move(why)] {
      if (self.alive()) handler(why);
    });
  }
}

bool AttBearer::send_pdu(const std::vector<std::uint8_t>& pdu) {
  if (pdu.size() > mtu_) {
    fail(LinkErrorKind::kOther,
         "bug: outgoing " + std::string(att::opcode_name(pdu[0])) + " exceeds the ATT MTU");
    return false;
  }
  loop_.note_syscalls();
  const ssize_t n = ::send(fd_.get(), pdu.data(), pdu.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(pdu.size())) {
    ++stats_.pdus_out;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) return false;
  const int err = n < 0 ? errno : 0;
  fail(LinkErrorKind::kLinkLost,
       n < 0 ? std::string("send failed: ") + std::strerror(err) : "short send", err);
  return false;
}

void AttBearer::flush() {
  while (is_open() && !write_queue_.empty()) {
    if (!send_pdu(write_queue_.front())) break;
    write_queue_.pop_front();
  }
  if (!is_open()) return;
  // Requests and indications wait for the write queue to drain.
  if (!write_queue_.empty()) return update_interest();
  if (const Request* r = requests_.next_to_send(); r && send_pdu(r->pdu)) {
    ++stats_.requests_out;
    requests_.sent(options_.transaction_timeout, [this] { on_timeout(); });
  }
  if (!is_open()) return;
  if (const Indication* i = indications_.next_to_send(); i && send_pdu(i->pdu)) {
    ++stats_.indications_sent;
    indications_.sent(options_.transaction_timeout, [this] { on_indication_timeout(); });
  }
  if (is_open()) update_interest();
}

void AttBearer::update_interest() {
  const bool want = !write_queue_.empty() || requests_.unsent() || indications_.unsent();
  if (want == want_write_) return;
  want_write_ = want;
  loop_.modify(fd_.get(), want ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
}

void AttBearer::on_timeout() {
  const Request* r = requests_.awaiting();
  const std::string what = r ? att::opcode_name(r->pdu[0]) : "request";
  fail(LinkErrorKind::kTimedOut,
       "ATT transaction timed out (" + what + " unanswered for " +
           std::to_string(options_.transaction_timeout.count()) + " ms)",
       ETIMEDOUT);
}

void AttBearer::on_indication_timeout() {
  fail(LinkErrorKind::kTimedOut,
       "ATT transaction timed out (Handle Value Indication unconfirmed for " +
           std::to_string(options_.transaction_timeout.count()) + " ms)",
       ETIMEDOUT);
}

void AttBearer::on_events(std::uint32_t events) {
  const auto self = self_.ref();
  if (events & EPOLLIN) {
    read_pdus();
    if (!self.alive() || !is_open()) return;
  }
  if (events & (EPOLLERR | EPOLLHUP)) {
    int err = 0;
    socklen_t len = sizeof err;
    loop_.note_syscalls();
    ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return fail(LinkErrorKind::kLinkLost, std::string("link lost: ") + std::strerror(err), err);
    fail(LinkErrorKind::kClosedByPeer, "link closed by peer");
    return;
  }
  if (events & EPOLLOUT) flush();
}

namespace {

// One wake-up's receive buffers: up to 32 datagrams taken with one recvmmsg() (so one
// chatty peer cannot starve the others), each buffer one byte more than the largest MTU so
// that an oversized PDU shows as such. Shared by the bearers of a thread (16.5 kB once, not
// per link); a bearer whose handler runs another bearer's read_pdus() on the same thread (a
// nested loop) gets a buffer of its own.
struct PduBatch {
  ReceiveBatch<att::kMaxMtu + 1, 32> datagrams;
  bool busy = false;
};

class BorrowedBatch {
 public:
  BorrowedBatch() {
    thread_local std::unique_ptr<PduBatch> shared;
    if (!shared) shared = std::make_unique<PduBatch>();
    if (shared->busy) {
      own_ = std::make_unique<PduBatch>();
      batch_ = own_.get();
    } else {
      batch_ = shared.get();
    }
    batch_->busy = true;
  }
  ~BorrowedBatch() { batch_->busy = false; }
  BorrowedBatch(const BorrowedBatch&) = delete;
  BorrowedBatch& operator=(const BorrowedBatch&) = delete;
  PduBatch& operator*() const { return *batch_; }

 private:
  std::unique_ptr<PduBatch> own_;
  PduBatch* batch_;
};

}  // namespace

void AttBearer::read_pdus() {
  const auto self = self_.ref();
  const BorrowedBatch borrowed;
  auto& batch = (*borrowed).datagrams;
  // One system call for every PDU that is ready, up to the bound.
  loop_.note_syscalls();
  const int n = batch.receive(fd_.get());
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    const int err = errno;
    fail(LinkErrorKind::kLinkLost, std::string("link lost: ") + std::strerror(err), err);
    return;
  }
  for (int i = 0; i < n; ++i) {
    const auto datagram = batch[i];
    // A zero-length datagram is EOF on a SEQPACKET socket (recvmmsg() reports it as one).
    if (datagram.length == 0) {
      fail(LinkErrorKind::kClosedByPeer, "link closed by peer");
      return;
    }
    ++stats_.pdus_in;
    if (datagram.length > mtu_ || datagram.truncated) {
      fail(LinkErrorKind::kProtocol, "protocol violation: " + std::to_string(datagram.length) +
                                         "-byte PDU exceeds the ATT MTU of " +
                                         std::to_string(mtu_));
      return;
    }
    if (!handle_pdu(datagram.bytes)) return;
    if (!self.alive() || !is_open()) return;
  }
}

void AttBearer::set_max_peer_pdus_per_second(unsigned limit) {
  options_.max_peer_pdus_per_second = limit;
  budget_window_ = EventLoop::Clock::now();
  budget_used_ = 0;
}

bool AttBearer::within_peer_budget() {
  const unsigned limit = options_.max_peer_pdus_per_second;
  if (limit == 0) return true;
  const auto now = EventLoop::Clock::now();
  if (now - budget_window_ >= std::chrono::seconds(1)) {
    budget_window_ = now;
    budget_used_ = 0;
  }
  if (++budget_used_ <= limit) return true;
  fail(LinkErrorKind::kProtocol, "the peer floods the link: more than " + std::to_string(limit) +
                                     " PDUs unasked within one second");
  return false;
}

bool AttBearer::handle_pdu(std::span<const std::uint8_t> pdu) {
  const auto view = att::split(pdu);
  // Responses are bounded by our requests; everything else the peer sends counts.
  if ((!view || att::classify(view->opcode) != att::PduKind::kResponse) && !within_peer_budget())
    return false;
  if (!view) return true;  // an empty datagram carries nothing to answer
  switch (att::classify(view->opcode)) {
    case att::PduKind::kResponse:
      return handle_response(view->opcode, view->params);
    case att::PduKind::kNotification:
      return handle_value(false, view->params);
    case att::PduKind::kIndication:
      return handle_value(true, view->params);
    case att::PduKind::kRequest:
      return handle_peer_request(view->opcode, view->params);
    case att::PduKind::kCommand: {
      // Commands are never answered.
      if (!on_command_) return true;
      const auto self = self_.ref();
      PduHandler h = on_command_;  // the handler may replace itself
      h(view->opcode, view->params);
      return self.alive() && is_open();
    }
    case att::PduKind::kConfirmation:
      return handle_confirmation();
  }
  return true;
}

bool AttBearer::handle_response(std::uint8_t opcode, std::span<const std::uint8_t> params) {
  if (!requests_.awaiting()) {
    fail(LinkErrorKind::kProtocol,
         std::string("protocol violation: unexpected ") + att::opcode_name(opcode));
    return false;
  }
  const std::uint8_t req = requests_.awaiting()->pdu[0];
  AttResult result;
  result.opcode = opcode;
  result.params = params;
  if (opcode == att::kErrorRsp) {
    const auto err = att::decode_error_rsp(params);
    if (!err || err->request_opcode != req) {
      fail(LinkErrorKind::kProtocol,
           std::string("protocol violation: malformed or mismatched Error Response to ") +
               att::opcode_name(req));
      return false;
    }
    result.error = err->code;
    result.error_handle = err->handle;
  } else if (opcode != att::response_to(req)) {
    fail(LinkErrorKind::kProtocol, std::string("protocol violation: ") + att::opcode_name(opcode) +
                                       " in answer to " + att::opcode_name(req));
    return false;
  }
  Request done = requests_.complete();
  const auto self = self_.ref();
  if (done.on_response) done.on_response(result);
  if (!self.alive() || !is_open()) return false;
  flush();
  return is_open();
}

bool AttBearer::handle_value(bool indication, std::span<const std::uint8_t> params) {
  const auto hv = att::decode_handle_value(params);
  if (!hv) {
    fail(LinkErrorKind::kProtocol, std::string("protocol violation: malformed ") +
                                       (indication ? "indication" : "notification"));
    return false;
  }
  const auto self = self_.ref();
  auto& handler = indication ? on_indication_ : on_notification_;
  ++(indication ? stats_.indications : stats_.notifications);
  if (handler) {
    ValueHandler h = handler;  // the handler may replace itself
    h(hv->handle, hv->value);
    if (!self.alive() || !is_open()) return false;
  }
  if (indication) send_without_response(att::encode_empty(att::kHandleValueConfirmation));
  return is_open();
}

bool AttBearer::handle_confirmation() {
  if (!indications_.awaiting()) {
    fail(LinkErrorKind::kProtocol, "protocol violation: unexpected Handle Value Confirmation");
    return false;
  }
  Indication done = indications_.complete();
  ++stats_.confirmations;
  const auto self = self_.ref();
  if (done.on_confirmed) done.on_confirmed();
  if (!self.alive() || !is_open()) return false;
  flush();
  return is_open();
}

bool AttBearer::handle_peer_request(std::uint8_t opcode, std::span<const std::uint8_t> params) {
  if (peer_request_) {
    fail(LinkErrorKind::kProtocol, std::string("protocol violation: ") + att::opcode_name(opcode) +
                                       " before our answer to " + att::opcode_name(*peer_request_));
    return false;
  }
  if (!on_request_) {
    answer_by_default(opcode, params);
    return is_open();
  }
  peer_request_ = opcode;
  peer_offered_mtu_ = 0;
  if (opcode == att::kExchangeMtuReq) {
    if (const auto mtu = att::decode_mtu(params)) peer_offered_mtu_ = *mtu;
  }
  const auto self = self_.ref();
  PduHandler h = on_request_;  // the handler may replace itself
  h(opcode, params);
  return self.alive() && is_open();
}

void AttBearer::answer_by_default(std::uint8_t opcode, std::span<const std::uint8_t> params) {
  ++stats_.peer_requests_answered;
  switch (opcode) {
    case att::kExchangeMtuReq: {
      const auto mtu = att::decode_mtu(params);
      if (!mtu) {
        send_without_response(att::encode_error_rsp(opcode, 0, att::kInvalidPdu));
        return;
      }
      // Answer with our MTU first: the new MTU applies only after the response is sent.
      send_without_response(att::encode_mtu(att::kExchangeMtuRsp, options_.rx_mtu));
      set_peer_mtu(*mtu);
      return;
    }
    case att::kFindInformationReq:
    case att::kFindByTypeValueReq:
    case att::kReadByTypeReq:
    case att::kReadByGroupTypeReq: {
      // We are a client with an empty database.
      const std::uint16_t start = params.size() >= 2 ? att::get_le16(params.data()) : 0;
      send_without_response(att::encode_error_rsp(opcode, start, att::kAttributeNotFound));
      return;
    }
    default:
      send_without_response(att::encode_error_rsp(opcode, 0, att::kRequestNotSupported));
      return;
  }
}

}  // namespace bm6
