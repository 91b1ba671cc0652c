// What the plugin says about a device's link as LinkLog decides it (device/link_log.h): one
// table of sentences keyed by what happened (the note's kind) and how the device is read
// (passive, or connected, where a first loss is worded apart from a failed connect). No
// collectd headers: the plugin logs and notifies what this returns.
#pragma once

#include <string>

#include "device/bm6_device.h"
#include "device/link_log.h"

namespace bm6::plugin {

enum class Severity { kError, kWarning, kInfo };

struct LinkLine {
  Severity severity = Severity::kInfo;
  std::string log;           // the log line
  std::string notification;  // the notification's message, when the note asks for one
};

// The line for `note` about `device`. `cause` is the latest failure's detail; `lost`: that
// failure was an established link going down, not a failed connect.
LinkLine link_line(const DeviceOptions& device, const std::string& cause, bool lost,
                   const LinkLog::Note& note);

// "45 s", "12 min", "3 h".
std::string format_duration(LinkLog::Clock::duration d);

}  // namespace bm6::plugin
