#include "tools/ctl/cli.h"

#include <getopt.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "tools/ctl/decode.h"
#include "transport/address.h"
#include "transport/connector.h"

#ifndef BM6_VERSION
#error "BM6_VERSION must be defined (the project version, from CMake)"
#endif

namespace bm6::ctl {

namespace {

constexpr double kMaxTimeout = 3600;
constexpr double kScanTimeout = 10;
constexpr double kReadTimeout = 20;
constexpr double kHistoryTimeout = 60;

enum Opt : int {
  kHelp = 'h',
  kAdapter = 'i',
  kTimeout = 't',
  kJson = 'j',
  kVersion = 256,
  kAll,
  kAddressType,
  kModel,
  kAddress,
  kPages,
  kCsv,
  kRecordPeriod,
  kSeconds,
  kFile,
};

const option kLongOptions[] = {
    {"help", no_argument, nullptr, kHelp},
    {"version", no_argument, nullptr, kVersion},
    {"adapter", required_argument, nullptr, kAdapter},
    {"timeout", required_argument, nullptr, kTimeout},
    {"json", no_argument, nullptr, kJson},
    {"all", no_argument, nullptr, kAll},
    {"address-type", required_argument, nullptr, kAddressType},
    {"model", required_argument, nullptr, kModel},
    {"address", required_argument, nullptr, kAddress},
    {"pages", required_argument, nullptr, kPages},
    {"csv", no_argument, nullptr, kCsv},
    {"record-period", required_argument, nullptr, kRecordPeriod},
    {"seconds", required_argument, nullptr, kSeconds},
    {"file", required_argument, nullptr, kFile},
    {nullptr, 0, nullptr, 0},
};
// Leading '-': non-options come back in order as 1 (options anywhere, whatever
// POSIXLY_CORRECT says); ':' next: a missing value is reported as ':'.
constexpr const char* kShortOptions = "-:hi:t:j";

const char* verb_name(Verb v) {
  switch (v) {
    case Verb::kScan:
      return "scan";
    case Verb::kRead:
      return "read";
    case Verb::kDecode:
      return "decode";
    case Verb::kHistory:
      return "history";
    case Verb::kCapture:
      return "capture";
  }
  return "?";
}

std::optional<Verb> verb_named(const std::string& s) {
  if (s == "scan") return Verb::kScan;
  if (s == "read") return Verb::kRead;
  if (s == "decode") return Verb::kDecode;
  if (s == "history") return Verb::kHistory;
  if (s == "capture") return Verb::kCapture;
  return std::nullopt;
}

bool applies(int opt, Verb verb) {
  switch (opt) {
    case kAll:
      return verb == Verb::kScan;
    case kAddressType:
      return verb == Verb::kRead || verb == Verb::kHistory || verb == Verb::kCapture;
    case kModel:
      return verb == Verb::kRead || verb == Verb::kDecode || verb == Verb::kHistory ||
             verb == Verb::kCapture;
    case kSeconds:
      return verb == Verb::kCapture;
    case kFile:
      return verb == Verb::kDecode;
    case kJson:
      return verb != Verb::kCapture;  // a capture is JSON Lines anyway
    case kAddress:
      return verb == Verb::kDecode;
    case kAdapter:
      return verb != Verb::kDecode;  // decode uses no radio
    case kTimeout:
      return verb != Verb::kDecode && verb != Verb::kCapture;  // capture: --seconds
    case kPages:
    case kCsv:
    case kRecordPeriod:
      return verb == Verb::kHistory;
    default:
      return true;
  }
}

// A long option as the user wrote it, without any "=VALUE".
std::string option_text(const char* arg) {
  const std::string s = arg;
  return s.substr(0, s.find('='));
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// "--a": which long options it abbreviates (getopt_long says only that it failed).
std::vector<std::string> long_options_starting(const std::string& written) {
  std::vector<std::string> names;
  const std::string prefix = written.substr(2);
  for (const option* o = kLongOptions; o->name; ++o)
    if (std::strncmp(o->name, prefix.c_str(), prefix.size()) == 0)
      names.push_back(std::string("--") + o->name);
  return names;
}

struct Given {
  int opt;
  std::string written;  // as on the command line, for messages
  std::string value;
};

// A whole number from lo to hi, written in decimal digits only.
std::optional<unsigned> whole(const std::string& v, unsigned lo, unsigned hi) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const unsigned long n = std::strtoul(v.c_str(), nullptr, 10);
  if (n < lo || n > hi) return std::nullopt;
  return static_cast<unsigned>(n);
}

std::optional<double> seconds(const std::string& v) {
  if (v.empty() || std::isspace(static_cast<unsigned char>(v[0]))) return std::nullopt;
  char* end = nullptr;
  const double s = std::strtod(v.c_str(), &end);
  if (*end != '\0' || !std::isfinite(s) || s <= 0 || s > kMaxTimeout) return std::nullopt;
  return s;
}

}  // namespace

std::chrono::milliseconds Command::timeout() const {
  return std::chrono::milliseconds(std::llround(timeout_s * 1000));
}

Parsed parse(const std::vector<std::string>& args) {
  // getopt_long wants a mutable argv with the program name first; it keeps its state in
  // globals, reset by optind = 0. Leading '-' means it permutes nothing.
  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back("bm6ctl");
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int argc = static_cast<int>(storage.size());

  std::vector<Given> given;
  std::vector<std::string> positional;
  bool help = false, version = false;
  std::optional<std::string> option_error;  // the first; the command is not known yet
  optind = 0;
  opterr = 0;
  for (;;) {
    const int at = optind == 0 ? 1 : optind;  // the element getopt_long looks at
    const int c = getopt_long(argc, argv.data(), kShortOptions, kLongOptions, nullptr);
    if (c == -1) break;
    const std::string element = at < argc ? argv[at] : "";
    const bool is_long = element.rfind("--", 0) == 0;
    const std::string written =
        is_long ? option_text(element.c_str()) : std::string("-") + static_cast<char>(optopt);
    switch (c) {
      case 1:
        positional.push_back(optarg);
        break;
      case ':':
        if (!option_error) option_error = "option " + quoted(written) + " needs a value";
        break;
      case '?': {
        if (option_error) break;
        const auto candidates = long_options_starting(written);
        if (is_long && optopt != 0) {
          option_error = "option " + quoted(written) + " takes no value";
        } else if (is_long && candidates.size() > 1) {
          std::string list;
          for (const auto& n : candidates) list += (list.empty() ? "" : ", ") + n;
          option_error = "option " + quoted(written) + " is ambiguous: " + list;
        } else {
          option_error = "unknown option " + quoted(written);
        }
        break;
      }
      case kHelp:
        help = true;
        break;
      case kVersion:
        version = true;
        break;
      default:
        given.push_back(
            {c, is_long ? written : std::string("-") + static_cast<char>(c), optarg ? optarg : ""});
    }
  }
  for (int i = optind; i < argc; ++i) positional.emplace_back(argv[i]);  // after "--"

  // The command: the first word. "help [COMMAND]" is --help spelled as a command.
  std::optional<Verb> verb;
  bool help_word = false;
  if (!positional.empty()) {
    const std::string word = positional.front();
    if (word == "help") {
      help_word = true;
      if (positional.size() > 2)
        return UsageError{"help takes one command name, not " + quoted(positional[2]),
                          std::nullopt};
      if (positional.size() == 2) {
        verb = verb_named(positional[1]);
        if (!verb) return UsageError{"unknown command " + quoted(positional[1]), std::nullopt};
      }
    } else {
      verb = verb_named(word);
      if (!verb) return UsageError{"unknown command " + quoted(word), std::nullopt};
    }
  }
  if (option_error) return UsageError{*option_error, verb};
  Command cmd;
  cmd.verb = verb;
  if (help || help_word) {
    cmd.action = Command::Action::kHelp;
    return cmd;
  }
  if (version) {
    cmd.action = Command::Action::kVersion;
    return cmd;
  }
  if (!verb)
    return UsageError{"give a command: scan, read, decode, history or capture", std::nullopt};

  const std::string name = verb_name(*verb);
  cmd.timeout_s = *verb == Verb::kScan   ? kScanTimeout
                  : *verb == Verb::kRead ? kReadTimeout
                                         : kHistoryTimeout;
  for (const auto& g : given) {
    if (!applies(g.opt, *verb))
      return UsageError{name + " has no option " + quoted(g.written), verb};
    switch (g.opt) {
      case kAdapter:
        if (g.value.empty()) return UsageError{g.written + ": give an adapter such as hci0", verb};
        if (const auto adapter = AdapterId::parse(g.value)) {
          cmd.adapter = adapter->text();  // "hci00" is hci0
        } else if (DeviceAddress::names_socket(g.value)) {
          if (*verb != Verb::kScan)
            return UsageError{g.written + ": " + name +
                                  " takes a Bluetooth adapter (hciN); a unix: "
                                  "ADDRESS needs none",
                              verb};
          cmd.adapter = g.value;  // scan's unix:DIR, checked below
        } else {
          return UsageError{g.written + ": " + quoted(g.value) + " is not an adapter such as hci0",
                            verb};
        }
        break;
      case kTimeout: {
        const auto s = seconds(g.value);
        if (!s)
          return UsageError{g.written + ": " + quoted(g.value) +
                                " is not a number of seconds more than 0 and at most 3600",
                            verb};
        cmd.timeout_s = *s;
        break;
      }
      case kJson:
        if (cmd.csv) return UsageError{"give --json or --csv, not both", verb};
        cmd.json = true;
        break;
      case kCsv:
        if (cmd.json) return UsageError{"give --json or --csv, not both", verb};
        cmd.csv = true;
        break;
      case kPages: {
        const auto n = whole(g.value, 1, 255);
        if (!n)
          return UsageError{
              g.written + ": " + quoted(g.value) + " is not a whole number from 1 to 255", verb};
        cmd.pages = *n;
        break;
      }
      case kRecordPeriod: {
        const auto n = whole(g.value, 1, 86400);
        if (!n)
          return UsageError{g.written + ": " + quoted(g.value) +
                                " is not a whole number of seconds from 1 to 86400",
                            verb};
        cmd.record_period = std::chrono::seconds(*n);
        break;
      }
      case kAll:
        cmd.all = true;
        break;
      case kSeconds: {
        const auto s = seconds(g.value);
        if (!s)
          return UsageError{g.written + ": " + quoted(g.value) +
                                " is not a number of seconds more than 0 and at most 3600",
                            verb};
        cmd.seconds = *s;
        break;
      }
      case kFile:
        if (g.value.empty()) return UsageError{g.written + ": give a capture file", verb};
        cmd.file = g.value;
        break;
      case kAddressType:
        if (g.value != "public" && g.value != "random")
          return UsageError{g.written + ": " + quoted(g.value) + " is not public or random", verb};
        cmd.random_address = g.value == "random";
        break;
      case kModel:
        if (g.value == "auto") {
          cmd.model.reset();
        } else if (const auto family = parse_family(g.value)) {
          cmd.model = family;
        } else {
          return UsageError{g.written + ": " + quoted(g.value) + " is not auto, bm6, bm7 or bm2",
                            verb};
        }
        break;
      case kAddress:
        if (const auto bdaddr = parse_bdaddr(g.value)) {
          cmd.address = bm6::to_string(*bdaddr);
        } else {
          return UsageError{g.written + ": " + quoted(g.value) +
                                " is not a Bluetooth address (AA:BB:CC:DD:EE:FF or "
                                "AA-BB-CC-DD-EE-FF)",
                            verb};
        }
        break;
    }
  }
  const std::vector<std::string> operands(positional.begin() + 1, positional.end());
  if (*verb == Verb::kScan) {
    if (!operands.empty()) return UsageError{"scan takes no " + quoted(operands[0]), verb};
    if (std::string e;
        DeviceAddress::names_socket(cmd.adapter) && !DeviceAddress::parse(cmd.adapter, e))
      return UsageError{"--adapter unix: needs a directory after it", verb};
    return cmd;
  }
  if (*verb == Verb::kDecode && !cmd.file.empty()) {
    if (!operands.empty())
      return UsageError{"decode --file takes no HEX; " + quoted(operands[0]) + " is one too many",
                        verb};
    return cmd;
  }
  if (*verb == Verb::kDecode) {
    if (cmd.address.empty())
      return UsageError{"decode needs --address MAC: the advertiser's, which the data must carry",
                        verb};
    auto parsed = parse_hex_words(operands);
    if (auto* error = std::get_if<std::string>(&parsed)) return UsageError{*error, verb};
    cmd.hex = std::move(std::get<std::vector<std::vector<std::uint8_t>>>(parsed));
    return cmd;
  }
  if (operands.empty()) return UsageError{name + " needs an ADDRESS", verb};
  if (operands.size() > 1)
    return UsageError{name + " takes one ADDRESS; " + quoted(operands[1]) + " is one too many",
                      verb};
  std::string error;
  const auto address = DeviceAddress::parse(operands[0], error);
  if (!address && DeviceAddress::names_socket(operands[0])) return UsageError{error, verb};
  if (!address)
    return UsageError{quoted(operands[0]) +
                          " is neither a Bluetooth address (AA:BB:CC:DD:EE:FF or "
                          "AA-BB-CC-DD-EE-FF) nor unix:/path/to/socket",
                      verb};
  cmd.address = address->text();
  return cmd;
}

std::string version_text() { return "bm6ctl (bm6-collectd) " BM6_VERSION "\n"; }

std::string usage_hint(std::optional<Verb> verb) {
  return std::string("Try 'bm6ctl ") + (verb ? std::string(verb_name(*verb)) + " " : "") +
         "--help' for more information.\n";
}

namespace {

constexpr const char* kExitStatus =
    "Exit status:\n"
    "  0  success\n"
    "  1  failed: nothing found, device unreachable or busy, no reading in time, a history\n"
    "     answer truncated or corrupt; decode: the bytes are not a reading (the reason is\n"
    "     printed)\n"
    "  2  usage error\n"
    "  3  not permitted (scanning needs CAP_NET_ADMIN; no permission on a socket)\n";

constexpr const char* kScanSynopsis =
    "Usage: bm6ctl scan [--adapter hciN|unix:DIR] [--timeout S] [--all] [--json]\n";
constexpr const char* kReadSynopsis =
    "Usage: bm6ctl read ADDRESS [--adapter hciN] [--address-type public|random]\n"
    "                         [--model M] [--timeout S] [--json]\n";
constexpr const char* kDecodeSynopsis =
    "Usage: bm6ctl decode --address MAC [--model M] HEX\n"
    "       bm6ctl decode --file CAPTURE [--model M]\n";
constexpr const char* kCaptureSynopsis =
    "Usage: bm6ctl capture ADDRESS [--seconds N] [--adapter hciN]\n"
    "                      [--address-type public|random] [--model M]\n";
constexpr const char* kCaptureOptions =
    "  ADDRESS              AA:BB:CC:DD:EE:FF (or with '-' separators, any case), or\n"
    "                       unix:/path/to/bm6-sim.sock (a link only: nothing advertises)\n"
    "      --seconds=N      listen to advertisements for N seconds, then keep a link for\n"
    "                       N seconds (default 30 each), more than 0 and at most 3600\n"
    "  -i, --adapter=hciN   the Bluetooth adapter (default: the first that is up)\n"
    "      --address-type=public|random\n"
    "                       the monitor's LE address type (default public)\n"
    "      --model=auto|bm6|bm7|bm2\n"
    "                       the monitor's family (default auto: detected on the link)\n"
    "  -h, --help           show this help and exit\n";

constexpr const char* kHistorySynopsis =
    "Usage: bm6ctl history ADDRESS [--pages N] [--json|--csv] [--record-period S]\n"
    "                      [--adapter hciN] [--address-type public|random] [--model M]\n"
    "                      [--timeout S]\n";
constexpr const char* kHistoryOptions =
    "  ADDRESS              AA:BB:CC:DD:EE:FF (or with '-' separators, any case), or\n"
    "                       unix:/path/to/bm6-sim.sock\n"
    "      --pages=N        ask for N pages of 256 records, 1-255 (default 1: ~8.5 h at\n"
    "                       one record every 2 minutes)\n"
    "      --record-period=S\n"
    "                       the monitor's seconds between records, for the estimated\n"
    "                       times (default 120, a BM6's and BM7's)\n"
    "  -j, --json           one JSON object per record and line: address, time (UTC,\n"
    "                       estimated), epoch, uncertainty_s, voltage, soc, temperature\n"
    "                       (null when the record's is unknown), event, slot\n"
    "      --csv            CSV with a header line: the same fields\n"
    "  -i, --adapter=hciN   the Bluetooth adapter (default: the first that is up)\n"
    "      --address-type=public|random\n"
    "                       the monitor's LE address type (default public)\n"
    "      --model=auto|bm6|bm7\n"
    "                       the monitor's family (default auto: detected on the link); a\n"
    "                       BM2's history is not supported\n"
    "  -t, --timeout=S      give up after S seconds in all, more than 0 and at most 3600\n"
    "                       (default 60)\n"
    "  -h, --help           show this help and exit\n";

constexpr const char* kScanOptions =
    "  -i, --adapter=hciN   the Bluetooth adapter (default: the first that is up)\n"
    "  -i, --adapter=unix:DIR\n"
    "                       list the bm6-sim sockets in DIR that something listens on\n"
    "  -t, --timeout=S      scan for S seconds, more than 0 and at most 3600 (default 10)\n"
    "      --all            list every LE device seen, not only BM6 monitors\n"
    "  -j, --json           one JSON object per device and line: address, address_type,\n"
    "                       name, rssi (null when unknown), the reading's keys as\n"
    "                       decode prints them (or undecoded: the reason) and\n"
    "                       manufacturer_data (hex); in names, bytes that are not\n"
    "                       UTF-8 become U+FFFD\n"
    "  -h, --help           show this help and exit\n";
constexpr const char* kReadOptions =
    "  ADDRESS              AA:BB:CC:DD:EE:FF (or with '-' separators, any case), or\n"
    "                       unix:/path/to/bm6-sim.sock\n"
    "  -i, --adapter=hciN   the Bluetooth adapter (default: the first that is up)\n"
    "      --address-type=public|random\n"
    "                       the monitor's LE address type (default public)\n"
    "  -t, --timeout=S      give up after S seconds in all, more than 0 and at most 3600\n"
    "                       (default 20)\n"
    "      --model=auto|bm6|bm7|bm2\n"
    "                       the monitor's family (default auto: detected on the link)\n"
    "  -j, --json           print the reading as one JSON object: address, model,\n"
    "                       voltage, temperature (not for a BM2, which has no sensor),\n"
    "                       soc, state, and rssi where there is a radio\n"
    "  -h, --help           show this help and exit\n";
constexpr const char* kDecodeOptions =
    "      --address=MAC    the advertiser's address, AA:BB:CC:DD:EE:FF (required:\n"
    "                       the encrypted data carries it, which proves key and device)\n"
    "      --model=auto|bm6|bm7|bm2\n"
    "                       the monitor's family (default auto: every family's key; a\n"
    "                       BM2 notification needs --model bm2)\n"
    "  HEX                  the manufacturer data, company id first as sent\n"
    "                       (6a281d95...; spaces, colons and 0x allowed), or with the\n"
    "                       company id as bluetoothctl prints it (0x286a 1d 95 ...);\n"
    "                       or one notification (16 bytes)\n"
    "      --file=CAPTURE   decode a capture (bm6ctl capture's JSON Lines) again: one\n"
    "                       JSON object per notification and per manufacturer data\n"
    "                       field: line, type, model, plaintext and reading (voltage,\n"
    "                       temperature, soc, state) or reason; the model is --model,\n"
    "                       else the capture's, else detected from its notifications\n"
    "  -j, --json           accepted; decode always prints JSON\n"
    "  -h, --help           show this help and exit\n";

}  // namespace

std::string help_text(std::optional<Verb> verb) {
  const std::string tail =
      "\nOptions may come before or after the command and its arguments; '--' ends them.\n\n" +
      std::string(kExitStatus);
  if (verb == Verb::kScan)
    return std::string(kScanSynopsis) +
           "List nearby Bluetooth LE devices that advertise as BM6 battery monitors (named\n"
           "\"BM6\" or offering service FFF0, or whose advertisements decode): address,\n"
           "address type, name, RSSI, and the reading a monitor that no central holds\n"
           "advertises (voltage, state of charge, state, and byte 10 raw as \"byte10\n"
           "(unconfirmed)\": some read it as a temperature, public captures do not bear\n"
           "that out; from the iBeacon only the state of charge), or the undecoded data\n"
           "in hex. Names are printed\n"
           "with control characters shown as \\xNN. Needs CAP_NET_ADMIN.\n\n" +
           kScanOptions + tail;
  if (verb == Verb::kRead)
    return std::string(kReadSynopsis) +
           "Connect to one BM6 battery monitor, print one reading (voltage, temperature,\n"
           "state of charge, state, RSSI), disconnect. A monitor holds one central at a\n"
           "time: while the phone app is connected, it turns others away.\n\n" +
           kReadOptions + tail;
  if (verb == Verb::kDecode)
    return std::string(kDecodeSynopsis) +
           "Decode one advertisement's manufacturer data (as btmon or bluetoothctl show it)\n"
           "or one notification, given in hex, and print the reading as one JSON object\n"
           "with the keys of read --json that it carries (address, model, voltage,\n"
           "temperature, soc, state) and source (advertisement, ibeacon, notification).\n"
           "An advertisement has no temperature: its byte 10, which some read as one\n"
           "but which is unconfirmed, is given raw as byte10_unconfirmed.\n"
           "No radio is used. Exits 1 with the reason when the bytes are not a reading,\n"
           "such as data that another device sent (its decrypted address differs).\n\n" +
           kDecodeOptions + tail;
  if (verb == Verb::kHistory)
    return std::string(kHistorySynopsis) +
           "Connect to one BM6 or BM7, download the readings it stored (one about every\n"
           "2 minutes), print them oldest first, disconnect. Records carry no time: each is\n"
           "printed with an estimated time, the newest a second before the answer came and\n"
           "each older one a record period before the next. A record was taken up to one\n"
           "record period before the time shown.\n\n" +
           kHistoryOptions + tail;
  if (verb == Verb::kCapture)
    return std::string(kCaptureSynopsis) +
           "Record what one monitor sends, as JSON Lines on standard output, for a report\n"
           "or a test: a header line; each advertisement of ADDRESS heard in --seconds (time,\n"
           "RSSI, the advertising data in hex, its manufacturer data and what each field\n"
           "decodes to; the advertised byte 10 is left in the raw data only, since what it\n"
           "is is not confirmed), needing CAP_NET_ADMIN; then, over a link for --seconds,\n"
           "each ATT notification (time, handle, the ciphertext, the model, the decrypted\n"
           "plaintext and the reading or the reason it is not one); and an end line with\n"
           "the model detected and the counts. 'bm6ctl decode --file' decodes it again,\n"
           "'bm6-sim --replay' sends its notifications. Exits 0 if anything was heard.\n\n" +
           kCaptureOptions + tail;
  return std::string(
             "Usage: bm6ctl [--help] [--version] COMMAND [ARGUMENTS] [OPTIONS]\n"
             "Find and read BM6 Bluetooth LE battery monitors.\n\n"
             "Commands:\n"
             "  scan [--adapter hciN|unix:DIR] [--timeout S] [--all] [--json]\n"
             "                       list nearby BM6 monitors\n"
             "  read ADDRESS [--adapter hciN] [--address-type public|random] [--model M]\n"
             "       [--timeout S] [--json]\n"
             "                       connect, print one reading, disconnect\n"
             "  decode --address MAC [--model M] HEX\n"
             "                       decode advertised data or a notification\n"
             "  history ADDRESS [--pages N] [--json|--csv] [OPTIONS]\n"
             "                       print the readings the monitor stored, oldest first\n"
             "  capture ADDRESS [--seconds N] [OPTIONS]\n"
             "                       record advertisements and notifications as JSON Lines\n"
             "  help [COMMAND]       show the help of bm6ctl or of COMMAND\n\n"
             "Options:\n"
             "  -h, --help           show this help (after a COMMAND: its help) and exit\n"
             "      --version        show the version and exit\n"
             "Run 'bm6ctl COMMAND --help' for the options of a command.\n") +
         tail;
}

}  // namespace bm6::ctl
