// The links one adapter may have at once (MaxLinks): a controller holds only a handful of
// LE links, and one being set up counts as much as one established. Persistent devices
// reserve a slot for as long as they run; per-read devices share the rest, taking turns in
// the order they asked (FIFO: with more monitors than slots each still gets its turn, none
// can be passed over for ever).
//
// It also watches whether the turns fit the read intervals: from the time per-read links
// hold a slot (a running mean) it works out the link-seconds per second that its per-read
// devices need; more than the shared slots give, and the interval is too short for that
// many monitors on this adapter: each still gets its fair share, and `on_overbooked` is
// called once with a sentence saying so and what interval they could have. Turns that
// failed count with the time they held their slot (a monitor out of range or not answering
// keeps the others waiting as long), and the sentence says how many failed.
//
// A Bluetooth link outlives its socket: the kernel keeps it up, idle, for about 2 s after
// the last socket on it closes (`linger`), and the controller counts it until then; so a
// slot given back is free for the next device only after that, or as soon as the link is
// gone when the device ended it (release()'s `gone`: transport/mgmt_links.h), `linger`
// being then the bound.
//
// Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "transport/event_loop.h"
#include "transport/lifetime.h"
#include "transport/turn_queue.h"

namespace bm6 {

class LinkBudget {
 public:
  using Ticket = TurnQueue::Ticket;
  using Clock = std::chrono::steady_clock;

  // `adapter` names it in messages ("hci0", "unix").
  LinkBudget(EventLoop& loop, std::string adapter, unsigned max_links,
             Clock::duration linger = Clock::duration::zero());
  LinkBudget(const LinkBudget&) = delete;
  LinkBudget& operator=(const LinkBudget&) = delete;

  // A persistent device's slot, for its life. False when every slot is reserved already.
  bool reserve();
  // A per-read device that will ask for turns every `interval` (for the overbooking check).
  void add_per_read(std::chrono::milliseconds interval);

  // Queues a per-read device for a shared slot; `granted` runs from the loop when it is
  // this ticket's turn, never inside acquire() or release().
  Ticket acquire(std::function<void()> granted);
  // Gives a ticket back, waiting or granted (then `held` is how long the link kept its slot,
  // for the overbooking check; zero if it never got one; `failed`: the turn gave no
  // reading); the next in line gets its turn.
  void release(Ticket ticket, Clock::duration held = {}, bool failed = false);
  // As release(), for a link its device is ending: its slot is free when the returned
  // function is called (the link is gone), or after `linger` at the latest. Call it at most
  // once; it does nothing once the budget is gone.
  std::function<void()> release_until_gone(Ticket ticket, Clock::duration held = {},
                                           bool failed = false);
  Clock::duration linger() const { return linger_; }

  // Sentence for the log when the per-read devices cannot all have a reading every interval.
  void set_overbooked_handler(std::function<void(const std::string&)> handler) {
    on_overbooked_ = std::move(handler);
  }

  const std::string& adapter() const { return adapter_; }
  unsigned max_links() const { return max_; }
  unsigned reserved() const { return reserved_; }
  unsigned shared() const { return max_ - reserved_; }
  unsigned in_use() const {
    return reserved_ + lingering_ + static_cast<unsigned>(turns_.holding());
  }
  unsigned peak_shared_in_use() const { return peak_; }  // per-read slots at once, at most
  std::size_t waiting() const { return turns_.waiting(); }
  unsigned per_read_devices() const { return per_read_; }
  std::uint64_t grants() const { return grants_; }
  // Link-seconds per second the per-read devices need, from the mean hold; 0 until known.
  double demand() const;
  bool overbooked_said() const { return said_; }
  std::uint64_t failed_turns() const { return failed_; }  // counted in the estimate
  // The longest hold of a failed turn lately (seconds, fading over some hundred turns; 0:
  // none): a device asks that much earlier, so that a turn queued behind one still serves
  // its read.
  double failed_hold_seconds() const { return failed_hold_s_; }
  // Seconds for every per-read device to have one turn, from the mean hold; 0 until known.
  // collectd reads its devices in step, so they all want a turn at about the same time:
  // a device should ask at least this long before its read.
  double round_seconds() const;

 private:
  void grant_next();
  void check_overbooked();
  // The turn's hold counted; false if the ticket was only waiting (no slot to give back).
  bool give_back(Ticket ticket, Clock::duration held, Clock::duration linger, bool failed);
  void end_linger(const std::shared_ptr<bool>& lingering);

  EventLoop& loop_;
  std::string adapter_;
  unsigned max_;
  unsigned reserved_ = 0;
  unsigned peak_ = 0;
  Clock::duration linger_;
  TurnQueue turns_;         // the per-read devices' shared slots
  unsigned lingering_ = 0;  // slots given back whose links the kernel still keeps
  std::uint64_t grants_ = 0;
  // The per-read devices: how many, and the sum of 1/interval (turns per second they want).
  unsigned per_read_ = 0;
  double turns_per_second_ = 0;
  std::chrono::milliseconds shortest_interval_{0};
  double mean_hold_s_ = 0;  // running mean of a slot's hold, seconds
  std::uint64_t holds_ = 0;
  std::uint64_t failed_ = 0;  // holds of turns that gave no reading
  double failed_hold_s_ = 0;
  bool said_ = false;
  std::function<void(const std::string&)> on_overbooked_;
  WeakSelf self_;
};

}  // namespace bm6
