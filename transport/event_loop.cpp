#include "transport/event_loop.h"

#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <system_error>

namespace bm6 {

namespace {
// Keys for the loop's own fds in epoll data; user fds carry (generation << 32 | fd).
constexpr std::uint64_t kTimerKey = ~0ull;
constexpr std::uint64_t kEventKey = ~0ull - 1;

int checked(int result, const char* what) {
  if (result < 0) throw std::system_error(errno, std::generic_category(), what);
  return result;
}
}  // namespace

EventLoop::EventLoop()
    : epoll_(checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      timerfd_(
          checked(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create")),
      eventfd_(checked(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd")) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTimerKey;
  checked(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timerfd_.get(), &ev), "epoll_ctl timerfd");
  ev.data.u64 = kEventKey;
  checked(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, eventfd_.get(), &ev), "epoll_ctl eventfd");
}

EventLoop::~EventLoop() = default;

bool EventLoop::watch(int fd, std::uint32_t events, FdCallback callback) {
  const std::uint32_t generation = next_generation_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (static_cast<std::uint64_t>(generation) << 32) | static_cast<std::uint32_t>(fd);
  note_syscalls();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watches_[fd] = Watch{generation, std::move(callback)};
  return true;
}

bool EventLoop::modify(int fd, std::uint32_t events) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return false;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 =
      (static_cast<std::uint64_t>(it->second.generation) << 32) | static_cast<std::uint32_t>(fd);
  note_syscalls();
  return ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::unwatch(int fd) {
  if (watches_.erase(fd) == 0) return;
  note_syscalls();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::add_timer(Clock::duration after, std::function<void()> callback) {
  return add_timer_at(Clock::now() + after, std::move(callback));
}

EventLoop::TimerId EventLoop::add_timer_at(Clock::time_point when, std::function<void()> callback) {
  const TimerId id = next_timer_++;
  timers_.emplace(TimerKey{when, id}, std::move(callback));
  timer_deadlines_.emplace(id, when);
  if (when < armed_) rearm_timerfd();
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase(TimerKey{it->second, id});
  timer_deadlines_.erase(it);
  // A stale, earlier arming costs one spurious wake-up at most; fire_timers() rearms then.
}

void EventLoop::rearm_timerfd() {
  itimerspec spec{};
  if (timers_.empty()) {
    armed_ = Clock::time_point::max();
  } else {
    armed_ = timers_.begin()->first.first;
    auto since_epoch = armed_.time_since_epoch();
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto nsecs = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs);
    spec.it_value.tv_sec = secs.count();
    spec.it_value.tv_nsec = nsecs.count();
    // An all-zero it_value disarms; a deadline at the clock's origin must still fire.
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  note_syscalls();
  ::timerfd_settime(timerfd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  const std::uint64_t one = 1;
  note_syscalls();
  [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
}

void EventLoop::stop() {
  {
    std::lock_guard lock(posted_mutex_);
    stopping_ = true;
  }
  const std::uint64_t one = 1;
  note_syscalls();
  [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
}

void EventLoop::run_posted() {
  std::uint64_t count = 0;
  note_syscalls();
  [[maybe_unused]] auto n = ::read(eventfd_.get(), &count, sizeof count);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
  }
  did_work_ = did_work_ || !batch.empty();
  for (auto& fn : batch) fn();
}

void EventLoop::fire_timers() {
  // The timerfd is not read: rearm_timerfd() below always sets it again, which clears its
  // expirations (and its readiness) as a read would, one system call fewer per timer wake-up.
  const auto now = Clock::now();
  // Only timers due now, one at a time, so that a callback cancelling another due timer
  // (or destroying its owner) takes effect; one added by a callback runs on a later turn.
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_deadlines_.erase(node.key().second);
    did_work_ = true;
    node.mapped()();
  }
  rearm_timerfd();
}

void EventLoop::dispatch(const epoll_event& event) {
  const int fd = static_cast<int>(event.data.u64 & 0xffffffffu);
  const auto generation = static_cast<std::uint32_t>(event.data.u64 >> 32);
  auto it = watches_.find(fd);
  // Unwatched, or the fd number reused by a newer watch, earlier in this batch.
  if (it == watches_.end() || it->second.generation != generation) return;
  FdCallback callback = it->second.callback;  // a copy: the callback may unwatch itself
  did_work_ = true;
  callback(event.events);
}

void EventLoop::run_once(std::chrono::milliseconds timeout) {
  epoll_event events[64];
  const int n = ::epoll_wait(epoll_.get(), events, 64, static_cast<int>(timeout.count()));
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  note_syscalls();
  did_work_ = false;
  // Timers last: what arrived before a deadline is handled before the deadline is, so a
  // process that was not scheduled for a while (a loaded Pi) does not time out a reply or
  // a frame that is already waiting in its socket.
  bool timers_due = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kTimerKey) {
      timers_due = true;
    } else if (events[i].data.u64 == kEventKey) {
      run_posted();
    } else {
      dispatch(events[i]);
    }
  }
  if (timers_due) fire_timers();
  if (!did_work_) idle_wakeups_.fetch_add(1, std::memory_order_relaxed);
}

void EventLoop::run() {
  for (;;) {
    {
      std::lock_guard lock(posted_mutex_);
      if (stopping_) {
        stopping_ = false;
        return;
      }
    }
    run_once(std::chrono::milliseconds(-1));
  }
}

bool EventLoop::run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return done();
    run_once(left);
  }
  return true;
}

}  // namespace bm6
