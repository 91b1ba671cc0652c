// Datagrams taken from a socket with one recvmmsg(): up to Count at a time, each into a
// buffer of Size bytes. Fewer than Count taken means the socket is drained (no second call
// to learn EAGAIN); a full batch leaves the rest to the next wake-up (epoll is
// level-triggered). MSG_TRUNC makes a datagram's length its real size, so one larger than
// its buffer shows as such instead of being read cut.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace bm6 {

template <std::size_t Size, unsigned Count>
class ReceiveBatch {
 public:
  static constexpr unsigned kCount = Count;
  struct Datagram {
    std::size_t length = 0;               // its real size, which may exceed the buffer
    bool truncated = false;               // cut to fit the buffer: not all of it is there
    std::span<const std::uint8_t> bytes;  // what the buffer holds of it
  };

  ReceiveBatch() {
    for (unsigned i = 0; i < Count; ++i) {
      iov_[i] = {buffers_[i].data(), buffers_[i].size()};
      messages_[i] = {};
      messages_[i].msg_hdr.msg_iov = &iov_[i];
      messages_[i].msg_hdr.msg_iovlen = 1;
    }
  }
  // The messages point into the object itself.
  ReceiveBatch(const ReceiveBatch&) = delete;
  ReceiveBatch& operator=(const ReceiveBatch&) = delete;

  // One recvmmsg(MSG_DONTWAIT | MSG_TRUNC): how many datagrams were taken, or -1 with errno.
  int receive(int fd) {
    return ::recvmmsg(fd, messages_.data(), Count, MSG_DONTWAIT | MSG_TRUNC, nullptr);
  }
  // The i-th datagram of the last receive(); valid until the next.
  Datagram operator[](int i) const {
    const auto at = static_cast<std::size_t>(i);
    const mmsghdr& m = messages_[at];
    Datagram d;
    d.length = m.msg_len;
    d.truncated = m.msg_len > Size || (m.msg_hdr.msg_flags & MSG_TRUNC) != 0;
    d.bytes =
        std::span<const std::uint8_t>(buffers_[at].data(), std::min<std::size_t>(d.length, Size));
    return d;
  }

 private:
  std::array<std::array<std::uint8_t, Size>, Count> buffers_;
  std::array<iovec, Count> iov_;
  std::array<mmsghdr, Count> messages_;
};

}  // namespace bm6
