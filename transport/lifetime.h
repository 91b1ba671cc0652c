// The two lifetime idioms of code on an EventLoop, named once.
#pragma once

#include <functional>
#include <memory>

#include "transport/event_loop.h"

namespace bm6 {

// Lets deferred work (a posted closure, a late answer) tell whether its owner still exists.
// The owner holds a WeakSelf member; a closure captures a Ref and checks alive() first.
// revoke() makes every Ref handed out so far dead without destroying the owner, for work
// that a cancel() abandons.
class WeakSelf {
 public:
  class Ref {
   public:
    Ref() = default;
    bool alive() const { return !token_.expired(); }

   private:
    friend class WeakSelf;
    explicit Ref(std::weak_ptr<const char> token) : token_(std::move(token)) {}
    std::weak_ptr<const char> token_;
  };

  WeakSelf() = default;
  WeakSelf(const WeakSelf&) = delete;
  WeakSelf& operator=(const WeakSelf&) = delete;

  Ref ref() const { return Ref(token_); }
  void revoke() { token_ = std::make_shared<const char>(0); }

 private:
  std::shared_ptr<const char> token_ = std::make_shared<const char>(0);
};

// A one-shot timer on a loop that cancels itself when restarted, cancelled or destroyed, so
// its callback never runs for an owner that is gone. The callback runs with the timer
// already disarmed, and may restart it or destroy its owner.
class Timer {
 public:
  explicit Timer(EventLoop& loop) : loop_(loop) {}
  ~Timer() { cancel(); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void start(EventLoop::Clock::duration after, std::function<void()> callback) {
    cancel();
    id_ = loop_.add_timer(after, [this, callback = std::move(callback)] {
      id_ = 0;
      callback();  // a copy lives in the loop's batch: safe if `this` goes away
    });
  }
  void cancel() {
    if (id_ != 0) loop_.cancel_timer(id_);
    id_ = 0;
  }
  bool armed() const { return id_ != 0; }

 private:
  EventLoop& loop_;
  EventLoop::TimerId id_ = 0;
};

}  // namespace bm6
