// Passive-mode benchmark: the plugin's receive path for advertisements (AdvScanner on a mgmt
// socket, the PassiveDevice decode, the ReadingSlot) and its read path (take, dispatch), fed
// with Device Found events through a SOCK_SEQPACKET pair as the kernel would send them.
// Prints the CPU per advertisement for 1 device and for N on one scanner (the benchmark's
// own reads of the CPU clock subtracted), the system calls and receive calls per
// advertisement, the CPU of one 1 s interval of N devices each advertising once (receive +
// collectd's reads), and PASS/FAIL against the budget.
//   bm6-bench-passive [--n 1000] [--rounds R]
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "device/passive_device.h"
#include "plugin/bm6_values.h"
#include "tests/mgmt_fake.h"

// collectd's plugin_dispatch_values as the plugin sees it: the list is copied.
static value_list_t g_sink;
static std::uint64_t g_dispatched = 0;
extern "C" int plugin_dispatch_values(value_list_t const* vl) {
  g_sink = *vl;
  ++g_dispatched;
  return 0;
}

namespace {

using namespace std::chrono_literals;
using bm6::test::Bytes;

double thread_cpu_s() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

// What one read of the thread's CPU clock costs, as a measured stretch sees it (it is a system
// call: about 3 us on this project's paravirtualised machine, more than the work per
// advertisement). Each stretch of the loop measured holds about one, subtracted.
double cpu_clock_read_s() {
  constexpr int kReads = 2000;
  const double t0 = thread_cpu_s();
  for (int i = 0; i < kReads; ++i) thread_cpu_s();
  return (thread_cpu_s() - t0) / (kReads + 1);
}

long rss_kb() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

bm6::BdAddr address_of(int i) {
  return {0xc0,
          0x11,
          0x00,
          static_cast<std::uint8_t>(i >> 16),
          static_cast<std::uint8_t>(i >> 8),
          static_cast<std::uint8_t>(i)};
}

struct Bench {
  bm6::EventLoop loop;
  bm6::test::FakeMgmt kernel;
  bm6::AdvScanner scanner{loop, 0, nullptr, kernel.opener()};
  std::vector<std::shared_ptr<bm6::ReadingSlot>> slots;
  std::vector<std::unique_ptr<bm6::PassiveDevice>> devices;
  std::vector<Bytes> events;    // one Device Found per device, ready to send
  double loop_cpu_s = 0;        // spent in the loop (scanner, decode, store) only
  std::uint64_t stretches = 0;  // measured stretches of loop_cpu_s (one clock read each)
  std::uint64_t written = 0;    // events the scanner has to read (setup's included)

  explicit Bench(int n) {
    bm6::FamilyCodec codec(bm6::Family::kBm6);
    for (int i = 0; i < n; ++i) {
      bm6::DeviceOptions o;
      o.name = "d" + std::to_string(i);
      o.address = bm6::DeviceAddress::bluetooth(address_of(i));
      o.passive = true;
      o.model = bm6::Family::kBm6;
      o.read_interval = 1000ms;
      o.passive_timeout = 3600s;     // no silence timer firing during the run
      o.passive_temperature = true;  // the most values per reading (byte 10 as temperature)
      slots.push_back(std::make_shared<bm6::ReadingSlot>());
      devices.push_back(
          std::make_unique<bm6::PassiveDevice>(loop, o, scanner, slots.back(), nullptr));
      devices.back()->start();
      const bm6::AdvertisedReading r{static_cast<std::uint16_t>(1200 + i % 100), 80,
                                     bm6::State::kNormal, 20};
      const auto block = bm6::encode_advertisement(codec, r, address_of(i));
      // Flags, then the 16 bytes of manufacturer data (AD type 0xff).
      Bytes ad(5 + block->size());
      const std::uint8_t head[5] = {0x02, 0x01, 0x06, 0x11, 0xff};
      std::copy(std::begin(head), std::end(head), ad.begin());
      std::copy(block->begin(), block->end(), ad.begin() + 5);
      const auto params = bm6::test::FakeMgmt::found(address_of(i), -70, ad);
      Bytes event(6 + params.size(), 0);  // Device Found, controller 0, parameter length
      event[0] = 0x12;
      event[4] = static_cast<std::uint8_t>(params.size());
      std::copy(params.begin(), params.end(), event.begin() + 6);
      events.push_back(std::move(event));
    }
    scanner.start();
    spin();
    kernel.info(0, true);
    spin();
    kernel.commands();
    written = scanner.stats().events;
  }
  // Setup: until a wake-up finds nothing to do.
  void spin() {
    const double t0 = thread_cpu_s();
    while (true) {
      const auto before = loop.wakeups() - loop.idle_wakeups();
      loop.run_once(0ms);
      if (loop.wakeups() - loop.idle_wakeups() == before) break;
    }
    loop_cpu_s += thread_cpu_s() - t0;
  }
  // Until the scanner has read every event written: each wake-up is what the plugin's loop
  // makes (epoll_wait, then one recvmmsg for what is queued), and no idle epoll_wait after.
  void drain() {
    if (scanner.stats().events >= written) return;
    const double t0 = thread_cpu_s();
    for (int i = 0; scanner.stats().events < written && i < 1000; ++i) loop.run_once(1000ms);
    loop_cpu_s += thread_cpu_s() - t0;
    ++stretches;
  }
  // Every device advertises once; the scanner's socket is drained as it fills.
  void round() {
    for (std::size_t i = 0; i < events.size(); ++i) {
      kernel.raw(events[i]);
      ++written;
      if (i % 8 == 7) drain();  // a socketpair queues about 10 datagrams
    }
    drain();
  }
  // collectd's read of every device: take the newest reading and dispatch it.
  void read_all() {
    const auto not_before = std::chrono::system_clock::now() - 1s;
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (const auto r = slots[i]->take(not_before))
        bm6::plugin::dispatch_reading(devices.size() == 1 ? "d0" : "dev", *r, 1u << 30);
  }
};

struct Figures {
  double us_per_advert = 0;  // the benchmark's own clock reads subtracted
  double us_with_clock_reads = 0;
  double syscalls_per_advert = 0;
  double receives_per_advert = 0;  // recvmmsg calls
  double read_us_per_device = 0;
  std::uint64_t stored = 0;
  std::uint64_t sent = 0;
  std::uint64_t dispatched = 0;  // values
};

Figures run(int n, int rounds, double clock_read_s) {
  const long rss0 = rss_kb();
  Bench b(n);
  const long rss1 = rss_kb();
  b.round();  // warm-up
  b.read_all();
  b.loop_cpu_s = 0;
  b.stretches = 0;
  const auto sys0 = b.loop.syscalls();
  const auto receives0 = b.scanner.stats().receives;
  double read_cpu = 0;
  const std::uint64_t dispatched0 = g_dispatched;
  std::uint64_t stored0 = 0;
  for (auto& s : b.slots) stored0 += s->stored.load();
  for (int r = 0; r < rounds; ++r) {
    b.round();
    const double t0 = thread_cpu_s();
    b.read_all();
    read_cpu += thread_cpu_s() - t0;
  }
  Figures f;
  f.sent = static_cast<std::uint64_t>(n) * rounds;
  for (auto& s : b.slots) f.stored += s->stored.load();
  f.stored -= stored0;
  f.us_with_clock_reads = b.loop_cpu_s * 1e6 / f.sent;
  f.us_per_advert = (b.loop_cpu_s - b.stretches * clock_read_s) * 1e6 / f.sent;
  f.syscalls_per_advert = static_cast<double>(b.loop.syscalls() - sys0) / f.sent;
  f.receives_per_advert = static_cast<double>(b.scanner.stats().receives - receives0) / f.sent;
  f.read_us_per_device = read_cpu * 1e6 / f.sent;
  f.dispatched = g_dispatched - dispatched0;
  std::printf(
      "passive  n=%-5d  %8.2f us CPU per advertisement received (scanner + decode + store; "
      "%.2f with the benchmark's clock reads), %.3f syscalls each (%.3f receive calls); read + "
      "dispatch %6.2f us per reading; %llu of %llu stored, %llu values dispatched",
      n, f.us_per_advert, f.us_with_clock_reads, f.syscalls_per_advert, f.receives_per_advert,
      f.read_us_per_device, static_cast<unsigned long long>(f.stored),
      static_cast<unsigned long long>(f.sent), static_cast<unsigned long long>(f.dispatched));
  if (n > 1)  // peak RSS growth while the devices were made: per device only for many
    std::printf("; %.1f kB per device", static_cast<double>(rss1 - rss0) / n);
  std::printf("\n");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 1000, rounds = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--n") == 0) n = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  if (n < 1 || rounds < 1) {
    std::fprintf(stderr, "usage: bm6-bench-passive [--n N] [--rounds R]\n");
    return 2;
  }
  const double clock_read_s = cpu_clock_read_s();
  std::printf(
      "passive  one read of the thread's CPU clock: %.2f us (subtracted once per stretch)\n",
      clock_read_s * 1e6);
  const Figures one = run(1, rounds * 200, clock_read_s);
  const Figures many = run(n, rounds, clock_read_s);
  // One interval of 1 s in which each of the n devices advertised once: receive + read.
  const double interval_ms = (many.us_per_advert + many.read_us_per_device) * n / 1000.0;
  std::printf(
      "passive  %d devices on one scanner, each advertising once per 1 s interval: %.2f ms CPU "
      "per interval = %.2f %% of one core\n",
      n, interval_ms, interval_ms / 10.0);
  // Budget: 1,000 passive devices cost under 5 % of a core; every advertisement stored.
  // Each reading: voltage, temperature (opted in), percent-charged, gauge-state, signal_power. A
  // lost reading is a bug (exit 1); a timing budget missed is reported, as the other benchmarks do.
  const bool complete = many.stored == many.sent && one.stored == one.sent &&
                        many.dispatched == 5 * many.sent && one.dispatched == 5 * one.sent;
  std::printf("budget: passive, every advertisement stored and dispatched once: %s\n",
              complete ? "PASS" : "FAIL");
  std::printf("budget: passive, %d devices on one scanner: %.2f %% of a core (<= %.2f %%): %s\n", n,
              interval_ms / 10.0, 5.0 * n / 1000.0,
              interval_ms < 50.0 * n / 1000.0 ? "PASS" : "FAIL");
  return complete ? 0 : 1;
}
