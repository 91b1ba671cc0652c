#include "device/link_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bm6 {

LinkBudget::LinkBudget(EventLoop& loop, std::string adapter, unsigned max_links,
                       Clock::duration linger)
    : loop_(loop),
      adapter_(std::move(adapter)),
      max_(std::max(1u, max_links)),
      linger_(linger),
      turns_(loop) {}

bool LinkBudget::reserve() {
  if (reserved_ >= max_) return false;
  ++reserved_;
  return true;
}

void LinkBudget::add_per_read(std::chrono::milliseconds interval) {
  ++per_read_;
  const auto ms = std::max<std::int64_t>(1, interval.count());
  turns_per_second_ += 1000.0 / static_cast<double>(ms);
  if (shortest_interval_.count() == 0 || interval < shortest_interval_)
    shortest_interval_ = std::chrono::milliseconds(ms);
}

LinkBudget::Ticket LinkBudget::acquire(std::function<void()> granted) {
  const Ticket ticket = turns_.enqueue(std::move(granted));
  grant_next();
  return ticket;
}

bool LinkBudget::give_back(Ticket ticket, Clock::duration held, Clock::duration linger,
                           bool failed) {
  if (!turns_.release(ticket)) return false;  // it was waiting: no slot to give back
  if (held > Clock::duration::zero()) {
    // A running mean that settles on the recent holds after the first few dozen.
    ++holds_;
    const double held_s = std::chrono::duration<double>(held + linger).count();
    failed_hold_s_ *= 0.98;
    if (failed) {
      ++failed_;
      failed_hold_s_ = std::max(failed_hold_s_, held_s);
    }
    const double alpha = 1.0 / static_cast<double>(std::min<std::uint64_t>(holds_, 32));
    mean_hold_s_ += alpha * (held_s - mean_hold_s_);
    check_overbooked();
  }
  return true;
}

void LinkBudget::release(Ticket ticket, Clock::duration held, bool failed) {
  if (!give_back(ticket, held, linger_, failed)) return;
  if (linger_ > Clock::duration::zero()) {
    // The slot is the kernel's until its idle link goes. A timer per slot given back: it
    // runs only while its budget lives (the loop's timers die with the loop; the Ref
    // covers a budget destroyed first).
    ++lingering_;
    loop_.add_timer(linger_, [this, self = self_.ref()] {
      if (!self.alive()) return;
      --lingering_;
      grant_next();
    });
    return;
  }
  grant_next();
}

std::function<void()> LinkBudget::release_until_gone(Ticket ticket, Clock::duration held,
                                                     bool failed) {
  // The hold counts without the linger it no longer has.
  if (!give_back(ticket, held, Clock::duration::zero(), failed)) return [] {};
  if (linger_ == Clock::duration::zero()) {
    grant_next();
    return [] {};
  }
  // Whichever comes first, the link gone or the bound, frees the slot; the other is a no-op.
  ++lingering_;
  auto lingering = std::make_shared<bool>(true);
  loop_.add_timer(linger_, [this, self = self_.ref(), lingering] {
    if (self.alive()) end_linger(lingering);
  });
  return [this, self = self_.ref(), lingering] {
    if (self.alive()) end_linger(lingering);
  };
}

void LinkBudget::end_linger(const std::shared_ptr<bool>& lingering) {
  if (!*lingering) return;
  *lingering = false;
  --lingering_;
  grant_next();
}

void LinkBudget::grant_next() {
  // While in_use() < max_: the reserved and lingering slots are not the queue's to give.
  const unsigned taken = reserved_ + lingering_;
  if (taken >= max_) return;
  grants_ += turns_.grant(max_ - taken);
  peak_ = std::max(peak_, static_cast<unsigned>(turns_.holding()));
}

double LinkBudget::demand() const { return holds_ == 0 ? 0 : turns_per_second_ * mean_hold_s_; }

double LinkBudget::round_seconds() const {
  const unsigned free = shared();
  if (holds_ == 0 || free == 0) return 0;
  return static_cast<double>(per_read_) * mean_hold_s_ / static_cast<double>(free);
}

void LinkBudget::check_overbooked() {
  // Judged once every device has had about one turn: the mean is a mean of them all.
  if (said_ || per_read_ == 0 || holds_ < per_read_ || !on_overbooked_) return;
  const double need = demand();
  const unsigned free = shared();
  if (free == 0 || need <= static_cast<double>(free)) return;
  said_ = true;
  const double interval_s = static_cast<double>(shortest_interval_.count()) / 1000.0;
  const double reachable_s = interval_s * need / static_cast<double>(free);
  char failures[160] = "";
  if (failed_ != 0)
    std::snprintf(failures, sizeof failures,
                  " (%llu of %llu turns failed: a monitor out of range or not answering "
                  "holds a link until its connect or set-up gives up)",
                  static_cast<unsigned long long>(failed_),
                  static_cast<unsigned long long>(holds_));
  char text[800];
  std::snprintf(
      text, sizeof text,
      "adapter %s: %u per-read device(s) need %.1f s of links every %g s (%.2f s each%s), more "
      "than the %u link(s) MaxLinks %u leaves them (%u persistent): each gets its fair turn, a "
      "reading about every %.0f s instead of every %g s; an Interval of %.0f s or more, a "
      "higher MaxLinks or another adapter gives each a reading every interval",
      adapter_.c_str(), per_read_, need * interval_s, interval_s, mean_hold_s_, failures, free,
      max_, reserved_, std::ceil(reachable_s), interval_s, std::ceil(reachable_s));
  on_overbooked_(text);
}

}  // namespace bm6
