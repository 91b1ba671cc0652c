#include "tools/sim/cli.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tools/capture/capture_file.h"

#ifndef BM6_VERSION
#error "BM6_VERSION must be defined (the project version, from CMake)"
#endif

namespace bm6::sim {

namespace {

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

bool apply_state(const std::string& value, SimDevice& d, std::string& error) {
  const auto state = parse_state_name(value);
  if (!state) {
    error =
        "option '--state': \"" + value + "\" is not normal, low, charging, critical or floating";
    return false;
  }
  d.reading.state = *state;
  return true;
}

bool apply_model(const std::string& value, SimDevice& d, std::string& error) {
  const auto model = parse_family(value);
  if (!model) {
    error = "option '--model': \"" + value + "\" is not " + family_names(kAllFamilies, "or", true);
    return false;
  }
  d.model = *model;
  return true;
}

// PERIOD:DURATION in seconds: busy for DURATION at the start of every PERIOD.
bool apply_busy(const std::string& value, SimDevice& d, std::string& error) {
  const auto colon = value.find(':');
  if (colon == std::string::npos) {
    error = "option '--busy': \"" + value + "\" is not PERIOD:DURATION (seconds, as in 20:5)";
    return false;
  }
  const auto period = number("--busy", value.substr(0, colon), 0.01, 86400, error);
  if (!period) return false;
  const auto duration = number("--busy", value.substr(colon + 1), 0, *period, error);
  if (!duration) {
    error = "option '--busy': the duration \"" + value.substr(colon + 1) +
            "\" is not a number of seconds from 0 to the period";
    return false;
  }
  d.busy_period = std::chrono::milliseconds(std::lround(*period * 1000));
  d.busy_duration = std::chrono::milliseconds(std::lround(*duration * 1000));
  return true;
}

// NAME[:N]: the fault, for the first N connections (default: all).
bool apply_fault(const std::string& value, SimDevice& d, std::string& error) {
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

// Each option once: its name, its argument, its help (lines after the first indented as
// the first), and what its value does: `apply`, or a number from lo to hi (whole if `whole`)
// for `set`. Endpoints (--socket, --l2cap) take the device described so far; -h/--help and
// --version take no value. --help lists the rows in this order.
struct SimOption {
  enum class Kind { kValue, kEndpoint, kHelp, kVersion };
  const char* name;
  const char* argument;
  const char* help;
  Kind kind = Kind::kValue;
  bool (*apply)(const std::string& value, SimDevice& d, std::string& error) = nullptr;
  double lo = 0, hi = 0;
  bool whole = false;
  void (*set)(SimDevice& d, double v) = nullptr;
};

using K = SimOption::Kind;
constexpr double kHistorySeedMax = static_cast<double>(kSimHistoryCapacity);

const SimOption kOptions[] = {
    {"--socket", "PATH",
     "serve one device at PATH (repeatable); a stale socket there\n"
     "is replaced, anything else (a file, a live socket) refused",
     K::kEndpoint},
    {"--l2cap", "hciN",
     "serve one device over Bluetooth LE on adapter hciN, and\n"
     "advertise its reading there while no central is connected\n"
     "(mgmt Add Advertising: needs CAP_NET_ADMIN)",
     K::kEndpoint},
    {"--voltage", "V", "battery voltage in volts (default 13.40)", K::kValue, nullptr, 0, 655.35,
     false,
     [](SimDevice& d, double v) {
       d.reading.centivolts = static_cast<std::uint16_t>(std::lround(v * 100));
     }},
    {"--temperature", "C", "temperature in whole degrees Celsius (default 23)", K::kValue, nullptr,
     -99, 99, false,
     [](SimDevice& d, double v) { d.reading.temperature_c = static_cast<int>(std::lround(v)); }},
    {"--soc", "P", "state of charge in percent, 0-100 (default 100)", K::kValue, nullptr, 0, 100,
     false,
     [](SimDevice& d, double v) {
       d.reading.soc_percent = static_cast<std::uint8_t>(std::lround(v));
     }},
    {"--model", "M",
     "bm6, bm7 or bm2 (default bm6): BM6 and BM7 stream after\n"
     "the live-data request under their own key, a BM2 once\n"
     "notifications are on (it has no temperature)",
     K::kValue, apply_model},
    {"--state", "S",
     "normal, low or charging; with --model bm2 also critical\n"
     "or floating (default normal)",
     K::kValue, apply_state},
    {"--period", "S", "seconds between frames (default 1)", K::kValue, nullptr, 0.01, 3600, false,
     [](SimDevice& d, double v) {
       d.period = std::chrono::milliseconds(std::lround(v * 1000));
       d.period_given = true;
     }},
    {"--mtu", "N", "the server's ATT MTU, 23-517 (default 23)", K::kValue, nullptr, 23, 517, true,
     [](SimDevice& d, double v) { d.mtu = static_cast<std::uint16_t>(v); }},
    {"--cycle", "S", "swing the values through a charge cycle of S seconds", K::kValue, nullptr, 0,
     86400, false,
     [](SimDevice& d, double v) { d.cycle = std::chrono::milliseconds(std::lround(v * 1000)); }},
    // Whole seconds: records are whole seconds apart, as the plugin's estimates assume.
    {"--record-period", "S",
     "seconds between stored records, whole, 1-86400 (default\n"
     "120); bm6 and bm7 answer the history request with them",
     K::kValue, nullptr, 1, 86400, true,
     [](SimDevice& d, double v) {
       d.record_period = std::chrono::seconds(static_cast<std::int64_t>(v));
     }},
    {"--history-seed", "N",
     "records stored already at the start, one period apart\n"
     "(default 0; at most 8192, the 32 pages kept)",
     K::kValue, nullptr, 0, kHistorySeedMax, true,
     [](SimDevice& d, double v) { d.history_seed = static_cast<std::uint32_t>(v); }},
    {"--stop-after", "N",
     "send N readings per live-data request (each answered by\n"
     "the acknowledgement frame first), then stop until the\n"
     "request is written again (default 0: stream for ever)",
     K::kValue, nullptr, 0, 1000000, true,
     [](SimDevice& d, double v) { d.stop_after = static_cast<std::uint32_t>(v); }},
    {"--fault", "NAME[:N]",
     "misbehave (for the first N connections; never-accept: leave\n"
     "the first N connection attempts unanswered, then serve):\n"
     "drop-at-mtu, drop-at-discovery, drop-after-cccd,\n"
     "drop-mid-stream, silent, garbage, error-discovery,\n"
     "error-cccd, error-command, peer-requests, firmware-update,\n"
     "flood, late, never-accept; the history answer:\n"
     "history-truncated (half, no end), history-corrupt (a\n"
     "record at 255 %), history-interleaved (live frames\n"
     "among its blocks), history-ff-start (starts ff ff fe),\n"
     "history-end-mid-block (the end after the last records\n"
     "in their block), history-pause (3.5 s of silence\n"
     "half-way), history-empty (fe fe fe, ff fe fe: no\n"
     "records), history-long (3,709 records whatever was\n"
     "asked, fe fe fe end on a bm7); no-pipelining (answers\n"
     "20 ms late and ignores a Write Command behind an\n"
     "unanswered request or on the CCCD)",
     K::kValue, apply_fault},
    {"--busy", "PERIOD:DURATION",
     "for DURATION seconds of every PERIOD (from the start) the\n"
     "owner's phone holds the monitor: centrals are turned away",
     K::kValue, apply_busy},
    {"--replay", "CAPTURE",
     "send the notifications of CAPTURE (JSON Lines, as written by\n"
     "bm6ctl capture) as they are, in order, each link from the\n"
     "first and round again; at the capture's pace, or every\n"
     "--period if given (or if it has no times); the model is\n"
     "the capture's (a --model after it overrides); a BM6 or\n"
     "BM7 replay starts on the live-data request",
     K::kValue, apply_replay},
    {"--help", nullptr, "this text", K::kHelp},
    {"--version", nullptr, "the version", K::kVersion},
};

const SimOption* option_named(const std::string& name) {
  if (name == "-h") return option_named("--help");
  for (const auto& o : kOptions)
    if (name == o.name) return &o;
  return nullptr;
}

// Sets `error` and returns false for a value option with a bad value.
bool apply_value(const SimOption& o, const std::string& value, SimDevice& d, std::string& error) {
  if (o.apply) return o.apply(value, d, error);
  const auto v = number(o.name, value, o.lo, o.hi, error);
  if (!v) return false;
  if (o.whole && *v != std::floor(*v)) {
    error = "option " + quote(o.name) + ": \"" + value + "\" is not a whole number";
    return false;
  }
  o.set(d, *v);
  return true;
}

// "a BM6 reports normal, low or charging; state floating is a BM2's (give --model bm2 before
// OPT)".
std::string state_error(Family model, State state, const std::string& opt) {
  std::string reported;
  const auto states = traits(model).states;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (i > 0) reported += i + 1 == states.size() ? " or " : ", ";
    reported += to_string(states[i]);
  }
  const auto others =
      families_where([state](const FamilyTraits& f) { return reports(f.family, state); });
  std::string error =
      std::string("a ") + to_string(model) + " reports " + reported + "; state " + to_string(state);
  if (others.empty()) return error + " is no monitor's";
  return error + " is a " + family_names(others, "or") + "'s (give --model " +
         family_names(std::span(others).first(1), "", true) + " before " + opt + ")";
}

ParseResult fail(std::string error) { return ParseResult{std::nullopt, std::move(error)}; }

// What the model's frame cannot carry, as an error for the endpoint `opt` VALUE; "" if none.
std::string check_model(const SimDevice& d, const std::string& opt, const std::string& value) {
  const std::string where = "option " + quote(opt) + " " + value + ": ";
  const FamilyTraits& t = traits(d.model);
  const State state = d.reading.state;
  if (!reports(d.model, state)) return where + state_error(d.model, state, opt);
  if (!t.needs_request && d.stop_after != 0)
    return where + "a " + t.name + " streams without a request: --stop-after is for " +
           family_names(families_where([](const FamilyTraits& f) { return f.needs_request; }),
                        "and", true);
  if (d.replay) return "";  // the capture's frames are sent, not the reading
  if (d.reading.centivolts > t.max_centivolts) {
    char most[64];
    std::snprintf(most, sizeof most, "at most %.2f V (its frame has %d bits for the voltage)",
                  t.max_centivolts / 100.0, std::bit_width(t.max_centivolts));
    return where + "a " + t.name + " reports " + most;
  }
  return "";
}

// "--socket PATH": one device, described by the value options before it.
std::string add_endpoint(const std::string& opt, const std::string& value, const SimDevice& d,
                         SimConfig& config) {
  if (value.empty()) return "option " + quote(opt) + " needs a non-empty value";
  Endpoint e;
  e.kind = opt == "--socket" ? Endpoint::Kind::kUnix : Endpoint::Kind::kL2cap;
  e.address = value;
  e.device = d;
  if (auto problem = check_model(d, opt, value); !problem.empty()) return problem;
  for (const auto& other : config.endpoints)
    if (other.name() == e.name()) return "option " + quote(opt) + ": " + value + " is given twice";
  config.endpoints.push_back(std::move(e));
  return "";
}

}  // namespace

ParseResult parse_command_line(const std::vector<std::string>& args) {
  SimConfig config;
  SimDevice current;
  std::string unapplied;  // the first value option since the last --socket/--l2cap
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const SimOption* o = option_named(arg);
    if (o && (o->kind == K::kHelp || o->kind == K::kVersion)) {
      config.action = o->kind == K::kHelp ? SimConfig::Action::kHelp : SimConfig::Action::kVersion;
      return {config, ""};
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (arg.size() > 1 && arg[0] == '-') return fail("unknown option " + quote(arg));
      return fail("unexpected argument " + quote(arg) + " (every value follows its option)");
    }
    const auto eq = arg.find('=');
    const std::string opt = arg.substr(0, eq);
    o = option_named(opt);
    if (!o) return fail("unknown option " + quote(opt));
    if (!o->argument) return fail("option " + quote(opt) + " takes no value");
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return fail("option " + quote(opt) + " needs a value");
    }
    std::string error;
    if (o->kind == K::kEndpoint) {
      error = add_endpoint(opt, value, current, config);
      unapplied.clear();
    } else if (apply_value(*o, value, current, error) && unapplied.empty()) {
      unapplied = opt;
    }
    if (!error.empty()) return fail(error);
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
  std::string rows;
  constexpr std::size_t kColumn = 25;
  for (const auto& o : kOptions) {
    std::string names = std::string("  ") + (o.kind == K::kHelp ? "-h, " : "") + o.name;
    if (o.argument) names += std::string(" ") + o.argument;
    rows += names + std::string(names.size() < kColumn ? kColumn - names.size() : 1, ' ');
    for (const char* c = o.help; *c; ++c)
      rows += *c == '\n' ? "\n" + std::string(kColumn, ' ') : std::string(1, *c);
    rows += "\n";
  }
  return "Usage: bm6-sim [OPTIONS] --socket PATH [[OPTIONS] --socket PATH ...]\n"
         "Serves simulated BM6, BM7 or BM2 battery monitors, one per --socket, over Unix\n"
         "SEQPACKET sockets (one datagram per ATT PDU, like a Bluetooth LE ATT channel).\n"
         "Value options apply to every --socket/--l2cap that follows them; one after the\n"
         "last --socket/--l2cap is an error. --NAME=VALUE works as well as --NAME VALUE.\n\n" +
         rows +
         "\nSIGUSR1 takes every device out of range (its link drops; records are still stored;\n"
         "on a Unix socket nobody answers a connect, which waits until the central gives up,\n"
         "as on a radio; on L2CAP it stops advertising, so no central connects, and one\n"
         "that reaches it on a link still up is turned away); SIGUSR2 brings it back.\n\n"
         "Exit status: 0 when stopped by SIGINT or SIGTERM, 1 if a device cannot be served,\n"
         "2 for a usage error.\n";
}

std::string version_text() { return std::string("bm6-sim ") + BM6_VERSION + "\n"; }

}  // namespace bm6::sim
