// The plugin's files kept across collectd restarts, under StateDir: per device, a time no
// reading or record dispatched so far is later than (backfill's state), and whatever else
// a small file holds (StateDir::replace and read are for any of them).
//
// StateDir may be one another user can write (a folder under /var/tmp): it is refused
// unless it is a real directory owned by collectd's user and writable by nobody else, and
// every file in it is opened through the directory's fd without following a symbolic link
// or waiting on a FIFO. A file is replaced atomically (a temporary file of an unguessable
// name created with O_EXCL, fsync, rename, fsync of the directory).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "transport/unique_fd.h"

namespace bm6::plugin {

using SysTime = std::chrono::system_clock::time_point;

class StateDir {
 public:
  // Creates `path` (its parent must exist) unless it is there, and checks it. nullptr with
  // `error` set (naming the directory and what is wrong) if it cannot be used.
  static std::unique_ptr<StateDir> open(const std::string& path, std::string& error);

  const std::string& path() const { return path_; }
  std::string file_path(const std::string& name) const;

  enum class Read { kOk, kMissing, kRefused };
  // NAME's content, at most `max_bytes`; kRefused with `problem` set for a file that is not
  // a regular file (a symbolic link, a FIFO), cannot be read, or is longer.
  Read read(const std::string& name, std::size_t max_bytes, std::string& text,
            std::string& problem) const;
  // Replaces NAME with `text`, on the disk when it returns true; false with `error` set
  // (the old file, if any, stays).
  bool replace(const std::string& name, const std::string& text, std::string& error) const;

 private:
  StateDir(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  void remove_leftovers() const;

  std::string path_;
  UniqueFd fd_;
};

struct LoadedState {
  std::optional<SysTime> last_dispatched;
  bool missing = false;  // no file: a first start
  std::string problem;   // a file that is not a state file: why (then last_dispatched unset)
};

// "NAME.state", in StateDir.
std::string state_file(const std::string& device);
// The file's text, checked strictly: anything but what format_state() writes, or a time
// before 2024 or more than 5 minutes after `now`, is a problem.
LoadedState parse_state(const std::string& text, SysTime now);
std::string format_state(SysTime last_dispatched);
LoadedState load_state(const StateDir& dir, const std::string& device, SysTime now);
bool save_state(const StateDir& dir, const std::string& device, SysTime last_dispatched,
                std::string& error);

}  // namespace bm6::plugin
