#include "transport/mgmt_links.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace bm6 {

MgmtLinks::MgmtLinks(EventLoop& loop, OpenSocket open, std::chrono::milliseconds bound)
    : loop_(loop), open_(std::move(open)), bound_(bound) {}

MgmtLinks::~MgmtLinks() {
  if (fd_) loop_.unwatch(fd_.get());
}

bool MgmtLinks::available() {
  if (tried_) return static_cast<bool>(fd_);
  tried_ = true;
  fd_ = open_(open_error_);
  if (!fd_) return false;
  if (!loop_.watch(fd_.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); })) {
    open_error_ =
        link_error(LinkErrorKind::kResource,
                   std::string("watching the management socket: ") + std::strerror(errno), errno);
    fd_.reset();
  }
  return static_cast<bool>(fd_);
}

std::optional<std::string> MgmtLinks::take_unavailable_note() {
  if (available() || said_) return std::nullopt;
  said_ = true;
  return "per-read links are closed, but the kernel keeps each Bluetooth link up about 2 s "
         "more (the management interface is not available: " +
         open_error_.detail + "); each link's slot in MaxLinks is held until then";
}

bool MgmtLinks::send(const std::vector<std::uint8_t>& packet) {
  return ::send(fd_.get(), packet.data(), packet.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
         static_cast<ssize_t>(packet.size());
}

void MgmtLinks::before_connect(const Peer& peer, std::function<void(bool)> done) {
  ours_.erase(peer);
  // A kernel that stopped answering: no more questions piling up (each connect goes on).
  constexpr std::size_t kMaxUnanswered = 64;
  if (!available() || queries_.size() >= kMaxUnanswered ||
      !send(mgmt::encode_get_connections(peer.index))) {
    loop_.post([self = self_.ref(), done = std::move(done)] {
      if (self.alive()) done(false);
    });
    return;
  }
  ++stats_.queries;
  auto query = std::make_unique<Query>(loop_);
  query->peer = peer;
  query->done = std::move(done);
  query->bound.start(bound_, [q = query.get()] {
    if (auto late = std::move(q->done)) late(false);
  });
  queries_.push_back(std::move(query));
}

bool MgmtLinks::end(const Peer& peer, std::function<void()> gone) {
  if (!fd_ || !ours_.erase(peer)) return false;
  if (!send(mgmt::encode_disconnect(peer.index, peer.address.address, peer.address.type)))
    return false;
  ++stats_.disconnects;
  auto ending = std::make_unique<Ending>(loop_);
  ending->gone = std::move(gone);
  ending->bound.start(bound_, [this, peer] { this->gone(peer, false); });
  ending_[peer] = std::move(ending);
  return true;
}

void MgmtLinks::gone(const Peer& peer, bool by_kernel) {
  const auto it = ending_.find(peer);
  if (it == ending_.end()) return;
  auto done = std::move(it->second->gone);
  ending_.erase(it);
  ++(by_kernel ? stats_.gone_by_kernel : stats_.gone_by_bound);
  if (done) done();
}

void MgmtLinks::on_reply(const mgmt::CommandReply& reply) {
  if (reply.status == mgmt::kStatusPermissionDenied) return refused(reply.opcode);
  if (reply.opcode == mgmt::kOpGetConnections) {
    if (queries_.empty()) return;
    const std::unique_ptr<Query> query = std::move(queries_.front());
    queries_.pop_front();
    if (!query->done) return;  // told "not ours" at its bound already
    const Peer peer = query->peer;
    auto done = std::move(query->done);
    const auto links =
        reply.status == mgmt::kStatusSuccess ? mgmt::decode_connections(reply.data) : std::nullopt;
    bool there = !links;  // not known: take it for another's
    if (links)
      for (const auto& l : *links) there = there || l == peer.address;
    ++(there ? stats_.not_ours : stats_.ours);
    if (!there) ours_.insert(peer);
    done(!there);
    return;
  }
  if (reply.opcode != mgmt::kOpDisconnect) return;
  // Success once the link is down; a failure (not connected) means it is down already.
  if (const auto address = mgmt::decode_address_type(reply.data))
    gone(Peer{reply.index, *address}, true);
}

// Without CAP_NET_ADMIN the kernel opens the socket all the same, untrusted, and refuses
// what it asks: then links linger as if it had not opened. A link whose Disconnect was
// refused is not reported gone: its slot waits for the kernel to let it go (the link
// budget's linger), not for this class's bound.
void MgmtLinks::refused(std::uint16_t opcode) {
  open_error_ = link_error(LinkErrorKind::kPermission,
                           std::string("the kernel refused ") +
                               (opcode == mgmt::kOpDisconnect ? "Disconnect" : "Get Connections") +
                               ": permission denied (ending links needs CAP_NET_ADMIN)");
  loop_.unwatch(fd_.get());
  fd_.reset();
  ending_.clear();
  ours_.clear();
  auto queries = std::move(queries_);
  for (auto& query : queries)
    if (auto done = std::move(query->done)) done(false);
}

void MgmtLinks::on_readable() {
  std::uint8_t buf[1024];
  for (int i = 0; i < 64 && fd_; ++i) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return;
    const auto event = mgmt::decode_event({buf, static_cast<std::size_t>(n)});
    if (!event) continue;
    if (const auto reply = mgmt::decode_command_reply(*event)) {
      on_reply(*reply);
      continue;
    }
    if (event->code != mgmt::kEvDeviceDisconnected) continue;
    if (const auto address = mgmt::decode_address_type(event->params))
      gone(Peer{event->index, *address}, true);
  }
}

}  // namespace bm6
