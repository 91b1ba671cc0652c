// Opens the connected SOCK_SEQPACKET fd an AttBearer runs on. Connects may complete later
// (an L2CAP LE connect takes a connection event or several), so the result always comes
// through the loop, never from inside connect().
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "transport/event_loop.h"
#include "transport/unique_fd.h"

namespace bm6 {

class Connector {
 public:
  // `fd` is connected and non-blocking when `error` is empty, else invalid.
  using Done = std::function<void(UniqueFd fd, const std::string& error)>;
  virtual ~Connector() = default;
  // One attempt at a time. `done` runs once from the loop unless cancel() comes first.
  virtual void connect(Done done) = 0;
  // Abandons the attempt in progress, closing its socket; `done` does not run.
  virtual void cancel() = 0;
  // The address as the user wrote it.
  virtual std::string address() const = 0;
};

// Parses an address as written in the config: "unix:/path" or a Bluetooth address
// "AA:BB:CC:DD:EE:FF". Returns an error message naming what is wrong, or "".
std::string validate_address(const std::string& address);

// A connector for `address`; nullptr with `error` set if it cannot be parsed.
std::unique_ptr<Connector> make_connector(EventLoop& loop, const std::string& address,
                                          std::string& error);

// Connects a non-blocking socket, waiting through the loop for EINPROGRESS; shared by the
// Unix and L2CAP connectors.
class SocketConnect {
 public:
  explicit SocketConnect(EventLoop& loop) : loop_(loop) {}
  ~SocketConnect() { cancel(); }
  SocketConnect(const SocketConnect&) = delete;
  SocketConnect& operator=(const SocketConnect&) = delete;

  // `fd` is a fresh non-blocking socket; `describe_errno` turns a failure into a message.
  void start(UniqueFd fd, const void* addr, unsigned addr_len,
             std::function<std::string(int err)> describe_errno, Connector::Done done);
  void cancel();
  bool in_progress() const { return static_cast<bool>(fd_) || posted_; }

 private:
  void finish(int err);

  EventLoop& loop_;
  UniqueFd fd_;
  bool posted_ = false;
  std::function<std::string(int)> describe_;
  Connector::Done done_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace bm6
