#include "tools/sim/cli.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "tools/capture/capture_file.h"

#ifndef BM6_VERSION
#error "BM6_VERSION must be defined (the project version, from CMake)"
#endif

namespace bm6::sim {

namespace {

const std::set<std::string> kValueOptions = {
    "--voltage",       "--temperature",  "--soc",    "--state",     "--period",
    "--mtu",           "--cycle",        "--fault",  "--model",     "--busy",
    "--record-period", "--history-seed", "--replay", "--stop-after"};

std::string quote(const std::string& s) { return "'" + s + "'"; }

std::string format_bound(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Sets `error` and returns nullopt unless `value` is a number in [lo, hi].
std::optional<double> number(const std::string& opt, const std::string& value, double lo, double hi,
                             std::string& error) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(v) || v < lo ||
      v > hi) {
    error = "option " + quote(opt) + ": \"" + value + "\" is not a number from " +
            format_bound(lo) + " to " + format_bound(hi);
    return std::nullopt;
  }
  return v;
}

// --replay CAPTURE: its notifications, and the model they are of (the capture's header, or
// detected from them; a --model after --replay overrides it).
bool apply_replay(const std::string& path, SimDevice& d, std::string& error) {
  const auto parsed = capture::read_capture(path);
  if (const auto* e = std::get_if<std::string>(&parsed)) {
    error = "option '--replay': " + *e;
    return false;
  }
  const auto& cap = std::get<capture::Capture>(parsed);
  auto frames = std::make_shared<std::vector<ReplayFrame>>();
  for (const auto& r : cap.records)
    if (r.type == capture::Record::Type::kNotification) frames->push_back({r.ciphertext, r.t});
  if (frames->empty()) {
    error = "option '--replay': " + path +
            " has no notifications to replay (its advertisements are not replayed)";
    return false;
  }
  if (const auto family = capture::notification_family(cap)) d.model = *family;
  d.replay = std::move(frames);
  return true;
}

// Sets `error` and returns false for a value option with a bad value.
bool apply_value(const std::string& opt, const std::string& value, SimDevice& d,
                 std::string& error) {
  if (opt == "--state") {
    const auto state = parse_state_name(value);
    if (!state) {
      error =
          "option '--state': \"" + value + "\" is not normal, low, charging, critical or floating";
      return false;
    }
    d.reading.state = *state;
    return true;
  }
  if (opt == "--replay") return apply_replay(value, d, error);
  if (opt == "--model") {
    const auto model = parse_family(value);
    if (!model) {
      error = "option '--model': \"" + value + "\" is not bm6, bm7 or bm2";
      return false;
    }
    d.model = *model;
    return true;
  }
  if (opt == "--busy") {
    // PERIOD:DURATION in seconds: busy for DURATION at the start of every PERIOD.
    const auto colon = value.find(':');
    if (colon == std::string::npos) {
      error = "option '--busy': \"" + value + "\" is not PERIOD:DURATION (seconds, as in 20:5)";
      return false;
    }
    const auto period = number(opt, value.substr(0, colon), 0.01, 86400, error);
    if (!period) return false;
    const auto duration = number(opt, value.substr(colon + 1), 0, *period, error);
    if (!duration) {
      error = "option '--busy': the duration \"" + value.substr(colon + 1) +
              "\" is not a number of seconds from 0 to the period";
      return false;
    }
    d.busy_period = std::chrono::milliseconds(std::lround(*period * 1000));
    d.busy_duration = std::chrono::milliseconds(std::lround(*duration * 1000));
    return true;
  }
  if (opt == "--fault") {
    std::string name = value;
    std::uint64_t count = ~0ull;
    if (const auto colon = name.find(':'); colon != std::string::npos) {
      const std::string n = name.substr(colon + 1);
      char* end = nullptr;
      const unsigned long long parsed = std::strtoull(n.c_str(), &end, 10);
      if (n.empty() || n[0] < '0' || n[0] > '9' || *end != '\0' || parsed > 1000000000ull) {
        error = "option '--fault': \"" + n + "\" (after the colon) is not a count of connections";
        return false;
      }
      count = parsed;
      name.resize(colon);
    }
    Fault fault = Fault::kNone;
    if (!parse_fault(name, fault)) {
      error = "option '--fault': unknown fault \"" + name + "\" (see --help)";
      return false;
    }
    d.fault = fault;
    d.fault_connections = count;
    return true;
  }
  if (opt == "--record-period" || opt == "--history-seed" || opt == "--stop-after") {
    // Whole numbers: records are whole seconds apart, as the plugin's estimates assume.
    const double hi = opt == "--record-period" ? 86400
                      : opt == "--stop-after"  ? 1000000
                                               : static_cast<double>(kSimHistoryCapacity);
    const double lo = opt == "--record-period" ? 1 : 0;
    const auto v = number(opt, value, lo, hi, error);
    if (!v) return false;
    if (*v != std::floor(*v)) {
      error = "option " + quote(opt) + ": \"" + value + "\" is not a whole number";
      return false;
    }
    if (opt == "--record-period")
      d.record_period = std::chrono::seconds(static_cast<std::int64_t>(*v));
    else if (opt == "--stop-after")
      d.stop_after = static_cast<std::uint32_t>(*v);
    else
      d.history_seed = static_cast<std::uint32_t>(*v);
    return true;
  }
  struct Range {
    double lo, hi;
  };
  const Range r = opt == "--voltage"       ? Range{0, 655.35}
                  : opt == "--temperature" ? Range{-99, 99}
                  : opt == "--soc"         ? Range{0, 100}
                  : opt == "--period"      ? Range{0.01, 3600}
                  : opt == "--cycle"       ? Range{0, 86400}
                                           : Range{23, 517};  // --mtu
  const auto v = number(opt, value, r.lo, r.hi, error);
  if (!v) return false;
  if (opt == "--voltage") {
    d.reading.centivolts = static_cast<std::uint16_t>(std::lround(*v * 100));
  } else if (opt == "--temperature") {
    d.reading.temperature_c = static_cast<int>(std::lround(*v));
  } else if (opt == "--soc") {
    d.reading.soc_percent = static_cast<std::uint8_t>(std::lround(*v));
  } else if (opt == "--period") {
    d.period = std::chrono::milliseconds(std::lround(*v * 1000));
    d.period_given = true;
  } else if (opt == "--cycle") {
    d.cycle = std::chrono::milliseconds(std::lround(*v * 1000));
  } else {
    if (*v != std::floor(*v)) {
      error = "option '--mtu': \"" + value + "\" is not a whole number";
      return false;
    }
    d.mtu = static_cast<std::uint16_t>(*v);
  }
  return true;
}

ParseResult fail(std::string error) { return ParseResult{std::nullopt, std::move(error)}; }

// What the model's frame cannot carry, as an error for the endpoint `opt` VALUE; "" if none.
std::string check_model(const SimDevice& d, const std::string& opt, const std::string& value) {
  const std::string where = "option " + quote(opt) + " " + value + ": ";
  const bool bm2 = d.model == Family::kBm2;
  if (!bm2 && (d.reading.state == State::kCritical || d.reading.state == State::kFloating))
    return where + "a " + to_string(d.model) + " reports normal, low or charging; state " +
           to_string(d.reading.state) + " is a BM2's (give --model bm2 before " + opt + ")";
  if (bm2 && d.stop_after != 0)
    return where + "a BM2 streams without a request: --stop-after is for bm6 and bm7";
  if (d.replay) return "";  // the capture's frames are sent, not the reading
  if (bm2 && d.reading.centivolts > 4095)
    return where + "a BM2 reports at most 40.95 V (its frame has 12 bits for the voltage)";
  return "";
}

}  // namespace

ParseResult parse_command_line(const std::vector<std::string>& args) {
  SimConfig config;
  SimDevice current;
  std::string unapplied;  // the first value option since the last --socket/--l2cap
  std::set<std::string> seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      config.action = SimConfig::Action::kHelp;
      return {config, ""};
    }
    if (arg == "--version") {
      config.action = SimConfig::Action::kVersion;
      return {config, ""};
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (arg.size() > 1 && arg[0] == '-') return fail("unknown option " + quote(arg));
      return fail("unexpected argument " + quote(arg) + " (every value follows its option)");
    }
    std::string opt = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      opt = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const bool endpoint = opt == "--socket" || opt == "--l2cap";
    if (!endpoint && !kValueOptions.count(opt)) {
      if (opt == "--help" || opt == "--version")
        return fail("option " + quote(opt) + " takes no value");
      return fail("unknown option " + quote(opt));
    }
    if (!value) {
      if (i + 1 >= args.size()) return fail("option " + quote(opt) + " needs a value");
      value = args[++i];
    }
    if (endpoint) {
      if (value->empty()) return fail("option " + quote(opt) + " needs a non-empty value");
      Endpoint e;
      e.kind = opt == "--socket" ? Endpoint::Kind::kUnix : Endpoint::Kind::kL2cap;
      e.address = *value;
      e.device = current;
      if (auto problem = check_model(current, opt, *value); !problem.empty()) return fail(problem);
      if (!seen.insert(e.name()).second)
        return fail("option " + quote(opt) + ": " + *value + " is given twice");
      config.endpoints.push_back(std::move(e));
      unapplied.clear();
      continue;
    }
    std::string error;
    if (!apply_value(opt, *value, current, error)) return fail(error);
    if (unapplied.empty()) unapplied = opt;
  }
  if (config.endpoints.empty())
    return fail("no device: give at least one --socket PATH or --l2cap hciN");
  if (!unapplied.empty())
    return fail("option " + quote(unapplied) +
                " comes after the last --socket/--l2cap and would apply to no device (value "
                "options apply to the --socket/--l2cap after them)");
  return {config, ""};
}

std::string usage_text() {
  return "Usage: bm6-sim [OPTIONS] --socket PATH [[OPTIONS] --socket PATH ...]\n"
         "Serves simulated BM6, BM7 or BM2 battery monitors, one per --socket, over Unix\n"
         "SEQPACKET sockets (one datagram per ATT PDU, like a Bluetooth LE ATT channel).\n"
         "Value options apply to every --socket/--l2cap that follows them; one after the\n"
         "last --socket/--l2cap is an error. --NAME=VALUE works as well as --NAME VALUE.\n\n"
         "  --socket PATH          serve one device at PATH (repeatable); a stale socket there\n"
         "                         is replaced, anything else (a file, a live socket) refused\n"
         "  --l2cap hciN           serve one device over Bluetooth LE on adapter hciN, and\n"
         "                         advertise its reading there while no central is connected\n"
         "                         (mgmt Add Advertising: needs CAP_NET_ADMIN)\n"
         "  --voltage V            battery voltage in volts (default 13.40)\n"
         "  --temperature C        temperature in whole degrees Celsius (default 23)\n"
         "  --soc P                state of charge in percent, 0-100 (default 100)\n"
         "  --model M              bm6, bm7 or bm2 (default bm6): BM6 and BM7 stream after\n"
         "                         the live-data request under their own key, a BM2 once\n"
         "                         notifications are on (it has no temperature)\n"
         "  --state S              normal, low or charging; with --model bm2 also critical\n"
         "                         or floating (default normal)\n"
         "  --period S             seconds between frames (default 1)\n"
         "  --mtu N                the server's ATT MTU, 23-517 (default 23)\n"
         "  --cycle S              swing the values through a charge cycle of S seconds\n"
         "  --record-period S      seconds between stored records, whole, 1-86400 (default\n"
         "                         120); bm6 and bm7 answer the history request with them\n"
         "  --history-seed N       records stored already at the start, one period apart\n"
         "                         (default 0; at most 8192, the 32 pages kept)\n"
         "  --stop-after N         send N readings per live-data request (each answered by\n"
         "                         the acknowledgement frame first), then stop until the\n"
         "                         request is written again (default 0: stream for ever)\n"
         "  --fault NAME[:N]       misbehave (for the first N connections; never-accept: leave\n"
         "                         the first N connection attempts unanswered, then serve):\n"
         "                         drop-at-mtu, drop-at-discovery, drop-after-cccd,\n"
         "                         drop-mid-stream, silent, garbage, error-discovery,\n"
         "                         error-cccd, error-command, peer-requests, firmware-update,\n"
         "                         flood, late, never-accept; the history answer:\n"
         "                         history-truncated (half, no end), history-corrupt (a\n"
         "                         record at 255 %), history-interleaved (live frames\n"
         "                         among its blocks), history-ff-start (starts ff ff fe),\n"
         "                         history-end-mid-block (the end after the last records\n"
         "                         in their block), history-pause (3.5 s of silence\n"
         "                         half-way), history-empty (fe fe fe, ff fe fe: no\n"
         "                         records), history-long (3,709 records whatever was\n"
         "                         asked, fe fe fe end on a bm7)\n"
         "  --busy PERIOD:DURATION for DURATION seconds of every PERIOD (from the start) the\n"
         "                         owner's phone holds the monitor: centrals are turned away\n"
         "  --replay CAPTURE       send the notifications of CAPTURE (JSON Lines, as written by\n"
         "                         bm6ctl capture) as they are, in order, each link from the\n"
         "                         first and round again; at the capture's pace, or every\n"
         "                         --period if given (or if it has no times); the model is\n"
         "                         the capture's (a --model after it overrides); a BM6 or\n"
         "                         BM7 replay starts on the live-data request\n"
         "  -h, --help             this text\n"
         "  --version              the version\n\n"
         "SIGUSR1 takes every device out of range (its link drops; records are still stored;\n"
         "on a Unix socket nobody answers a connect, which waits until the central gives up,\n"
         "as on a radio; on L2CAP it stops advertising, so no central connects, and one\n"
         "that reaches it on a link still up is turned away); SIGUSR2 brings it back.\n\n"
         "Exit status: 0 when stopped by SIGINT or SIGTERM, 1 if a device cannot be served,\n"
         "2 for a usage error.\n";
}

std::string version_text() { return std::string("bm6-sim ") + BM6_VERSION + "\n"; }

}  // namespace bm6::sim
