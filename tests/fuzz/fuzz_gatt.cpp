// libFuzzer: a BM6 link (bearer, GATT client, set-up, stream) fed arbitrary peer PDUs in
// any order. Input: a sequence of [length][PDU bytes]; each PDU is sent from the peer's
// end of a SOCK_SEQPACKET pair and the loop runs once.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "device/bm6_link.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bm6::EventLoop loop;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return 0;
  bm6::UniqueFd peer(fds[1]);
  bool closed = false;
  auto link = std::make_unique<bm6::Bm6Link>(
      loop, bm6::UniqueFd(fds[0]), bm6::Bm6Link::Options{},
      bm6::Bm6Link::Handlers{nullptr, nullptr, [&](const bm6::DeviceFailure&) { closed = true; },
                             nullptr});
  std::size_t i = 0;
  while (i < size && !closed) {
    const std::size_t len = data[i++];
    if (i + len > size) break;
    ::send(peer.get(), data + i, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    i += len;
    loop.run_once(std::chrono::milliseconds(0));
  }
  loop.run_once(std::chrono::milliseconds(0));
  link.reset();
  loop.run_once(std::chrono::milliseconds(0));  // posts left for a destroyed link do nothing
  return 0;
}
