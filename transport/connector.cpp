#include "transport/connector.h"

#include "transport/l2cap_connector.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace bm6 {

void SocketConnect::start(UniqueFd fd, const void* addr, unsigned addr_len,
                          std::chrono::milliseconds timeout,
                          std::function<LinkError(int)> describe_errno, Connector::Done done) {
  cancel();
  describe_ = std::move(describe_errno);
  done_ = std::move(done);
  fd_ = std::move(fd);
  const int rc = ::connect(fd_.get(), static_cast<const sockaddr*>(addr), addr_len);
  const int err = rc == 0 ? 0 : errno;
  if (rc != 0 && err == EINPROGRESS) {
    const bool watched = loop_.watch(fd_.get(), EPOLLOUT, [this](std::uint32_t) {
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
      finish(so_error);
    });
    if (!watched) return finish(errno);
    timer_.start(timeout, [this] { finish(ETIMEDOUT); });
    return;
  }
  if (rc != 0 && err == EAGAIN) {
    const auto* bytes = static_cast<const std::uint8_t*>(addr);
    addr_.assign(bytes, bytes + addr_len);
    timer_.start(timeout, [this] { finish(ETIMEDOUT); });
    retry_.start(std::chrono::milliseconds(50), [this] { retry(); });
    return;
  }
  finish(err);
}

void SocketConnect::retry() {
  const int rc = ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(addr_.data()),
                           static_cast<socklen_t>(addr_.size()));
  if (rc != 0 && errno == EAGAIN)
    return retry_.start(std::chrono::milliseconds(50), [this] { retry(); });
  finish(rc == 0 ? 0 : errno);
}

void SocketConnect::fail(LinkError error, Connector::Done done) {
  cancel();
  post_result(UniqueFd(), std::move(error), std::move(done));
}

void SocketConnect::finish(int err) {
  timer_.cancel();
  retry_.cancel();
  if (fd_) loop_.unwatch(fd_.get());
  UniqueFd fd = std::move(fd_);
  if (err != 0) fd.reset();  // a new socket for every attempt
  post_result(std::move(fd), err != 0 ? describe_(err) : LinkError{}, std::move(done_));
}

void SocketConnect::post_result(UniqueFd fd, LinkError error, Connector::Done done) {
  // Always through the loop: the caller of start() is never re-entered.
  posted_ = true;
  auto shared_fd = std::make_shared<UniqueFd>(std::move(fd));
  loop_.post(
      [this, self = self_.ref(), shared_fd, error = std::move(error), done = std::move(done)] {
        if (!self.alive()) return;  // destroyed or cancelled meanwhile
        posted_ = false;
        done(std::move(*shared_fd), error);
      });
}

void SocketConnect::cancel() {
  timer_.cancel();
  retry_.cancel();
  if (fd_) {
    loop_.unwatch(fd_.get());
    fd_.reset();
  }
  if (posted_) self_.revoke();
  posted_ = false;
  done_ = nullptr;
}

namespace {

// A refused connect to a Unix socket path: say what is there instead of a listener.
LinkError describe_not_listening(const std::string& path, int err) {
  struct stat st {};
  const auto wrong = [err](std::string detail) {
    return link_error(LinkErrorKind::kWrongAddress, std::move(detail), err);
  };
  if (::stat(path.c_str(), &st) != 0)
    return link_error(LinkErrorKind::kOther, "connecting to " + path + ": " + std::strerror(err),
                      err);
  if (S_ISREG(st.st_mode)) return wrong(path + " is a regular file, not a socket");
  if (S_ISDIR(st.st_mode)) return wrong(path + " is a directory, not a socket");
  if (!S_ISSOCK(st.st_mode)) return wrong(path + " is not a socket");
  if (err == EPROTOTYPE)
    return wrong(path + " is a socket of another type (not SOCK_SEQPACKET): not a simulator's");
  return link_error(LinkErrorKind::kRefused,
                    path + " is a socket nobody listens on (simulator stopped?)", err);
}

// What a failed connect to the simulator socket at `path` means.
LinkError describe_unix_errno(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
      return link_error(LinkErrorKind::kUnreachable,
                        "no simulator socket at " + path + " (is the simulator running?)", err);
    case ECONNREFUSED:
    case ENOTSOCK:
    case EPROTOTYPE:
      return describe_not_listening(path, err);
    case ETIMEDOUT:
      return link_error(LinkErrorKind::kUnreachable,
                        "the simulator at " + path +
                            " did not answer: out of range (bm6-sim got SIGUSR1) or not accepting",
                        err);
    case EACCES:
    case EPERM:
      return link_error(LinkErrorKind::kPermission,
                        "not permitted to connect to " + path + " (" + std::strerror(err) + ")",
                        err);
    default:
      return link_error(LinkErrorKind::kOther, "connecting to " + path + ": " + std::strerror(err),
                        err);
  }
}

class UnixConnector final : public Connector {
 public:
  UnixConnector(EventLoop& loop, const ConnectorOptions& options)
      : address_(options.address.text()),
        path_(options.address.path()),
        timeout_(options.timeout),
        connect_(loop) {}

  void connect(Done done) override {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path_.c_str(), path_.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int socket_errno = errno;
    const std::string path = path_;
    auto describe = [path](int err) { return describe_unix_errno(path, err); };
    if (!fd) return connect_.fail(describe(socket_errno), std::move(done));
    connect_.start(std::move(fd), &sun, sizeof sun, timeout_, describe, std::move(done));
  }
  void cancel() override { connect_.cancel(); }
  std::string address() const override { return address_; }

 private:
  std::string address_;
  std::string path_;
  std::chrono::milliseconds timeout_;
  SocketConnect connect_;
};

}  // namespace

std::unique_ptr<Connector> make_connector(EventLoop& loop, const ConnectorOptions& options,
                                          Adapters* adapters, std::string& error) {
  if (options.address.is_unix()) return std::make_unique<UnixConnector>(loop, options);
  if (!options.address.is_bluetooth()) {
    error = "bug: a connector needs an address";
    return nullptr;
  }
  if (!adapters) {
    error = "bug: a Bluetooth connector needs the loop's adapters";
    return nullptr;
  }
  return make_l2cap_connector(loop, options, *adapters);
}

}  // namespace bm6
