#include "transport/connector.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace bm6 {

void SocketConnect::start(UniqueFd fd, const void* addr, unsigned addr_len,
                          std::function<std::string(int)> describe_errno, Connector::Done done) {
  cancel();
  describe_ = std::move(describe_errno);
  done_ = std::move(done);
  fd_ = std::move(fd);
  const int rc = ::connect(fd_.get(), static_cast<const sockaddr*>(addr), addr_len);
  const int err = rc == 0 ? 0 : errno;
  if (rc != 0 && err == EINPROGRESS) {
    if (loop_.watch(fd_.get(), EPOLLOUT, [this](std::uint32_t) {
          int so_error = 0;
          socklen_t len = sizeof so_error;
          if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
          loop_.unwatch(fd_.get());
          finish(so_error);
        }))
      return;
    return finish(errno);
  }
  finish(err);
}

void SocketConnect::finish(int err) {
  // Always through the loop: the caller of start() is never re-entered.
  UniqueFd fd = std::move(fd_);
  if (err != 0) fd.reset();
  std::string error = err != 0 ? describe_(err) : "";
  auto done = std::move(done_);
  posted_ = true;
  std::weak_ptr<int> alive = alive_;
  auto shared_fd = std::make_shared<UniqueFd>(std::move(fd));
  loop_.post([this, alive, shared_fd, error, done = std::move(done)] {
    if (alive.expired() || !posted_) return;  // destroyed or cancelled meanwhile
    posted_ = false;
    done(std::move(*shared_fd), error);
  });
}

void SocketConnect::cancel() {
  if (fd_) {
    loop_.unwatch(fd_.get());
    fd_.reset();
  }
  posted_ = false;
  done_ = nullptr;
}

namespace {

class UnixConnector final : public Connector {
 public:
  UnixConnector(EventLoop& loop, std::string address, std::string path)
      : address_(std::move(address)), path_(std::move(path)), connect_(loop) {}

  void connect(Done done) override {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path_.c_str(), path_.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int socket_errno = errno;
    const std::string path = path_;
    auto describe = [path](int err) {
      switch (err) {
        case ENOENT:
          return "no simulator socket at " + path + " (is bm6-sim running?)";
        case ECONNREFUSED:
          return "nothing listens on " + path + " (simulator stopped?)";
        case EAGAIN:
          return "the simulator at " + path + " is not accepting (backlog full)";
        case EACCES:
          return "no permission to connect to " + path;
        default:
          return "connecting to " + path + ": " + std::strerror(err);
      }
    };
    if (!fd) {
      // Still through the loop, like every other outcome.
      connect_.start(
          UniqueFd(), &sun, 0, [socket_errno, describe](int) { return describe(socket_errno); },
          std::move(done));
      return;
    }
    connect_.start(std::move(fd), &sun, sizeof sun, describe, std::move(done));
  }
  void cancel() override { connect_.cancel(); }
  std::string address() const override { return address_; }

 private:
  std::string address_;
  std::string path_;
  SocketConnect connect_;
};

class UnsupportedConnector final : public Connector {
 public:
  UnsupportedConnector(EventLoop& loop, std::string address)
      : loop_(loop), address_(std::move(address)) {}
  void connect(Done done) override {
    std::weak_ptr<int> alive = alive_;
    cancelled_ = false;
    loop_.post([this, alive, done = std::move(done)] {
      if (alive.expired() || cancelled_) return;
      done(UniqueFd(), "Bluetooth address " + address_ +
                           ": this build reaches devices only through unix: sockets so far "
                           "(the L2CAP LE connector is not built in yet)");
    });
  }
  void cancel() override { cancelled_ = true; }
  std::string address() const override { return address_; }

 private:
  EventLoop& loop_;
  std::string address_;
  bool cancelled_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

bool is_bdaddr(const std::string& s) {
  if (s.size() != 17) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2) {
      if (s[i] != ':') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string validate_address(const std::string& address) {
  if (address.rfind("unix:", 0) == 0) {
    const std::string path = address.substr(5);
    if (path.empty()) return "\"unix:\" needs a socket path after it";
    if (path.size() >= sizeof(sockaddr_un::sun_path))
      return "socket path is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
             " bytes";
    if (path.find('\0') != std::string::npos) return "socket path contains a NUL byte";
    return "";
  }
  if (is_bdaddr(address)) return "";
  return "\"" + address +
         "\" is neither a Bluetooth address (AA:BB:CC:DD:EE:FF) nor unix:/path/to/socket";
}

std::unique_ptr<Connector> make_connector(EventLoop& loop, const std::string& address,
                                          std::string& error) {
  error = validate_address(address);
  if (!error.empty()) return nullptr;
  if (address.rfind("unix:", 0) == 0)
    return std::make_unique<UnixConnector>(loop, address, address.substr(5));
  return std::make_unique<UnsupportedConnector>(loop, address);
}

}  // namespace bm6
