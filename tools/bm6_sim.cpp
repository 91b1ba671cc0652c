// bm6-sim: simulated BM6 battery monitors on Unix SEQPACKET sockets (or an L2CAP socket).
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sim/advertising.h"
#include "tools/sim/bm6_peripheral.h"
#include "tools/sim/cli.h"

namespace {

using namespace bm6;

// SIGINT and SIGTERM stop; SIGUSR1 takes every device out of range, SIGUSR2 brings it
// back. All read from the returned signalfd (empty, with errno, on failure).
UniqueFd block_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGUSR1);  // every device goes out of range
  sigaddset(&mask, SIGUSR2);  // and comes back
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return UniqueFd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
}

// What a link cost, on the line before its "disconnected".
void print_link(const std::string& name, const sim::Bm6Peripheral::Stats& link) {
  std::printf(
      "bm6-sim: %s: link: %llu ATT requests, %llu of them up to the first command; "
      "%llu frames sent; connected %.3f s; %llu history requests answered in %llu "
      "notifications; %llu pipelined commands ignored; %llu live-data requests\n",
      name.c_str(), static_cast<unsigned long long>(link.requests),
      static_cast<unsigned long long>(link.setup_requests),
      static_cast<unsigned long long>(link.frames_sent),
      std::chrono::duration<double>(link.connected).count(),
      static_cast<unsigned long long>(link.history_requests),
      static_cast<unsigned long long>(link.history_notifications),
      static_cast<unsigned long long>(link.ignored_commands),
      static_cast<unsigned long long>(link.live_requests));
}

// Each central event on a line of its own, ending with it; the links this process has at
// once on the line before its "connected" (with the wall-clock time, to merge the logs of
// several). A BM6 stops advertising while a central holds it, and starts again after.
void observe_links(const std::string& name, sim::Bm6SimServer* server,
                   sim::SimAdvertiser* advertiser, sim::LinkTally& tally) {
  server->set_observer([name, server, advertiser, &tally](const char* event) {
    const std::string_view what(event);
    if (advertiser && what == "connected") advertiser->central_connected();
    if (advertiser && what == "disconnected") advertiser->central_disconnected();
    if (what == "disconnected") {
      print_link(name, server->last_link());
    } else if (what == "connected") {
      const unsigned now = tally.count();  // before max(), which it updates
      std::printf("bm6-sim: %s: at %.3f, %u link(s) at once (at most %u so far)\n", name.c_str(),
                  std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count(),
                  now, tally.max());
    }
    std::printf("bm6-sim: %s: central %s\n", name.c_str(), event);
    std::fflush(stdout);
  });
}

// Each stored record with the time it was taken, for tests that check where a backfilled
// value landed.
void observe_history(const std::string& name, sim::Bm6SimServer& server) {
  server.history().set_observer(
      [name](const HistoryRecord& r, std::chrono::system_clock::time_point at) {
        const double t = std::chrono::duration<double>(at.time_since_epoch()).count();
        std::printf("bm6-sim: %s: record %.2f V, %u %%, %s C at %.3f\n", name.c_str(), r.volts(),
                    r.soc_percent,
                    r.temperature_c ? std::to_string(*r.temperature_c).c_str() : "unknown", t);
        std::fflush(stdout);
      });
}

void print_serving(const std::string& name, const sim::SimDevice& device, bool advertising) {
  // A BM2 sends no temperature.
  const std::string temperature =
      !traits(device.model).has_temperature || !device.reading.temperature_c
          ? ""
          : std::to_string(*device.reading.temperature_c) + " C, ";
  std::printf("bm6-sim: serving %s (%s, %.2f V, %s%u %%, %s, every %.2f s)%s\n", name.c_str(),
              to_string(device.model), device.reading.volts(), temperature.c_str(),
              device.reading.soc_percent, to_string(device.reading.state),
              device.period.count() / 1000.0, advertising ? ", advertising" : "");
}

// The servers and advertisers of every endpoint, on one loop.
struct Simulation {
  explicit Simulation(EventLoop& on) : loop(on) {}
  EventLoop& loop;
  // Declared before the servers, which leave it as they go.
  sim::LinkTally tally;
  // Servers go first (declared last): their observers point at the advertisers.
  std::vector<std::unique_ptr<sim::SimAdvertiser>> advertisers;
  std::vector<std::unique_ptr<sim::Bm6SimServer>> servers;

  // An advertiser for an L2CAP endpoint; null, said, without the management interface (no
  // CAP_NET_ADMIN): the device is still served, only not advertised.
  sim::SimAdvertiser* advertise(const sim::Endpoint& endpoint, const std::string& name) {
    LinkError error;
    UniqueFd control = mgmt::open_control_socket(error);
    if (!control) {
      std::fprintf(stderr, "bm6-sim: %s: not advertising: %s\n", name.c_str(),
                   error.detail.c_str());
      return nullptr;
    }
    advertisers.push_back(std::make_unique<sim::SimAdvertiser>(
        loop, std::move(control), sim::adapter_identity(endpoint.address), endpoint.device,
        sim::kAdvertisingRefresh, [name](const std::string& problem) {
          std::fprintf(stderr, "bm6-sim: %s: advertising: %s\n", name.c_str(), problem.c_str());
        }));
    return advertisers.back().get();
  }

  void serve(const sim::Endpoint& endpoint) {
    const std::string name = endpoint.name();
    const sim::SimDevice& device = endpoint.device;
    sim::SimAdvertiser* advertiser = nullptr;
    if (endpoint.kind == sim::Endpoint::Kind::kL2cap) {
      servers.push_back(std::make_unique<sim::Bm6SimServer>(
          loop, sim::listen_l2cap(endpoint.address), name, device));
      // Advertise as a BM6 does while no central holds it.
      advertiser = advertise(endpoint, name);
    } else {
      servers.push_back(std::make_unique<sim::Bm6SimServer>(loop, endpoint.address, device));
    }
    servers.back()->set_tally(&tally);
    observe_links(name, servers.back().get(), advertiser, tally);
    if (traits(device.model).has_history) observe_history(name, *servers.back());
    print_serving(name, device, advertiser != nullptr);
  }

  void set_in_range(bool in_range) {
    // Advertisers first: a link the server drops must not start advertising again.
    for (auto& advertiser : advertisers) advertiser->set_in_range(in_range);
    for (auto& server : servers) server->set_in_range(in_range);
    std::printf("bm6-sim: %s\n", in_range ? "back in range" : "out of range");
    std::fflush(stdout);
  }
};

int run_simulation(const sim::SimConfig& config, int sigfd) {
  EventLoop loop;
  Simulation sim(loop);
  loop.watch(sigfd, EPOLLIN, [&](std::uint32_t) {
    signalfd_siginfo info{};
    while (::read(sigfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (info.ssi_signo == SIGUSR1 || info.ssi_signo == SIGUSR2)
        sim.set_in_range(info.ssi_signo == SIGUSR2);
      else
        loop.stop();
    }
  });
  for (const auto& endpoint : config.endpoints) sim.serve(endpoint);
  std::fflush(stdout);
  // After "serving" is out: a management command can wait on a busy controller, and
  // whoever waits for that line should not wait for it too.
  for (auto& advertiser : sim.advertisers) advertiser->start();
  loop.run();
  loop.unwatch(sigfd);
  sim.servers.clear();
  sim.advertisers.clear();  // removes the advertising instances
  std::printf("bm6-sim: at most %u link(s) at once\n", sim.tally.max());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = sim::parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::fprintf(stderr, "bm6-sim: %s\nTry 'bm6-sim --help' for more information.\n",
                 parsed.error.c_str());
    return sim::kExitUsage;
  }
  const sim::SimConfig& config = *parsed.config;
  if (config.action == sim::SimConfig::Action::kHelp) {
    std::fputs(sim::usage_text().c_str(), stdout);
    return 0;
  }
  if (config.action == sim::SimConfig::Action::kVersion) {
    std::fputs(sim::version_text().c_str(), stdout);
    return 0;
  }
  UniqueFd sigfd = block_signals();
  if (!sigfd) {
    std::fprintf(stderr, "bm6-sim: signalfd: %s\n", std::strerror(errno));
    return sim::kExitFailure;
  }
  try {
    return run_simulation(config, sigfd.get());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bm6-sim: %s\n", e.what());
    return sim::kExitFailure;
  }
}
