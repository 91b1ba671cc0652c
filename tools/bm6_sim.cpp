// bm6-sim: simulated BM6 battery monitors on Unix SEQPACKET sockets.
#include <signal.h>
#include <sys/signalfd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tools/sim/bm6_peripheral.h"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: bm6-sim [OPTIONS] --socket PATH [[OPTIONS] --socket PATH ...]\n"
               "Serves simulated BM6 battery monitors, one per --socket, over Unix SEQPACKET\n"
               "sockets (one datagram per ATT PDU, like a Bluetooth LE ATT channel).\n"
               "Value options apply to the --socket options that follow them.\n\n"
               "  --socket PATH          serve one device at PATH (repeatable)\n"
               "  --l2cap hciN           serve one device over Bluetooth LE on adapter hciN\n"
               "  --voltage V            battery voltage in volts (default 13.40)\n"
               "  --temperature C        temperature in whole degrees Celsius (default 23)\n"
               "  --soc P                state of charge in percent, 0-100 (default 100)\n"
               "  --state S              normal, low or charging (default normal)\n"
               "  --period S             seconds between frames (default 1)\n"
               "  --mtu N                the server's ATT MTU, 23-517 (default 23)\n"
               "  --cycle S              swing the values through a charge cycle of S seconds\n"
               "  --fault NAME[:N]       misbehave (for the first N connections): drop-at-mtu,\n"
               "                         drop-at-discovery, drop-after-cccd, drop-mid-stream,\n"
               "                         silent, garbage, error-discovery, error-cccd,\n"
               "                         error-command, peer-requests, firmware-update, flood,\n"
               "                         late, never-accept\n"
               "  -h, --help             this text\n");
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "bm6-sim: %s\n", msg.c_str());
  std::exit(2);
}

double number(const std::string& opt, const char* value, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(value, &end);
  if (end == value || *end != '\0' || !std::isfinite(v) || v < lo || v > hi)
    die(opt + ": \"" + value + "\" is not a number from " + std::to_string(lo) + " to " +
        std::to_string(hi));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bm6;
  sim::SimDevice current;
  std::vector<std::pair<std::string, sim::SimDevice>> devices;
  for (int i = 1; i < argc; ++i) {
    const std::string opt = argv[i];
    if (opt == "-h" || opt == "--help") {
      usage(stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      usage(stderr);
      die(opt + " needs a value");
    }
    const char* value = argv[++i];
    if (opt == "--socket") {
      devices.emplace_back(value, current);
    } else if (opt == "--l2cap") {
      devices.emplace_back(std::string("l2cap:") + value, current);
    } else if (opt == "--voltage") {
      current.reading.centivolts =
          static_cast<std::uint16_t>(std::lround(number(opt, value, 0, 655.35) * 100));
    } else if (opt == "--temperature") {
      current.reading.temperature_c = static_cast<int>(std::lround(number(opt, value, -99, 99)));
    } else if (opt == "--soc") {
      current.reading.soc_percent =
          static_cast<std::uint8_t>(std::lround(number(opt, value, 0, 100)));
    } else if (opt == "--state") {
      const auto state = parse_state(value);
      if (!state) die(std::string("--state: \"") + value + "\" is not normal, low or charging");
      current.reading.state = *state;
    } else if (opt == "--period") {
      current.period =
          std::chrono::milliseconds(std::lround(number(opt, value, 0.01, 3600) * 1000));
    } else if (opt == "--fault") {
      std::string name = value;
      current.fault_connections = ~0ull;
      if (const auto colon = name.find(':'); colon != std::string::npos) {
        current.fault_connections =
            static_cast<std::uint64_t>(number(opt, name.substr(colon + 1).c_str(), 0, 1e9));
        name.resize(colon);
      }
      if (!sim::parse_fault(name, current.fault)) die("--fault: unknown fault \"" + name + "\"");
    } else if (opt == "--cycle") {
      current.cycle = std::chrono::milliseconds(std::lround(number(opt, value, 0, 86400) * 1000));
    } else if (opt == "--mtu") {
      current.mtu = static_cast<std::uint16_t>(number(opt, value, 23, 517));
    } else {
      usage(stderr);
      die("unknown option " + opt);
    }
  }
  if (devices.empty()) {
    usage(stderr);
    die("give at least one --socket PATH or --l2cap hciN");
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  UniqueFd sigfd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigfd) die(std::string("signalfd: ") + std::strerror(errno));

  try {
    EventLoop loop;
    loop.watch(sigfd.get(), EPOLLIN, [&](std::uint32_t) { loop.stop(); });
    std::vector<std::unique_ptr<sim::Bm6SimServer>> servers;
    for (const auto& [path, device] : devices) {
      if (path.rfind("l2cap:", 0) == 0) {
        servers.push_back(std::make_unique<sim::Bm6SimServer>(
            loop, sim::listen_l2cap(path.substr(6)), path, device));
      } else {
        servers.push_back(std::make_unique<sim::Bm6SimServer>(loop, path, device));
      }
      servers.back()->set_observer([p = path](const char* event) {
        std::printf("bm6-sim: %s: central %s\n", p.c_str(), event);
        std::fflush(stdout);
      });
      std::printf("bm6-sim: serving %s (%.2f V, %d C, %u %%, %s, every %.2f s)\n", path.c_str(),
                  device.reading.volts(), device.reading.temperature_c, device.reading.soc_percent,
                  to_string(device.reading.state), device.period.count() / 1000.0);
    }
    std::fflush(stdout);
    loop.run();
    loop.unwatch(sigfd.get());
  } catch (const std::exception& e) {
    die(e.what());
  }
  return 0;
}
