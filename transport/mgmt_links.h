// Ending LE links the moment their reading is in, through the kernel's management interface
// (BlueZ doc/mgmt-api.txt): the kernel otherwise keeps a link up, idle, about 2 s after its
// last socket closes, and the controller counts it until then.
//
// Which links are ours: before connecting, Get Connections (0x0015) asks the kernel whether
// the adapter has a link to the address already (bluetoothd's, another program's). If so,
// our connect shares that link, and it is never ours to end. Chosen over watching Device
// Connected (0x000B) for its order against our connect: that needs every event from before
// the connect, and tells our link from one another program makes at the same moment no
// better; the question costs a local call, no air time. Either way a link another program
// starts sharing after ours came up is not seen: such a program reconnects as after any drop.
//
// Disconnect (0x0014) ends it. The kernel answers the Disconnect with Command Complete once
// the link is down (and sends Device Disconnected, 0x000C, to every other management
// socket, not to the one that asked); either, or a failed Disconnect (the link was gone
// already), tells `gone`; `bound` after the Disconnect it is told anyway, so a lost answer
// never holds the caller for ever.
//
// Needs CAP_NET_ADMIN (as passive mode's scanner): without it available() is false and
// links linger as before. One per loop; loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/link_error.h"
#include "transport/mgmt_codec.h"
#include "transport/unique_fd.h"

namespace bm6 {

class MgmtLinks {
 public:
  using OpenSocket = std::function<UniqueFd(LinkError& error)>;
  struct Peer {
    std::uint16_t index = 0;  // the adapter (hciN)
    mgmt::DeviceAddressType address;
    auto operator<=>(const Peer&) const = default;
  };
  struct Stats {
    std::uint64_t queries = 0;         // Get Connections sent
    std::uint64_t ours = 0;            // links found absent before our connect
    std::uint64_t not_ours = 0;        // links there before our connect: left alone
    std::uint64_t disconnects = 0;     // Disconnect sent
    std::uint64_t gone_by_kernel = 0;  // told by the kernel's answer or event
    std::uint64_t gone_by_bound = 0;   // told by the bound
  };

  // `open` makes the control socket on first use (mgmt::open_control_socket, or a test's).
  // `bound`: how long an answer is waited for; a link whose end the kernel did not report
  // by then is taken for gone (the kernel's own idle timeout, 2 s, has let it go by then).
  MgmtLinks(EventLoop& loop, OpenSocket open,
            std::chrono::milliseconds bound = std::chrono::milliseconds(2500));
  ~MgmtLinks();
  MgmtLinks(const MgmtLinks&) = delete;
  MgmtLinks& operator=(const MgmtLinks&) = delete;

  // Whether links can be ended (opens the socket the first time); why not, when not.
  bool available();
  const LinkError& unavailable_reason() const { return open_error_; }
  // Once, when links cannot be ended: a sentence for the log; nullopt after, or if they can.
  std::optional<std::string> take_unavailable_note();

  // Before connecting to `peer`: asks the kernel whether a link is there already; the link
  // the connect makes is ours only if not. `done` runs from the loop (never inside this
  // call), with whether it will be ours (false too when the question fails or is not
  // answered within `bound`).
  void before_connect(const Peer& peer, std::function<void(bool ours)> done);
  // The socket on our link to `peer` closed: ends the link. False (nothing sent, `gone`
  // never runs) when the link is not ours or links cannot be ended; else `gone` runs once
  // from the loop, when the link is down or `bound` has passed.
  bool end(const Peer& peer, std::function<void()> gone);
  const Stats& stats() const { return stats_; }

 private:
  void on_readable();
  void on_reply(const mgmt::CommandReply& reply);
  void gone(const Peer& peer, bool by_kernel);
  void refused(std::uint16_t opcode);
  bool send(const std::vector<std::uint8_t>& packet);

  EventLoop& loop_;
  OpenSocket open_;
  std::chrono::milliseconds bound_;
  UniqueFd fd_;
  bool tried_ = false;
  bool said_ = false;
  LinkError open_error_;
  // Get Connections asked, in order (the kernel answers a socket's commands in order); one
  // unanswered for `bound` is told "not ours" (the connect must not wait for ever), and its
  // late answer is dropped.
  struct Query {
    explicit Query(EventLoop& loop) : bound(loop) {}
    Peer peer;
    std::function<void(bool)> done;
    Timer bound;
  };
  std::deque<std::unique_ptr<Query>> queries_;
  std::set<Peer> ours_;  // links our connects made, until ended
  struct Ending {
    explicit Ending(EventLoop& loop) : bound(loop) {}
    std::function<void()> gone;
    Timer bound;
  };
  std::map<Peer, std::unique_ptr<Ending>> ending_;
  Stats stats_;
  WeakSelf self_;
};

}  // namespace bm6
