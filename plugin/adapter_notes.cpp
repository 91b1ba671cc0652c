#include "plugin/adapter_notes.h"

#include "plugin/link_wording.h"

#include <chrono>
#include <cstdio>
#include <vector>

#include "plugin/collectd_api.h"

namespace bm6::plugin {
namespace {

// "\"van\", \"boat\"".
std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out;
}

// What was seen that makes the adapter, not the monitors, the suspect.
std::string evidence(const AdapterWatch::Note& note) {
  std::string out;
  if (!note.read_before.empty()) out = quoted_list(note.read_before) + " read through it before";
  if (!note.heard.empty())
    out += (out.empty() ? "" : ", and ") + quoted_list(note.heard) + " still heard advertising";
  return out;
}

void say_stuck(const AdapterId& id, const AdapterWatch::Note& note, bool reset) {
  const std::string adapter = id.text(), index = std::to_string(id.index());
  plugin_log(LOG_ERR,
             "bm6 plugin: adapter %s looks stuck: every connect through it went unanswered for "
             "%s (%llu attempts, by %s), although %s; %s",
             adapter.c_str(), format_duration(note.over).c_str(),
             static_cast<unsigned long long>(note.failures), quoted_list(note.failing).c_str(),
             evidence(note).c_str(),
             reset ? "resetting it (ResetAdapter)"
                   : ("power-cycle it (btmgmt --index " + index + " power off, then on), or " +
                      "set ResetAdapter true in its <Adapter> block to have it done")
                         .c_str());
}

// Runs on the I/O thread: what an adapter's stuck watch says. Each line once per event.
void on_adapter_note(const AdapterId& adapter, const AdapterWatch::Note& note,
                     const AdapterWatch::Options& options) {
  const std::string text = adapter.text();
  const char* name = text.c_str();
  switch (note.kind) {
    case AdapterWatch::Note::Kind::kStuck:
      return say_stuck(adapter, note, options.reset);
    case AdapterWatch::Note::Kind::kReset:
      plugin_log(LOG_WARNING,
                 "bm6 plugin: adapter %s: power-cycling it through the management interface "
                 "(reset %u of this spell; at most %u an hour)",
                 name, note.resets, options.max_per_hour);
      return;
    case AdapterWatch::Note::Kind::kResetDone:
      if (note.ok)
        plugin_log(LOG_INFO, "bm6 plugin: adapter %s: reset done (powered off and on)", name);
      else
        plugin_log(LOG_ERR, "bm6 plugin: adapter %s: reset failed: %s", name, note.detail.c_str());
      return;
    case AdapterWatch::Note::Kind::kResetCapped:
      plugin_log(LOG_ERR,
                 "bm6 plugin: adapter %s still looks stuck, but it was reset %u times in the "
                 "last hour, the most ResetAdapter does: no more resets for now",
                 name, options.max_per_hour);
      return;
    case AdapterWatch::Note::Kind::kRecovered:
      plugin_log(LOG_INFO, "bm6 plugin: adapter %s makes links again (after %u reset(s))", name,
                 note.resets);
      return;
  }
}

}  // namespace

// Runs on the I/O thread: an adapter's advertisement scanner (passive devices), once per
// change: the adapter going down and coming back each say one line.
void on_scanner_status(int adapter, AdvScanner::Status status, const std::string& detail) noexcept {
  switch (status) {
    case AdvScanner::Status::kScanning:
      plugin_log(LOG_INFO, "bm6 plugin: passive: %s", detail.c_str());
      break;
    case AdvScanner::Status::kAdapterDown:
      plugin_log(LOG_WARNING,
                 "bm6 plugin: passive: adapter hci%d is down (%s): its passive devices hear "
                 "nothing until it is back",
                 adapter, detail.c_str());
      break;
    case AdvScanner::Status::kAdapterUp:
      plugin_log(LOG_INFO, "bm6 plugin: passive: adapter %s", detail.c_str());
      break;
    case AdvScanner::Status::kError:
      plugin_log(LOG_WARNING, "bm6 plugin: passive: %s", detail.c_str());
      break;
  }
}

// The configured watch options go to the engine; an <Adapter> with ResetAdapter that no
// connected device uses is said once.
void watch_adapters(Bm6Engine& engine, const PluginConfig& config) {
  auto options = config.adapter_watch;
  engine.set_adapter_handler([options](const AdapterId& adapter, const AdapterWatch::Note& note) {
    const auto it = options.find(adapter);
    try {  // a log line that cannot be made must not stop the I/O thread
      on_adapter_note(adapter, note, it != options.end() ? it->second : AdapterWatch::Options{});
    } catch (...) {
    }
  });
  for (const auto& [adapter, o] : config.adapter_watch)
    if (!engine.set_adapter_options(adapter, o) && o.reset)
      plugin_log(LOG_WARNING,
                 "bm6 plugin: adapter \"%s\": ResetAdapter does nothing: no connected device "
                 "uses it",
                 adapter.text().c_str());
}

}  // namespace bm6::plugin
