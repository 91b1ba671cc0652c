// A listening Unix SEQPACKET socket at a path, which appears there only once it listens,
// put there without harming what is there: a stale
// socket (nobody listening: connecting to it is refused) is replaced; a regular file, a
// directory, anything else, or a live socket (somebody else serves it) is refused. On
// destruction the path is removed only if it still names the socket bound here.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <functional>
#include <string>

#include "transport/unique_fd.h"

namespace bm6::sim {

class UnixListener {
 public:
  UnixListener() = default;
  // Binds and listens (non-blocking), then puts the socket at `path`. Throws std::runtime_error
  // naming the path and what is in the way.
  UnixListener(const std::string& path, int backlog);
  ~UnixListener();
  UnixListener(UnixListener&& other) noexcept;
  UnixListener& operator=(UnixListener&& other) noexcept;
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // Closes the socket and removes the path if it is still ours.
  void reset();

 private:
  int bind_to(const sockaddr_un& sun);
  // Runs `place` (a bind or a rename to path_); when the name is taken by a stale socket,
  // removes it and tries again; throws naming what else is in the way.
  void claim(const sockaddr_un& sun, const char* what, const std::function<int()>& place);

  UniqueFd fd_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  bool bound_ = false;
};

}  // namespace bm6::sim
