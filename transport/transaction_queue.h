// One kind of ATT transaction on a bearer (our requests, or our indications): queued in
// order, at most one in flight, and that one's transaction timer, as Pigweed Sapphire's
// att::Bearer::TransactionQueue and BlueZ's src/shared/att.c keep them. The bearer decides
// when the next may go (after its write queue); the queue only holds the state.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>

#include "transport/event_loop.h"
#include "transport/lifetime.h"

namespace bm6 {

template <typename Transaction>
class TransactionQueue {
 public:
  explicit TransactionQueue(EventLoop& loop) : timer_(loop) {}

  void enqueue(Transaction t) { queue_.push_back(std::move(t)); }
  // The transaction to send now: the one in flight if not sent yet, else (none in flight)
  // the next in line, which is then in flight; nullptr when there is nothing to send.
  Transaction* next_to_send() {
    if (!in_flight_ && !queue_.empty()) {
      in_flight_ = std::move(queue_.front());
      queue_.pop_front();
      sent_ = false;
    }
    return in_flight_ && !sent_ ? &*in_flight_ : nullptr;
  }
  // The one in flight went out: its timer runs from now.
  void sent(std::chrono::milliseconds timeout, std::function<void()> on_timeout) {
    sent_ = true;
    timer_.start(timeout, std::move(on_timeout));
  }
  bool unsent() const { return in_flight_ && !sent_; }
  // The one in flight, sent and not answered yet; nullptr if none.
  const Transaction* awaiting() const { return in_flight_ && sent_ ? &*in_flight_ : nullptr; }
  // Its answer came: the timer stops, and the transaction is handed back (for its callback).
  Transaction complete() {
    timer_.cancel();
    Transaction done = std::move(*in_flight_);
    in_flight_.reset();
    return done;
  }
  void clear() {
    timer_.cancel();
    in_flight_.reset();
    queue_.clear();
  }

 private:
  std::deque<Transaction> queue_;
  std::optional<Transaction> in_flight_;
  bool sent_ = false;
  Timer timer_;  // the transaction timeout of the one in flight
};

}  // namespace bm6
