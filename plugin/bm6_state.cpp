#include "plugin/bm6_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "transport/unique_fd.h"

namespace bm6::plugin {

namespace {
constexpr const char* kMagic = "bm6-collectd state 1\n";
constexpr const char* kKey = "last_dispatched ";
constexpr std::size_t kMaxBytes = 256;  // a state file is ~60 bytes
// A time this far ahead of the clock is not one the plugin wrote (a clock that jumped back
// would otherwise hold every record back until then).
constexpr std::chrono::minutes kFutureSlack{5};
}  // namespace

std::string state_path(const std::string& dir, const std::string& device) {
  return dir + (dir.empty() || dir.back() != '/' ? "/" : "") + device + ".state";
}

LoadedState load_state(const std::string& path, SysTime now) {
  LoadedState out;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT)
      out.missing = true;
    else
      out.problem = std::string("cannot be read: ") + std::strerror(errno);
    return out;
  }
  char buf[kMaxBytes + 1];
  std::size_t n = 0;
  for (;;) {
    const ssize_t got = ::read(fd.get(), buf + n, sizeof buf - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      out.problem = std::string("cannot be read: ") + std::strerror(errno);
      return out;
    }
    if (got == 0) break;
    n += static_cast<std::size_t>(got);
    if (n > kMaxBytes) {
      out.problem = "longer than a state file";
      return out;
    }
  }
  const std::string text(buf, n);
  const std::string head = std::string(kMagic) + kKey;
  if (text.compare(0, head.size(), head) != 0) {
    out.problem = "no \"bm6-collectd state 1\" header and last_dispatched line";
    return out;
  }
  // SECONDS.NNNNNNNNN\n, nothing else.
  const std::string value = text.substr(head.size());
  const std::size_t dot = value.find('.');
  const bool shape = dot != std::string::npos && dot >= 1 && dot <= 12 &&
                     value.size() == dot + 1 + 9 + 1 && value.back() == '\n' &&
                     value.find_first_not_of("0123456789") == dot &&
                     value.find_first_not_of("0123456789", dot + 1) == value.size() - 1;
  if (!shape) {
    out.problem = "last_dispatched is not SECONDS.NANOSECONDS";
    return out;
  }
  const long long s = std::stoll(value.substr(0, dot));
  const long long ns = std::stoll(value.substr(dot + 1, 9));
  const SysTime t{std::chrono::duration_cast<SysTime::duration>(std::chrono::seconds(s) +
                                                                std::chrono::nanoseconds(ns))};
  if (t > now + kFutureSlack) {
    out.problem = "last_dispatched is in the future";
    return out;
  }
  out.last_dispatched = t;
  return out;
}

bool save_state(const std::string& path, SysTime last, std::string& error) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(last.time_since_epoch());
  char text[96];
  const int len = std::snprintf(text, sizeof text, "%s%s%lld.%09lld\n", kMagic, kKey,
                                static_cast<long long>(ns.count() / 1000000000),
                                static_cast<long long>(ns.count() % 1000000000));
  const std::string tmp = path + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) {
      error = "cannot create " + tmp + ": " + std::strerror(errno);
      return false;
    }
    ssize_t done = 0;
    while (done < len) {
      const ssize_t w = ::write(fd.get(), text + done, static_cast<std::size_t>(len - done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        error = "cannot write " + tmp + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
      }
      done += w;
    }
    // On the card before the rename: a power cut leaves the old file or the new, whole.
    if (::fsync(fd.get()) != 0) {
      error = "cannot sync " + tmp + ": " + std::strerror(errno);
      ::unlink(tmp.c_str());
      return false;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

bool ensure_state_dir(const std::string& dir, std::string& error) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
    error = dir + " is not a directory";
    return false;
  }
  error = "cannot create " + dir + ": " + std::strerror(errno);
  return false;
}

}  // namespace bm6::plugin
