// bm6ctl: find BM6 monitors and read one, from the command line.
#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "device/bm6_link.h"
#include "transport/connector.h"
#include "transport/l2cap_connector.h"
#include "transport/mgmt_scan.h"

namespace {

using namespace bm6;

// Exit codes: 0 done, 1 the operation failed (nothing found, device unreachable),
// 2 bad usage, 3 not permitted.
constexpr int kFailed = 1, kUsage = 2, kNoPermission = 3;

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: bm6ctl [--help] COMMAND [OPTIONS]\n"
               "Finds and reads BM6 Bluetooth LE battery monitors.\n\n"
               "Commands:\n"
               "  scan [--adapter hciN] [--timeout S] [--all]\n"
               "        List nearby devices that advertise as BM6 (address, address type,\n"
               "        name, RSSI); --all lists every LE device seen. Needs CAP_NET_ADMIN.\n"
               "        --adapter unix:DIR lists the bm6-sim sockets in DIR instead.\n"
               "  read ADDRESS [--adapter hciN] [--address-type public|random]\n"
               "       [--timeout S] [--json]\n"
               "        Connect, print one reading, disconnect. ADDRESS is AA:BB:CC:DD:EE:FF\n"
               "        or unix:/path/to/bm6-sim.sock.\n\n"
               "Exit status: 0 success, 1 nothing found or device unreachable, 2 usage,\n"
               "3 not permitted.\n");
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "bm6ctl: %s\n", msg.c_str());
  usage(stderr);
  std::exit(kUsage);
}

double seconds(const std::string& opt, const char* v) {
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  if (end == v || *end != '\0' || !std::isfinite(s) || s <= 0 || s > 3600)
    usage_error(opt + ": \"" + v + "\" is not a number of seconds from 0 to 3600");
  return s;
}

// Named "BM6" or advertising the monitor's service FFF0.
bool looks_like_bm6(const scan::FoundDevice& d) {
  return d.advert.name == "BM6" || std::find(d.advert.uuids16.begin(), d.advert.uuids16.end(),
                                             0xfff0) != d.advert.uuids16.end();
}

int scan_unix(const std::string& dir, bool json) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    std::fprintf(stderr, "bm6ctl: cannot list %s: %s\n", dir.c_str(), std::strerror(errno));
    return kFailed;
  }
  std::vector<std::string> sockets;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (e->d_type == DT_SOCK) sockets.push_back("unix:" + dir + "/" + name);
  }
  ::closedir(d);
  for (const auto& s : sockets) std::printf(json ? "{\"address\":\"%s\"}\n" : "%s\n", s.c_str());
  return sockets.empty() ? kFailed : 0;
}

int run_scan(int argc, char** argv) {
  std::string adapter;
  double timeout = 10;
  bool all = false, json = false;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--adapter" && i + 1 < argc) {
      adapter = argv[++i];
    } else if (a == "--timeout" && i + 1 < argc) {
      timeout = seconds(a, argv[++i]);
    } else if (a == "--all") {
      all = true;
    } else if (a == "--json") {
      json = true;
    } else {
      usage_error("scan: unexpected \"" + a + "\"");
    }
  }
  if (adapter.rfind("unix:", 0) == 0) return scan_unix(adapter.substr(5), json);
  std::string error;
  const int id = resolve_adapter(adapter, error);
  if (id < 0) {
    std::fprintf(stderr, "bm6ctl: %s\n", error.c_str());
    return kFailed;
  }
  std::map<std::string, scan::FoundDevice> found;
  if (!scan::discover(id, std::chrono::milliseconds(std::llround(timeout * 1000)), found, error)) {
    std::fprintf(stderr, "bm6ctl: %s\n", error.c_str());
    return error.find("CAP_NET_ADMIN") != std::string::npos ? kNoPermission : kFailed;
  }
  int shown = 0;
  if (!json) std::printf("%-17s  %-6s  %-12s  %s\n", "ADDRESS", "TYPE", "NAME", "RSSI");
  for (const auto& [address, d] : found) {
    if (!all && !looks_like_bm6(d)) continue;
    ++shown;
    if (json) {
      // 127: the controller could not tell (HCI "RSSI not available").
      const std::string rssi = d.rssi == 127 ? "null" : std::to_string(d.rssi);
      std::printf("{\"address\":\"%s\",\"address_type\":\"%s\",\"name\":\"%s\",\"rssi\":%s}\n",
                  address.c_str(), d.random ? "random" : "public", d.advert.name.c_str(),
                  rssi.c_str());
    } else {
      const std::string rssi = d.rssi == 127 ? "n/a" : std::to_string(d.rssi) + " dBm";
      std::printf("%-17s  %-6s  %-12s  %s\n", address.c_str(), d.random ? "random" : "public",
                  d.advert.name.empty() ? "-" : d.advert.name.c_str(), rssi.c_str());
    }
  }
  if (shown == 0) std::fprintf(stderr, "bm6ctl: no BM6 found in %.0f s\n", timeout);
  return shown > 0 ? 0 : kFailed;
}

int run_read(int argc, char** argv) {
  if (argc < 1) usage_error("read needs an ADDRESS");
  ConnectorOptions options;
  options.address = argv[0];
  double timeout = 20;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--adapter" && i + 1 < argc) {
      options.adapter = argv[++i];
    } else if (a == "--address-type" && i + 1 < argc) {
      const std::string t = argv[++i];
      if (t != "public" && t != "random") usage_error("--address-type is public or random");
      options.random_address = t == "random";
    } else if (a == "--timeout" && i + 1 < argc) {
      timeout = seconds(a, argv[++i]);
    } else if (a == "--json") {
      json = true;
    } else {
      usage_error("read: unexpected \"" + a + "\"");
    }
  }
  const auto limit = std::chrono::milliseconds(std::llround(timeout * 1000));
  options.timeout = limit;
  EventLoop loop;
  Adapters adapters(loop);
  Bm6Codec codec;
  std::string error;
  auto connector = make_connector(loop, options, &adapters, error);
  if (!connector) usage_error(error);
  std::unique_ptr<Bm6Link> link;
  std::optional<Bm6Reading> reading;
  std::optional<int> rssi;
  bool finished = false;
  connector->connect([&](UniqueFd fd, const std::string& e) {
    if (!fd) {
      error = e;
      finished = true;
      return;
    }
    Bm6Link::Handlers h;
    h.on_reading = [&](const Bm6Reading& r, std::chrono::system_clock::time_point) {
      if (reading) return;
      reading = r;
      // The signal strength too, where there is a radio; the answer takes a moment.
      const int link_fd = link->bearer().fd();
      if (!connector->read_rssi(link_fd, [&](int dbm) {
            rssi = dbm;
            finished = true;
          })) {
        if (options.address.rfind("unix:", 0) != 0)
          std::fprintf(stderr, "bm6ctl: reading the RSSI failed: %s\n", std::strerror(errno));
        finished = true;
      } else {
        loop.add_timer(std::chrono::seconds(1), [&] { finished = true; });
      }
    };
    h.on_closed = [&](const std::string& reason) {
      error = reason;
      finished = true;
    };
    link = std::make_unique<Bm6Link>(loop, std::move(fd), codec, Bm6Link::Options{}, h);
  });
  if (!loop.run_until([&] { return finished; }, limit + std::chrono::seconds(1)))
    error = "no reading within " + std::to_string(timeout) + " s";
  link.reset();
  if (!reading) {
    std::fprintf(stderr, "bm6ctl: %s: %s\n", options.address.c_str(), error.c_str());
    return error.find("not permitted") != std::string::npos ? kNoPermission : kFailed;
  }
  if (json) {
    const std::string rssi_field = rssi ? ",\"rssi\":" + std::to_string(*rssi) : "";
    std::printf(
        "{\"address\":\"%s\",\"voltage\":%.2f,\"temperature\":%d,\"soc\":%u,"
        "\"state\":\"%s\"%s}\n",
        options.address.c_str(), reading->volts(), reading->temperature_c, reading->soc_percent,
        to_string(reading->state), rssi_field.c_str());
  } else {
    std::printf("%s: %.2f V, %d C, %u %%, %s%s\n", options.address.c_str(), reading->volts(),
                reading->temperature_c, reading->soc_percent, to_string(reading->state),
                rssi ? (", " + std::to_string(*rssi) + " dBm").c_str() : "");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage_error("give a command");
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  try {
    if (cmd == "scan") return run_scan(argc - 2, argv + 2);
    if (cmd == "read") return run_read(argc - 2, argv + 2);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bm6ctl: %s\n", e.what());
    return kFailed;
  }
  usage_error("unknown command \"" + cmd + "\"");
}
