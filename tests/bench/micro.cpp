// Micro-benchmarks of the per-frame and per-read work. Prints Google Benchmark's table and
// then the receive-path budget line (PASS/FAIL).
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "device/bm6_device.h"
#include "device/bm6_link.h"
#include "plugin/bm6_values.h"
#include "protocol/bm6_frame.h"
#include "tools/sim/bm6_peripheral.h"
#include "transport/att.h"

// collectd's plugin_dispatch_values, as far as the plugin can see it: the list is copied.
static value_list_t g_sink;
extern "C" int plugin_dispatch_values(value_list_t const* vl) {
  g_sink = *vl;
  benchmark::ClobberMemory();
  return 0;
}

namespace bm6 {
namespace {

const Bm6Reading kReading{1340, 23, 100, Bm6State::kNormal};

void BM_DecryptDecode(benchmark::State& state) {
  Bm6Codec codec;
  const Block cipher = codec.encrypt(encode_live_frame(kReading));
  for (auto _ : state) {
    auto decoded = codec.decode_notification(cipher);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecryptDecode);

void BM_AttDecodeNotification(benchmark::State& state) {
  Bm6Codec codec;
  const Block cipher = codec.encrypt(encode_live_frame(kReading));
  const auto pdu = att::encode_handle_value(att::kHandleValueNotification, 0x16, cipher);
  for (auto _ : state) {
    const auto view = att::split(pdu);
    auto hv = att::decode_handle_value(view->params);
    benchmark::DoNotOptimize(hv);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AttDecodeNotification);

void BM_AttDecodeReadByGroupType(benchmark::State& state) {
  const std::vector<std::uint8_t> params = {6,    0x01, 0x00, 0x05, 0x00, 0x00, 0x18,
                                            0x06, 0x00, 0x09, 0x00, 0x01, 0x18, 0x0e,
                                            0x00, 0xff, 0xff, 0xf0, 0xff};
  for (auto _ : state) {
    auto services = att::decode_read_by_group_type_rsp(params);
    benchmark::DoNotOptimize(services);
  }
}
BENCHMARK(BM_AttDecodeReadByGroupType);

// Receiving a notification, ATT decode, decrypt, frame decode, and the store into the
// slot a read callback takes from: everything the I/O thread does per frame. Frames are
// queued `batch` at a time (untimed) and handled in one wake-up: 32 as the loop does
// under load, 1 as a device streaming one frame a second costs. Reports the system calls
// the loop and the bearer made per frame (counted where they are made).
void BM_ReceivePath(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  EventLoop loop;
  Bm6Codec codec;
  int fds[2];
  ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
  UniqueFd peer_side(::dup(fds[1]));
  sim::SimDevice device;
  device.period = std::chrono::hours(1);  // the peripheral stays quiet; we send the frames
  sim::Bm6Peripheral peripheral(loop, UniqueFd(fds[1]), device, [] {});
  ReadingSlot slot;
  std::uint64_t readings = 0;
  Bm6Link::Options options;
  options.stream_timeout = std::chrono::hours(1);
  Bm6Link link(loop, UniqueFd(fds[0]), options,
               {nullptr,
                [&](const Reading& r, std::chrono::system_clock::time_point at) {
                  slot.store({r, at, std::nullopt});
                  ++readings;
                },
                nullptr, nullptr});
  loop.run_until([&] { return readings > 0; }, std::chrono::seconds(5));
  const auto db = sim::make_bm6_database();
  const Block cipher = codec.encrypt(encode_live_frame(kReading));
  const auto pdu = att::encode_handle_value(att::kHandleValueNotification, db.data, cipher);
  const std::uint64_t syscalls0 = loop.syscalls();
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < batch; ++i) ::send(peer_side.get(), pdu.data(), pdu.size(), 0);
    state.ResumeTiming();
    loop.run_once(std::chrono::milliseconds(100));
  }
  const double frames = static_cast<double>(state.iterations()) * batch;
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["syscalls_per_frame"] = static_cast<double>(loop.syscalls() - syscalls0) / frames;
  const auto& stats = link.stats();
  if (stats.rejected_total() != stats.rejected[static_cast<int>(LiveRejection::kAcknowledgement)])
    state.SkipWithError("frames were rejected");
}
BENCHMARK(BM_ReceivePath)->Arg(32)->Arg(1)->UseRealTime();

// What a read callback does with a fresh reading: take it from the slot and dispatch its
// four values (collectd's own work inside plugin_dispatch_values is not ours).
void BM_ReadDispatch(benchmark::State& state) {
  ReadingSlot slot;
  const auto now = std::chrono::system_clock::now();
  const std::string device = "van";
  const cdtime_t interval = plugin::to_cdtime(std::chrono::milliseconds(1000));
  for (auto _ : state) {
    slot.store({to_reading(kReading), now, std::nullopt});
    if (auto r = slot.take(now - std::chrono::seconds(1)))
      plugin::dispatch_reading(device, *r, interval);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReadDispatch);

// Keeps the receive path's CPU time per frame for the budget line.
class BudgetReporter : public benchmark::ConsoleReporter {
 public:
  BudgetReporter() : ConsoleReporter(OO_Tabular) {}  // plain text: logs, not terminals
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.run_name.function_name != "BM_ReceivePath" || run.error_occurred) continue;
      const auto syscalls = run.counters.find("syscalls_per_frame");
      if (syscalls == run.counters.end()) continue;
      // CPU per frame = cpu time / frames; the batch is the benchmark's argument.
      const bool single = run.run_name.args == "1";
      const double frames = static_cast<double>(run.iterations) * (single ? 1 : 32);
      (single ? single_ : batched_) = {run.cpu_accumulated_time / frames * 1e6,
                                       static_cast<double>(syscalls->second)};
    }
  }
  struct Figures {
    double cpu_us_per_frame = -1;
    double syscalls_per_frame = -1;
  };
  Figures batched_, single_;
};

}  // namespace
}  // namespace bm6

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bm6::BudgetReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const auto& b = reporter.batched_;
  const auto& one = reporter.single_;
  if (b.cpu_us_per_frame >= 0) {
    std::printf("budget: receive path %.2f us CPU per frame (<= 2.00): %s\n", b.cpu_us_per_frame,
                b.cpu_us_per_frame <= 2.0 ? "PASS" : "FAIL");
  }
  if (one.cpu_us_per_frame >= 0) {
    std::printf("receive path, one frame per wake-up: %.2f us CPU, %.2f system calls per frame\n",
                one.cpu_us_per_frame, one.syscalls_per_frame);
    std::printf("budget: system calls per frame, one per wake-up: %.2f (<= 2): %s\n",
                one.syscalls_per_frame, one.syscalls_per_frame <= 2.0 ? "PASS" : "FAIL");
  }
  benchmark::Shutdown();
  return 0;
}
