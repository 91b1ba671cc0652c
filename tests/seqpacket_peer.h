// Test helpers: a connected SOCK_SEQPACKET pair and a scripted ATT peer on the other end,
// driven by the same loop as the code under test.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <optional>
#include <vector>

#include "transport/event_loop.h"
#include "transport/unique_fd.h"

namespace bm6::test {

using Bytes = std::vector<std::uint8_t>;

struct SocketPair {
  UniqueFd ours;
  UniqueFd theirs;
};

inline SocketPair seqpacket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    throw std::runtime_error("socketpair failed");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Records every PDU it receives and answers with `respond` (which may return nothing).
class ScriptedPeer {
 public:
  using Responder = std::function<std::vector<Bytes>(const Bytes& pdu)>;
  ScriptedPeer(EventLoop& loop, UniqueFd fd, Responder respond = nullptr)
      : loop_(loop), fd_(std::move(fd)), respond_(std::move(respond)) {
    loop_.watch(fd_.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); });
  }
  ~ScriptedPeer() {
    if (fd_) loop_.unwatch(fd_.get());
  }
  // False when the socket's buffer is full (the PDU is not sent).
  bool send(const Bytes& pdu) {
    return ::send(fd_.get(), pdu.data(), pdu.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
           static_cast<ssize_t>(pdu.size());
  }
  void set_responder(Responder r) { respond_ = std::move(r); }
  void hang_up() {
    loop_.unwatch(fd_.get());
    fd_.reset();
  }
  const std::vector<Bytes>& received() const { return received_; }
  bool peer_closed() const { return peer_closed_; }

 private:
  void on_readable() {
    std::uint8_t buf[1024];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) return;
      if (n == 0) {
        peer_closed_ = true;
        loop_.unwatch(fd_.get());
        return;
      }
      Bytes pdu(buf, buf + n);
      received_.push_back(pdu);
      if (respond_)
        for (const auto& r : respond_(pdu)) send(r);
    }
  }
  EventLoop& loop_;
  UniqueFd fd_;
  Responder respond_;
  std::vector<Bytes> received_;
  bool peer_closed_ = false;
};

}  // namespace bm6::test
