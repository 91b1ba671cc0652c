#include "plugin/bm6_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace bm6::plugin {

namespace {
constexpr const char* kMagic = "bm6-collectd state 1\n";
constexpr const char* kKey = "last_dispatched ";
constexpr std::size_t kMaxBytes = 256;  // a state file is ~60 bytes
// A time this far ahead of the clock is not one the plugin wrote (a clock that jumped back
// would otherwise hold every record back until then). Above what the plugin writes ahead.
constexpr std::chrono::minutes kFutureSlack{5};
// 2024-01-01 00:00:00 UTC: no reading was dispatched by this plugin before it (a clock
// that starts at 1970 on a board without a real-time clock, or a zeroed file).
constexpr long long kEarliest = 1704067200;
constexpr const char* kTmpMark = ".tmp-";
constexpr std::size_t kTmpRandom = 12;  // hex digits

std::string errno_text() { return std::strerror(errno); }

const char* kind_of(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

// Why a directory opened as StateDir must not be used, or "".
std::string dir_problem(const struct stat& st) {
  char text[128];
  if (st.st_uid != ::geteuid()) {
    std::snprintf(text, sizeof text, "is owned by uid %u, not by collectd's user (uid %u)",
                  static_cast<unsigned>(st.st_uid), static_cast<unsigned>(::geteuid()));
    return text;
  }
  // Sticky or not: the sticky bit keeps others from removing the plugin's files, not from
  // creating a name it has yet to use (a device's first state file) as a link or FIFO.
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    std::snprintf(text, sizeof text, "is writable by %s (mode %04o)",
                  (st.st_mode & S_IWOTH) != 0 ? "every user" : "its group",
                  static_cast<unsigned>(st.st_mode & 07777));
    return text;
  }
  return {};
}

// ".NAME.tmp-" and 12 hex digits: a name nobody can guess before it is made (O_EXCL
// refuses one that is there anyway).
std::string temp_name(const std::string& name) {
  unsigned char random[kTmpRandom / 2];
  // Early at boot the kernel may have no randomness yet: never wait for it, use the clock.
  if (::getrandom(random, sizeof random, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof random)) {
    auto t =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (auto& b : random) b = static_cast<unsigned char>(t >> (8 * (&b - random)));
  }
  std::string out = "." + name + kTmpMark;
  for (unsigned char b : random) {
    static const char* const hex = "0123456789abcdef";
    out += hex[b >> 4];
    out += hex[b & 0xf];
  }
  return out;
}

bool is_temp_name(const char* name) {
  const std::size_t len = std::strlen(name);
  const std::size_t mark = std::strlen(kTmpMark);
  if (name[0] != '.' || len < 1 + 1 + mark + kTmpRandom) return false;
  const char* tail = name + len - kTmpRandom;
  if (std::strncmp(tail - mark, kTmpMark, mark) != 0) return false;
  return std::strspn(tail, "0123456789abcdef") == kTmpRandom;
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<std::size_t>(w);
  }
  return true;
}
}  // namespace

std::unique_ptr<StateDir> StateDir::open(const std::string& given, std::string& error) {
  // "DIR/" would be followed if DIR were a symbolic link.
  const std::string path =
      given.substr(0, std::max<std::size_t>(1, given.find_last_not_of('/') + 1));
  const std::string quoted = "\"" + path + "\"";
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    error = quoted + " cannot be created: " + errno_text();
    return nullptr;
  }
  // Not through a symbolic link: one in a folder others can write may lead anywhere.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    struct stat st {};
    if ((errno == ELOOP || errno == ENOTDIR) && ::lstat(path.c_str(), &st) == 0)
      error = quoted + " is " + kind_of(st.st_mode) + ", not a directory";
    else
      error = quoted + " cannot be opened: " + errno_text();
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    error = quoted + " cannot be examined: " + errno_text();
    return nullptr;
  }
  if (const std::string problem = dir_problem(st); !problem.empty()) {
    error = quoted + " " + problem;
    return nullptr;
  }
  std::unique_ptr<StateDir> dir(new StateDir(path, std::move(fd)));
  dir->remove_leftovers();
  return dir;
}

// Temporary files of a process killed between creating and renaming one.
void StateDir::remove_leftovers() const {
  const int fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return;
  }
  while (const dirent* e = ::readdir(d))
    if (is_temp_name(e->d_name)) ::unlinkat(fd_.get(), e->d_name, 0);
  ::closedir(d);
}

std::string StateDir::file_path(const std::string& name) const {
  return path_ + (path_.empty() || path_.back() != '/' ? "/" : "") + name;
}

StateDir::Read StateDir::read(const std::string& name, std::size_t max_bytes, std::string& text,
                              std::string& problem) const {
  // O_NONBLOCK: a FIFO opens at once (and is then refused) instead of waiting for a writer.
  UniqueFd fd(::openat(fd_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd) {
    if (errno == ENOENT) return Read::kMissing;
    if (errno == ELOOP && ::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
      problem = std::string("is ") + kind_of(st.st_mode);
    else
      problem = "cannot be read: " + errno_text();
    return Read::kRefused;
  }
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = std::string("is ") + kind_of(st.st_mode);
    return Read::kRefused;
  }
  std::string buf(max_bytes + 1, '\0');
  std::size_t n = 0;
  for (;;) {
    const ssize_t got = ::read(fd.get(), buf.data() + n, buf.size() - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      problem = "cannot be read: " + errno_text();
      return Read::kRefused;
    }
    if (got == 0) break;
    n += static_cast<std::size_t>(got);
    if (n > max_bytes) {
      problem = "is longer than " + std::to_string(max_bytes) + " bytes";
      return Read::kRefused;
    }
  }
  text.assign(buf, 0, n);
  return Read::kOk;
}

bool StateDir::replace(const std::string& name, const std::string& text, std::string& error) const {
  const std::string tmp = temp_name(name);
  // O_EXCL: never a file (or link) that is there already.
  UniqueFd fd(
      ::openat(fd_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd) {
    error = "cannot create " + file_path(tmp) + ": " + errno_text();
    return false;
  }
  // On the disk before the rename: a power cut leaves the old file or the new, whole.
  const char* failed = !write_all(fd.get(), text) ? "write" : ::fsync(fd.get()) != 0 ? "sync" : "";
  if (*failed == '\0' && ::renameat(fd_.get(), tmp.c_str(), fd_.get(), name.c_str()) != 0)
    failed = "rename";
  if (*failed != '\0') {
    error = std::string("cannot ") + failed + " " + file_path(tmp) + ": " + errno_text();
    ::unlinkat(fd_.get(), tmp.c_str(), 0);
    return false;
  }
  // The rename itself on the disk: what the file says holds before what it covers is sent.
  if (::fsync(fd_.get()) != 0) {
    error = "cannot sync " + path_ + ": " + errno_text();
    return false;
  }
  return true;
}

std::string state_file(const std::string& device) { return device + ".state"; }

LoadedState parse_state(const std::string& text, SysTime now) {
  LoadedState out;
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
  // Compared in seconds, before any conversion to the clock's nanoseconds could overflow.
  const long long s = std::stoll(value.substr(0, dot));
  const long long ns = std::stoll(value.substr(dot + 1, 9));
  const long long latest =
      std::chrono::duration_cast<std::chrono::seconds>((now + kFutureSlack).time_since_epoch())
          .count();
  if (s < kEarliest) {
    out.problem = "last_dispatched " + value.substr(0, dot) + " is before 2024";
    return out;
  }
  if (s >= latest) {
    out.problem =
        "last_dispatched " + value.substr(0, dot) + " is more than 5 minutes after the clock";
    return out;
  }
  out.last_dispatched = SysTime{std::chrono::duration_cast<SysTime::duration>(
      std::chrono::seconds(s) + std::chrono::nanoseconds(ns))};
  return out;
}

std::string format_state(SysTime last) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(last.time_since_epoch());
  char text[96];
  std::snprintf(text, sizeof text, "%s%s%lld.%09lld\n", kMagic, kKey,
                static_cast<long long>(ns.count() / 1000000000),
                static_cast<long long>(ns.count() % 1000000000));
  return text;
}

LoadedState load_state(const StateDir& dir, const std::string& device, SysTime now) {
  std::string text, problem;
  switch (dir.read(state_file(device), kMaxBytes, text, problem)) {
    case StateDir::Read::kMissing: {
      LoadedState out;
      out.missing = true;
      return out;
    }
    case StateDir::Read::kRefused: {
      LoadedState out;
      out.problem = problem;
      return out;
    }
    case StateDir::Read::kOk:
      break;
  }
  return parse_state(text, now);
}

bool save_state(const StateDir& dir, const std::string& device, SysTime last, std::string& error) {
  return dir.replace(state_file(device), format_state(last), error);
}

}  // namespace bm6::plugin
