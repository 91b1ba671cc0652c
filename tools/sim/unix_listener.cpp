#include "tools/sim/unix_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace bm6::sim {

namespace {

std::runtime_error refuse(const std::string& path, const std::string& what) {
  return std::runtime_error("cannot serve " + path + ": " + what);
}

std::string errno_text(int err) { return std::strerror(err); }

// What stands at `path`, for a bind that found the name taken; empty if it is a stale
// socket (removable), otherwise why it must stay.
std::string obstacle(const std::string& path, const sockaddr_un& sun) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return "";  // gone meanwhile: try again
    return "cannot inspect it: " + errno_text(errno);
  }
  if (S_ISREG(st.st_mode)) return "a regular file is there (not replacing it)";
  if (S_ISDIR(st.st_mode)) return "a directory is there";
  if (S_ISLNK(st.st_mode)) return "a symbolic link is there (not following or replacing it)";
  if (!S_ISSOCK(st.st_mode)) return "something other than a socket is there";
  // A socket: live if somebody listens on it. Non-blocking, so a full backlog cannot stall us.
  UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe) return "cannot probe the socket there: " + errno_text(errno);
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0)
    return "a live socket is there (another simulator serving it?)";
  switch (errno) {
    case ECONNREFUSED:
      return "";  // stale: nobody listens
    case EAGAIN:
      return "a live socket is there (another simulator serving it, its backlog full)";
    case EPROTOTYPE:
      return "a live socket of another type is there";
    default:
      return "a socket is there that cannot be probed: " + errno_text(errno);
  }
}

}  // namespace

UnixListener::UnixListener(const std::string& path, int backlog) : path_(path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.empty()) throw refuse("\"\"", "empty path");
  if (path.size() >= sizeof sun.sun_path) throw refuse(path, "path too long for a Unix socket");
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  fd_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) throw refuse(path, "socket: " + errno_text(errno));
  for (int attempt = 0;; ++attempt) {
    if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0) break;
    if (errno != EADDRINUSE || attempt >= 2) throw refuse(path, "bind: " + errno_text(errno));
    const std::string why = obstacle(path, sun);
    if (!why.empty()) throw refuse(path, why);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      throw refuse(path, "cannot remove the stale socket there: " + errno_text(errno));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    bound_ = true;
  }
  if (::listen(fd_.get(), backlog) != 0) {
    const int err = errno;
    reset();
    throw refuse(path, "listen: " + errno_text(err));
  }
}

UnixListener::~UnixListener() { reset(); }

UnixListener::UnixListener(UnixListener&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::move(other.path_)),
      dev_(other.dev_),
      ino_(other.ino_),
      bound_(std::exchange(other.bound_, false)) {}

UnixListener& UnixListener::operator=(UnixListener&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    dev_ = other.dev_;
    ino_ = other.ino_;
    bound_ = std::exchange(other.bound_, false);
  }
  return *this;
}

void UnixListener::reset() {
  fd_.reset();
  if (!bound_) return;
  bound_ = false;
  // Only our own socket: somebody may have replaced the path since.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
      st.st_ino == ino_)
    ::unlink(path_.c_str());
}

}  // namespace bm6::sim
