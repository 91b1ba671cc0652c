#include "plugin/link_wording.h"

#include <chrono>
#include <cstdio>
#include <string_view>
#include <vector>

namespace bm6::plugin {

namespace {

using Kind = LinkLog::Note::Kind;

// How the device is read, as the wording tells it apart. kLost: connected, and the failure
// was a streaming link going down; a row for kConnected serves it where it has none of its own.
enum class Mode { kPassive, kConnected, kLost };

// {name} {address} {who} {cause} {backoff} {losses} {over} {now} {next} are filled in.
struct Row {
  Kind kind;
  Mode mode;
  Severity severity;
  const char* log;
  const char* notification;  // "" for a note that never notifies
};

constexpr const char* kDevice = "bm6 plugin: device \"{name}\" ({address})";

constexpr Row kRows[] = {
    {Kind::kConnected, Mode::kPassive, Severity::kInfo, "{device} heard (passive): readings flow",
     ""},
    {Kind::kConnected, Mode::kConnected, Severity::kInfo, "{device} connected: readings flow", ""},
    {Kind::kDown, Mode::kPassive, Severity::kWarning, "{device} is silent: {cause}",
     "{who}is silent: {cause}"},
    {Kind::kDown, Mode::kLost, Severity::kWarning,
     "{device}: link lost ({cause}); reconnecting with backoff up to {backoff}",
     "{who}link lost ({cause}); reconnecting"},
    {Kind::kDown, Mode::kConnected, Severity::kError,
     "{device} is unreachable: {cause}; retrying with backoff up to {backoff}",
     "{who}is unreachable: {cause}; retrying"},
    {Kind::kCauseChanged, Mode::kPassive, Severity::kError,
     "{device} is still silent, now: {cause}", ""},
    {Kind::kCauseChanged, Mode::kConnected, Severity::kError,
     "{device} is still down, now for another reason: {cause}; retrying with backoff up to "
     "{backoff}",
     ""},
    {Kind::kBack, Mode::kPassive, Severity::kInfo,
     "{device} is back: readings flow again (passive)", "{who}is back: readings flow again"},
    {Kind::kBack, Mode::kConnected, Severity::kInfo, "{device} is back: readings flow again",
     "{who}is back: readings flow again"},
    {Kind::kFlapping, Mode::kPassive, Severity::kWarning,
     "{device}: silent {losses} times in the last {over}; it keeps going quiet and being heard "
     "again ({now}); next summary in {next} at the earliest",
     ""},
    {Kind::kFlapping, Mode::kConnected, Severity::kWarning,
     "{device}: link lost {losses} times in the last {over}; it keeps coming back and going "
     "({now}); next summary in {next} at the earliest",
     ""},
    {Kind::kStable, Mode::kPassive, Severity::kInfo,
     "{device}: heard steadily again, after falling silent {losses} times in {over}",
     "{who}heard steadily again"},
    {Kind::kStable, Mode::kConnected, Severity::kInfo,
     "{device}: link stable again, after being lost {losses} times in {over}",
     "{who}link stable again"},
    {Kind::kStillDown, Mode::kPassive, Severity::kError,
     "{device}: silent for good after falling silent {losses} times in {over}: {cause}",
     "{who}is silent: {cause}"},
    {Kind::kStillDown, Mode::kConnected, Severity::kError,
     "{device}: down for good after being lost {losses} times in {over}: {cause}; retrying with "
     "backoff up to {backoff}",
     "{who}is down: {cause}; retrying"},
};

const Row& row_for(Kind kind, Mode mode) {
  for (const Row& row : kRows)
    if (row.kind == kind && row.mode == mode) return row;
  if (mode == Mode::kLost) return row_for(kind, Mode::kConnected);
  return kRows[0];  // not reached: every kind has a passive and a connected row
}

struct Field {
  std::string_view key;
  std::string value;
};

// `text` with each {key} of `fields` replaced; the values are not looked into again.
std::string fill(std::string_view text, const std::vector<Field>& fields) {
  std::string out;
  while (!text.empty()) {
    const auto open = text.find('{');
    const auto close = open == std::string_view::npos ? open : text.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(text.substr(0, open));
    const auto key = text.substr(open + 1, close - open - 1);
    bool known = false;
    for (const Field& f : fields)
      if (f.key == key) {
        out += f.value;
        known = true;
      }
    if (!known) out.append(text.substr(open, close - open + 1));
    text.remove_prefix(close + 1);
  }
  out.append(text);
  return out;
}

}  // namespace

std::string format_duration(LinkLog::Clock::duration d) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  char buf[32];
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(s));
  } else if (s < 7200) {
    std::snprintf(buf, sizeof buf, "%lld min", static_cast<long long>((s + 30) / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld h", static_cast<long long>((s + 1800) / 3600));
  }
  return buf;
}

LinkLine link_line(const DeviceOptions& device, const std::string& cause, bool lost,
                   const LinkLog::Note& note) {
  const Mode mode = device.passive ? Mode::kPassive : lost ? Mode::kLost : Mode::kConnected;
  const Row& row = row_for(note.kind, mode);
  const std::vector<Field> fields = {
      {"device", fill(kDevice, {{"name", device.name}, {"address", device.address.text()}})},
      {"who", "BM6 \"" + device.name + "\" (" + device.address.text() + ") "},
      {"cause", cause},
      {"backoff", format_seconds(device.reconnect_max)},
      {"losses", std::to_string(note.losses)},
      {"over", format_duration(note.over)},
      {"now", note.up ? "up now" : "down now: " + cause},
      {"next", format_duration(note.next_summary)},
  };
  return {row.severity, fill(row.log, fields), fill(row.notification, fields)};
}

}  // namespace bm6::plugin
