// One thread's epoll loop: fd readiness, deadlines on one timerfd, and cross-thread posts.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "transport/unique_fd.h"

namespace bm6 {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using FdCallback = std::function<void(std::uint32_t events)>;
  using TimerId = std::uint64_t;

  // Throws std::system_error if epoll, timerfd or eventfd cannot be created.
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Loop thread only. Events are EPOLLIN/EPOLLOUT; errors and hang-ups always reported.
  // Returns false (with errno) if epoll refuses the fd.
  bool watch(int fd, std::uint32_t events, FdCallback callback);
  bool modify(int fd, std::uint32_t events);
  void unwatch(int fd);

  // Loop thread only. Timers fire once; cancelling an unknown or fired id does nothing.
  TimerId add_timer(Clock::duration after, std::function<void()> callback);
  TimerId add_timer_at(Clock::time_point when, std::function<void()> callback);
  void cancel_timer(TimerId id);

  // Any thread: runs `fn` on the loop thread, in order.
  void post(std::function<void()> fn);
  // Any thread: makes run() return after the current iteration.
  void stop();

  // Runs until stop(). Callbacks' exceptions are the caller's concern: they propagate.
  void run();
  // One wait of at most `timeout` (negative: no limit) and its dispatch; for tests and tools.
  void run_once(std::chrono::milliseconds timeout);
  // Runs until `done()` is true or `timeout` passes; returns done().
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

  // Returns from epoll_wait: how often the loop woke up, and how many of those found
  // nothing to do (a timeout, or a stale timer arming). Readable from any thread.
  std::uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }
  std::uint64_t idle_wakeups() const { return idle_wakeups_.load(std::memory_order_relaxed); }
  // System calls made on behalf of the loop and the transports that run on it (epoll,
  // timerfd, eventfd, and what bearers and the RSSI reader count with note_syscalls()):
  // counted where they are made, for the benchmarks' system calls per frame. Any thread.
  std::uint64_t syscalls() const { return syscalls_.load(std::memory_order_relaxed); }
  void note_syscalls(std::uint64_t n = 1) { syscalls_.fetch_add(n, std::memory_order_relaxed); }
  // Loop thread only (or while the loop is not running).
  std::size_t watched_fds() const { return watches_.size(); }
  std::size_t pending_timers() const { return timers_.size(); }

 private:
  struct Watch {
    std::uint32_t generation;
    FdCallback callback;
  };
  using TimerKey = std::pair<Clock::time_point, TimerId>;

  void dispatch(const epoll_event& event);
  void fire_timers();
  void run_posted();
  void rearm_timerfd();

  UniqueFd epoll_;
  UniqueFd timerfd_;
  UniqueFd eventfd_;
  std::unordered_map<int, Watch> watches_;
  std::uint32_t next_generation_ = 1;
  std::map<TimerKey, std::function<void()>> timers_;
  std::unordered_map<TimerId, Clock::time_point> timer_deadlines_;
  TimerId next_timer_ = 1;
  Clock::time_point armed_{Clock::time_point::max()};
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  bool stopping_ = false;  // guarded by posted_mutex_ when set from other threads
  std::atomic<std::uint64_t> wakeups_{0};
  std::atomic<std::uint64_t> idle_wakeups_{0};
  std::atomic<std::uint64_t> syscalls_{0};
  bool did_work_ = false;  // during the current wake-up
};

}  // namespace bm6
