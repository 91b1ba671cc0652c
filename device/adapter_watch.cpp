#include "device/adapter_watch.h"

#include <algorithm>

namespace bm6 {

namespace {
constexpr auto kHour = std::chrono::hours(1);
}  // namespace

AdapterWatch::Note AdapterWatch::seen(Clock::time_point now, Note::Kind kind) const {
  Note note;
  note.kind = kind;
  note.failures = failures_;
  note.over = failures_ > 0 ? now - first_failure_ : Clock::duration{};
  note.failing.assign(failing_.begin(), failing_.end());
  for (const auto& [device, at] : heard_)
    if (now - at <= options_.stuck_after) note.heard.push_back(device);
  for (const auto& device : failing_)
    if (read_before_.count(device)) note.read_before.push_back(device);
  note.resets = spell_resets_;
  return note;
}

bool AdapterWatch::looks_stuck(Clock::time_point now) const {
  if (failures_ < options_.min_failures || now - first_failure_ < options_.stuck_after)
    return false;
  // Heard lately, or read here before: the monitors are there, the adapter is suspect.
  for (const auto& [device, at] : heard_)
    if (now - at <= options_.stuck_after) return true;
  for (const auto& device : failing_)
    if (read_before_.count(device)) return true;
  return false;
}

void AdapterWatch::maybe_reset(Clock::time_point now, std::vector<Note>& notes) {
  if (!options_.reset || now < next_reset_) return;
  while (!resets_.empty() && now - resets_.front() >= kHour) resets_.pop_front();
  if (resets_.size() >= options_.max_per_hour) {
    if (!capped_said_) notes.push_back(seen(now, Note::Kind::kResetCapped));
    capped_said_ = true;
    return;
  }
  resetting_ = true;
  ++spell_resets_;
  resets_.push_back(now);
  notes.push_back(seen(now, Note::Kind::kReset));
}

std::vector<AdapterWatch::Note> AdapterWatch::on_connect_failed(Clock::time_point now,
                                                                const std::string& device) {
  std::vector<Note> notes;
  if (resetting_) return notes;  // the reset's own doing
  if (failures_ == 0) first_failure_ = now;
  ++failures_;
  failing_.insert(device);
  if (!looks_stuck(now)) return notes;
  if (!stuck_said_) notes.push_back(seen(now, Note::Kind::kStuck));
  stuck_said_ = true;
  maybe_reset(now, notes);
  return notes;
}

std::vector<AdapterWatch::Note> AdapterWatch::on_link_up(Clock::time_point now,
                                                         const std::string& device, bool reading) {
  std::vector<Note> notes;
  if (reading) read_before_.insert(device);
  if (stuck_said_) notes.push_back(seen(now, Note::Kind::kRecovered));
  failures_ = 0;
  failing_.clear();
  stuck_said_ = capped_said_ = false;
  spell_resets_ = 0;
  backoff_ = {};  // next_reset_ stays: resets are still a backoff apart
  return notes;
}

void AdapterWatch::on_heard(Clock::time_point now, const std::string& device) {
  heard_[device] = now;
}

std::vector<AdapterWatch::Note> AdapterWatch::on_reset_done(Clock::time_point now, bool ok,
                                                            const std::string& detail) {
  std::vector<Note> notes;
  if (!resetting_) return notes;
  resetting_ = false;
  notes.push_back(seen(now, Note::Kind::kResetDone));
  notes.back().ok = ok;
  notes.back().detail = detail;
  backoff_ = backoff_ == Clock::duration{} ? options_.first_backoff
                                           : std::min(backoff_ * 2, options_.max_backoff);
  next_reset_ = now + backoff_;
  // A new window: the links it dropped and the adapter's first connects after it are
  // not held against it.
  failures_ = 0;
  failing_.clear();
  return notes;
}

}  // namespace bm6
