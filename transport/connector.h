// Opens the connected SOCK_SEQPACKET fd an AttBearer runs on. Connects may complete later
// (an L2CAP LE connect takes a connection event or several), so the result always comes
// through the loop, never from inside connect().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/adapter.h"
#include "transport/address.h"
#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/link_error.h"
#include "transport/unique_fd.h"

namespace bm6 {

class Connector {
 public:
  // `fd` is connected and non-blocking when there is no `error`, else invalid.
  using Done = std::function<void(UniqueFd fd, const LinkError& error)>;
  virtual ~Connector() = default;
  // One attempt at a time. `done` runs once from the loop unless cancel() comes first.
  virtual void connect(Done done) = 0;
  // Abandons the attempt in progress, closing its socket; `done` does not run.
  virtual void cancel() = 0;
  // The address in its text form (transport/address.h).
  virtual std::string address() const = 0;
  // Asks for the signal strength of the link on `fd` (one this connector made); `done`
  // runs later from the loop with dBm, or never. False where there is no radio (unix:).
  virtual bool read_rssi(int fd, std::function<void(int dbm)> done) {
    (void)fd;
    (void)done;
    return false;
  }
  // The socket of the link this connector made last has closed: ends the link at once
  // (transport/mgmt_links.h). False when it cannot (no radio, no capability, or a link it did
  // not make: another program's, which our connect shared); else `gone` runs once from the
  // loop when the link is down, or after a bound.
  virtual bool end_link(std::function<void()> gone) {
    (void)gone;
    return false;
  }
  // When end_link() cannot work here for want of a capability: a sentence saying so, once
  // per loop (the first connector to ask gets it); nullopt otherwise.
  virtual std::optional<std::string> links_linger_note() { return std::nullopt; }
};

struct ConnectorOptions {
  DeviceAddress address;                     // a socket, or a Bluetooth LE address and its type
  std::optional<AdapterId> adapter{};        // unset: the first Bluetooth adapter that is up
  std::chrono::milliseconds timeout{10000};  // one attempt, from when it starts
};

// A connector for `options.address`; nullptr with `error` set if it cannot be used.
// Bluetooth connectors share `adapters` (required for them, unused for unix:).
std::unique_ptr<Connector> make_connector(EventLoop& loop, const ConnectorOptions& options,
                                          Adapters* adapters, std::string& error);

// Connects a non-blocking socket, waiting through the loop for EINPROGRESS; shared by the
// Unix and L2CAP connectors.
class SocketConnect {
 public:
  explicit SocketConnect(EventLoop& loop) : loop_(loop), timer_(loop), retry_(loop) {}
  ~SocketConnect() { cancel(); }
  SocketConnect(const SocketConnect&) = delete;
  SocketConnect& operator=(const SocketConnect&) = delete;

  // `fd` is a fresh non-blocking socket; `describe_errno` turns a failure into a LinkError
  // (ETIMEDOUT when `timeout` passes first). A Unix listener whose backlog is full (EAGAIN:
  // nobody takes the connect yet) is asked again every 50 ms until the timeout, as a
  // connect on a radio waits for a peer that does not answer.
  void start(UniqueFd fd, const void* addr, unsigned addr_len, std::chrono::milliseconds timeout,
             std::function<LinkError(int err)> describe_errno, Connector::Done done);
  // Reports a failure that happened before connect() could be called, through the loop.
  void fail(LinkError error, Connector::Done done);
  void cancel();

 private:
  void finish(int err);
  void retry();
  void post_result(UniqueFd fd, LinkError error, Connector::Done done);

  EventLoop& loop_;
  UniqueFd fd_;
  Timer timer_;
  Timer retry_;
  std::vector<std::uint8_t> addr_;  // for a retry
  bool posted_ = false;
  std::function<LinkError(int)> describe_;
  Connector::Done done_;
  WeakSelf self_;  // revoked by cancel(): a posted result is then dropped
};

}  // namespace bm6
