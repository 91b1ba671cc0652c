#include "tools/sim/unix_listener.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
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

// A name for binding in the same directory as `path` (so that a rename can move it there),
// or empty if it would not fit in a socket address.
std::string temporary_name(const std::string& path) {
  static std::atomic<unsigned> made{0};
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string name = dir + ".bm6-sim-" + std::to_string(::getpid()) + "-" + std::to_string(made++);
  return name.size() < sizeof(sockaddr_un::sun_path) ? name : "";
}

// Moves the listening socket from `from` to `to` unless something is there (EEXIST), as
// rename(2) alone would replace it. Filesystems without RENAME_NOREPLACE get link + unlink.
int move_without_replacing(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (::link(from.c_str(), to.c_str()) != 0) return -1;
  ::unlink(from.c_str());
  return 0;
}

sockaddr_un address_of(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.empty()) throw refuse("\"\"", "empty path");
  if (path.size() >= sizeof sun.sun_path) throw refuse(path, "path too long for a Unix socket");
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  return sun;
}

}  // namespace

// The socket is bound and listening under a temporary name, then renamed to `path`: the
// path appears only once it accepts, so a client that waits for the file never finds a
// socket that refuses it (bind() makes the file, listen() comes after).
UnixListener::UnixListener(const std::string& path, int backlog) : path_(path) {
  const sockaddr_un sun = address_of(path);
  fd_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) throw refuse(path, "socket: " + errno_text(errno));
  const std::string temp = temporary_name(path);
  const std::string& first = temp.empty() ? path : temp;  // too long: bound in place
  const sockaddr_un first_sun = address_of(first);
  if (temp.empty())
    claim(sun, "bind", [&] { return bind_to(first_sun); });
  else if (bind_to(first_sun) != 0)
    throw refuse(path, "bind: " + errno_text(errno));
  if (::listen(fd_.get(), backlog) != 0) {
    const int err = errno;
    ::unlink(first.c_str());
    throw refuse(path, "listen: " + errno_text(err));
  }
  if (!temp.empty()) {
    try {
      claim(sun, "rename", [&] { return move_without_replacing(temp, path); });
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    bound_ = true;
  }
}

int UnixListener::bind_to(const sockaddr_un& sun) {
  return ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun);
}

void UnixListener::claim(const sockaddr_un& sun, const char* what,
                         const std::function<int()>& place) {
  for (int attempt = 0;; ++attempt) {
    if (place() == 0) return;
    if ((errno != EADDRINUSE && errno != EEXIST) || attempt >= 2)
      throw refuse(path_, std::string(what) + ": " + errno_text(errno));
    const std::string why = obstacle(path_, sun);
    if (!why.empty()) throw refuse(path_, why);
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
      throw refuse(path_, "cannot remove the stale socket there: " + errno_text(errno));
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
