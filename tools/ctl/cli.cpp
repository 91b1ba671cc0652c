#include "tools/ctl/cli.h"

#include <getopt.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "tools/ctl/decode.h"
#include "transport/address.h"
#include "transport/connector.h"

#ifndef BM6_VERSION
#error "BM6_VERSION must be defined (the project version, from CMake)"
#endif

namespace bm6::ctl {

namespace {

constexpr double kMaxTimeout = 3600;

// A set of verbs, one bit each; kTool: the tool's own help, before any verb.
using Verbs = unsigned;
constexpr Verbs bit(Verb v) { return 1u << static_cast<unsigned>(v); }
constexpr Verbs kScan = bit(Verb::kScan), kRead = bit(Verb::kRead), kDecode = bit(Verb::kDecode),
                kHistory = bit(Verb::kHistory), kCapture = bit(Verb::kCapture),
                kHa = bit(Verb::kHaDiscovery);
constexpr Verbs kLinkVerbs = kRead | kHistory | kCapture;
constexpr Verbs kEveryVerb = kScan | kLinkVerbs | kDecode | kHa;
constexpr Verbs kTool = 1u << 8;

// Each verb once: its name, its --timeout default and its help's head.
struct VerbSpec {
  Verb verb;
  const char* name;
  double timeout_s;
  const char* synopsis;
  const char* description;
};

const VerbSpec kVerbs[] = {
    {Verb::kScan, "scan", 10,
     "Usage: bm6ctl scan [--adapter hciN|unix:DIR] [--timeout S] [--all] [--json]\n",
     "List nearby Bluetooth LE devices that advertise as BM6 battery monitors (named\n"
     "\"BM6\" or offering service FFF0, or whose advertisements decode): address,\n"
     "address type, name, RSSI, and the reading a monitor that no central holds\n"
     "advertises (voltage, state of charge, state, and byte 10 raw as \"byte10\n"
     "(unconfirmed)\": some read it as a temperature, public captures do not bear\n"
     "that out; from the iBeacon only the state of charge), or the undecoded data\n"
     "in hex. Names are printed\n"
     "with control characters shown as \\xNN. Needs CAP_NET_ADMIN.\n"},
    {Verb::kRead, "read", 20,
     "Usage: bm6ctl read ADDRESS [--adapter hciN] [--address-type public|random]\n"
     "                         [--model M] [--timeout S] [--json]\n"
     "       bm6ctl read DEVICE|ADDRESS --config FILE [OPTIONS]\n",
     "Connect to one BM6 battery monitor, print one reading (voltage, temperature,\n"
     "state of charge, state, RSSI), disconnect. A monitor holds one central at a\n"
     "time: while the phone app is connected, it turns others away.\n"},
    {Verb::kDecode, "decode", 60,
     "Usage: bm6ctl decode --address MAC [--model M] HEX\n"
     "       bm6ctl decode --file CAPTURE [--model M]\n",
     "Decode one advertisement's manufacturer data (as btmon or bluetoothctl show it)\n"
     "or one notification, given in hex, and print the reading as one JSON object\n"
     "with the keys of read --json that it carries (address, model, voltage,\n"
     "temperature, soc, state) and source (advertisement, ibeacon, notification).\n"
     "An advertisement has no temperature: its byte 10, which some read as one\n"
     "but which is unconfirmed, is given raw as byte10_unconfirmed.\n"
     "No radio is used. Exits 1 with the reason when the bytes are not a reading,\n"
     "such as data that another device sent (its decrypted address differs).\n"},
    {Verb::kHistory, "history", 60,
     "Usage: bm6ctl history ADDRESS [--pages N] [--json|--csv] [--record-period S]\n"
     "                      [--adapter hciN] [--address-type public|random] [--model M]\n"
     "                      [--timeout S]\n",
     "Connect to one BM6 or BM7, download the readings it stored (one about every\n"
     "2 minutes), print them oldest first, disconnect. Records carry no time: each is\n"
     "printed with an estimated time, the newest a second before the answer came and\n"
     "each older one a record period before the next. A record was taken up to one\n"
     "record period before the time shown.\n"},
    {Verb::kCapture, "capture", 60,
     "Usage: bm6ctl capture ADDRESS [--seconds N] [--adapter hciN]\n"
     "                      [--address-type public|random] [--model M]\n",
     "Record what one monitor sends, as JSON Lines on standard output, for a report\n"
     "or a test: a header line; each advertisement of ADDRESS heard in --seconds (time,\n"
     "RSSI, the advertising data in hex, its manufacturer data and what each field\n"
     "decodes to; the advertised byte 10 is left in the raw data only, since what it\n"
     "is is not confirmed), needing CAP_NET_ADMIN; then, over a link for --seconds,\n"
     "each ATT notification (time, handle, the ciphertext, the model, the decrypted\n"
     "plaintext and the reading or the reason it is not one); and an end line with\n"
     "the model detected and the counts. 'bm6ctl decode --file' decodes it again,\n"
     "'bm6-sim --replay' sends its notifications. Exits 0 if anything was heard.\n"},
    {Verb::kHaDiscovery, "ha-discovery", 10,
     "Usage: bm6ctl ha-discovery [--config FILE] [--broker HOST] [--port N]\n"
     "                           [--credentials FILE] [--dry-run|--remove] [OPTIONS]\n",
     "Publish Home Assistant MQTT discovery messages, retained, for each monitor in\n"
     "<Plugin bm6> of collectd's configuration: voltage, temperature, charge, state\n"
     "and RSSI sensors of one Home Assistant device per monitor, reading the topics\n"
     "collectd's mqtt plugin publishes (PREFIX/HOST/bm6-DEVICE/TYPE). Broker, port,\n"
     "prefix, user name and password default to the configuration's first\n"
     "<Plugin mqtt> <Publish> block. A user name and password come from --credentials,\n"
     "else from BM6_MQTT_USERNAME and BM6_MQTT_PASSWORD in the environment, else from\n"
     "that block; never from the command line. MQTT 3.1.1 over plain TCP, QoS 1.\n"},
};

const VerbSpec& spec_of(Verb v) { return kVerbs[static_cast<unsigned>(v)]; }

std::optional<Verb> verb_named(const std::string& s) {
  for (const auto& v : kVerbs)
    if (s == v.name) return v.verb;
  return std::nullopt;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// A whole number from lo to hi, written in decimal digits only.
std::optional<unsigned> whole(const std::string& v, unsigned lo, unsigned hi) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const unsigned long n = std::strtoul(v.c_str(), nullptr, 10);
  if (n < lo || n > hi) return std::nullopt;
  return static_cast<unsigned>(n);
}

// Seconds written as a decimal number (2, 2.5, .5): no sign, exponent, hex or spaces, which
// strtod would take.
std::optional<double> seconds(const std::string& v) {
  const std::size_t point = v.find('.');
  const std::string digits =
      point == std::string::npos ? v : v.substr(0, point) + v.substr(point + 1);
  if (digits.empty() || digits.size() > 20 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const double s = std::strtod(v.c_str(), nullptr);
  if (s <= 0 || s > kMaxTimeout) return std::nullopt;
  return s;
}

// What an option's value does to the command: "" or what is wrong with it (the message
// goes on after "--option: ").
using Apply = std::string (*)(Command& cmd, const std::string& value);

std::string bad_seconds(const std::string& value) {
  return quoted(value) + " is not a number of seconds more than 0 and at most 3600";
}

std::string apply_adapter(Command& cmd, const std::string& value) {
  if (value.empty()) return "give an adapter such as hci0";
  if (const auto adapter = AdapterId::parse(value)) {
    cmd.adapter = adapter->text();  // "hci00" is hci0
    return "";
  }
  if (!DeviceAddress::names_socket(value)) return quoted(value) + " is not an adapter such as hci0";
  if (cmd.verb != Verb::kScan)
    return std::string(spec_of(*cmd.verb).name) +
           " takes a Bluetooth adapter (hciN); a unix: ADDRESS needs none";
  cmd.adapter = value;  // scan's unix:DIR, checked with the operands
  return "";
}

std::string apply_timeout(Command& cmd, const std::string& value) {
  const auto s = seconds(value);
  if (!s) return bad_seconds(value);
  cmd.timeout_s = *s;
  return "";
}

std::string apply_seconds(Command& cmd, const std::string& value) {
  const auto s = seconds(value);
  if (!s) return bad_seconds(value);
  cmd.seconds = *s;
  return "";
}

std::string apply_pages(Command& cmd, const std::string& value) {
  const auto n = whole(value, 1, 255);
  if (!n) return quoted(value) + " is not a whole number from 1 to 255";
  cmd.pages = *n;
  return "";
}

std::string apply_record_period(Command& cmd, const std::string& value) {
  const auto n = whole(value, 1, 86400);
  if (!n) return quoted(value) + " is not a whole number of seconds from 1 to 86400";
  cmd.record_period = std::chrono::seconds(*n);
  return "";
}

std::string apply_address_type(Command& cmd, const std::string& value) {
  if (value != "public" && value != "random") return quoted(value) + " is not public or random";
  cmd.random_address = value == "random";
  return "";
}

std::string apply_model(Command& cmd, const std::string& value) {
  if (value == "auto") {
    cmd.model.reset();
    return "";
  }
  const auto family = parse_family(value);
  if (!family) return quoted(value) + " is not auto, " + family_names(kAllFamilies, "or", true);
  if (cmd.verb == Verb::kHistory && !traits(*family).has_history)
    return std::string("a ") + traits(*family).name + " keeps no history to download (give auto, " +
           family_names(families_where([](const FamilyTraits& f) { return f.has_history; }), "or",
                        true) +
           ")";
  cmd.model = family;
  return "";
}

std::string apply_address(Command& cmd, const std::string& value) {
  const auto bdaddr = parse_bdaddr(value);
  if (!bdaddr)
    return quoted(value) + " is not a Bluetooth address (AA:BB:CC:DD:EE:FF or AA-BB-CC-DD-EE-FF)";
  cmd.address = bm6::to_string(*bdaddr);
  return "";
}

std::string apply_file(Command& cmd, const std::string& value) {
  if (value.empty()) return "give a capture file";
  cmd.file = value;
  return "";
}

std::string apply_config(Command& cmd, const std::string& value) {
  if (value.empty()) return "give collectd's configuration file";
  cmd.config = value;
  return "";
}

// Host names, prefixes and ids: any text but empty (MQTT takes UTF-8).
std::string apply_text(std::optional<std::string>& out, const std::string& value) {
  if (value.empty()) return "give a value";
  out = value;
  return "";
}
std::string apply_broker(Command& cmd, const std::string& v) { return apply_text(cmd.broker, v); }
std::string apply_hostname(Command& cmd, const std::string& v) {
  return apply_text(cmd.hostname, v);
}
std::string apply_client_id(Command& cmd, const std::string& v) {
  return apply_text(cmd.client_id, v);
}
// collectd's Prefix may be empty (topics then start with the host).
std::string apply_topic_prefix(Command& cmd, const std::string& v) {
  cmd.topic_prefix = v;
  return "";
}
std::string apply_discovery_prefix(Command& cmd, const std::string& v) {
  if (v.empty()) return "give a prefix such as homeassistant";
  cmd.discovery_prefix = v;
  return "";
}

std::string apply_port(Command& cmd, const std::string& value) {
  const auto n = whole(value, 1, 65535);
  if (!n) return quoted(value) + " is not a port from 1 to 65535";
  cmd.port = n;
  return "";
}

std::string apply_expire_after(Command& cmd, const std::string& value) {
  const auto n = whole(value, 0, 86400 * 7);
  if (!n) return quoted(value) + " is not a whole number of seconds from 0 to 604800";
  cmd.expire_after = n;
  return "";
}

std::string apply_credentials(Command& cmd, const std::string& value) {
  if (value.empty()) return "give a file";
  cmd.credentials = value;
  return "";
}

std::string set_dry_run(Command& cmd, const std::string&) {
  cmd.dry_run = true;
  return "";
}
std::string set_remove(Command& cmd, const std::string&) {
  cmd.remove = true;
  return "";
}

std::string set_all(Command& cmd, const std::string&) {
  cmd.all = true;
  return "";
}
std::string set_json(Command& cmd, const std::string&) {
  cmd.json = true;
  return "";
}
std::string set_csv(Command& cmd, const std::string&) {
  cmd.csv = true;
  return "";
}

// One help entry: for these verbs, the option's text (lines after the first indented by
// the parser), with the argument written differently where `argument` is set.
struct Help {
  Verbs verbs;
  const char* text;
  const char* argument = nullptr;
};

// Each option once: its names, its argument (none: a switch), the verbs it is for, what it
// does and its help. The rows without a name are operands, in the help only. The verbs'
// help lists the rows in this order.
struct OptionSpec {
  const char* name;
  char short_name;
  const char* argument;
  Verbs verbs;
  Apply apply;
  std::vector<Help> help;
};

const std::vector<OptionSpec> kOptions = {
    {"ADDRESS",
     0,
     nullptr,
     kLinkVerbs,
     nullptr,
     {{kHistory,
       "AA:BB:CC:DD:EE:FF (or with '-' separators, any case), or\n"
       "unix:/path/to/bm6-sim.sock"},
      {kRead,
       "AA:BB:CC:DD:EE:FF (or with '-' separators, any case), or\n"
       "unix:/path/to/bm6-sim.sock; with --config also the name of\n"
       "a <Device> there, whose Address is read"},
      {kCapture,
       "AA:BB:CC:DD:EE:FF (or with '-' separators, any case), or\n"
       "unix:/path/to/bm6-sim.sock (a link only: nothing advertises)"}}},
    {"address",
     0,
     "MAC",
     kDecode,
     apply_address,
     {{kDecode,
       "the advertiser's address, AA:BB:CC:DD:EE:FF (required:\n"
       "the encrypted data carries it, which proves key and device)"}}},
    {"seconds",
     0,
     "N",
     kCapture,
     apply_seconds,
     {{kCapture,
       "listen to advertisements for N seconds, then keep a link for\n"
       "N seconds (default 30 each), more than 0 and at most 3600"}}},
    {"pages",
     0,
     "N",
     kHistory,
     apply_pages,
     {{kHistory,
       "ask for N pages of 256 records, 1-255 (default 1: ~8.5 h at\n"
       "one record every 2 minutes)"}}},
    {"record-period",
     0,
     "S",
     kHistory,
     apply_record_period,
     {{kHistory,
       "the monitor's seconds between records, for the estimated\n"
       "times (default 120, a BM6's and BM7's)"}}},
    {"adapter",
     'i',
     "hciN",
     kScan | kLinkVerbs,
     apply_adapter,
     {{kScan | kLinkVerbs, "the Bluetooth adapter (default: the first that is up)"},
      {kScan, "list the bm6-sim sockets in DIR that something listens on", "unix:DIR"}}},
    {"address-type",
     0,
     "public|random",
     kLinkVerbs,
     apply_address_type,
     {{kLinkVerbs, "the monitor's LE address type (default public)"}}},
    {"config",
     'c',
     "FILE",
     kRead | kHa,
     apply_config,
     {{kRead,
       "collectd's configuration, its Includes followed: print the\n"
       "values as the plugin dispatches them for the <Device> with\n"
       "this name or Address: with its VoltageOffset and\n"
       "TemperatureOffset added, and with a Chemistry the rest-voltage\n"
       "estimate (soc_estimated) beside the monitor's own soc"},
      {kHa,
       "collectd's configuration, its Includes followed (default\n"
       "/etc/collectd/collectd.conf)"}}},
    {"broker",
     'b',
     "HOST",
     kHa,
     apply_broker,
     {{kHa, "the MQTT broker (default: the <Publish> block's Host, else\nlocalhost)"}}},
    {"port",
     'p',
     "N",
     kHa,
     apply_port,
     {{kHa, "the broker's port (default: the <Publish> block's, else 1883)"}}},
    {"credentials",
     0,
     "FILE",
     kHa,
     apply_credentials,
     {{kHa,
       "the user name and password, as lines username=NAME and\n"
       "password=SECRET (keep it readable by its owner only)"}}},
    {"client-id",
     0,
     "ID",
     kHa,
     apply_client_id,
     {{kHa, "the MQTT client id (default bm6ctl-PID)"}}},
    {"hostname",
     0,
     "NAME",
     kHa,
     apply_hostname,
     {{kHa,
       "collectd's host name in the value topics (default: its\n"
       "Hostname, else the system's, made fully qualified unless\n"
       "FQDNLookup is false, as collectd does)"}}},
    {"topic-prefix",
     0,
     "PREFIX",
     kHa,
     apply_topic_prefix,
     {{kHa,
       "the value topics' prefix, collectd's mqtt Prefix (default:\n"
       "the <Publish> block's, else collectd)"}}},
    {"discovery-prefix",
     0,
     "PREFIX",
     kHa,
     apply_discovery_prefix,
     {{kHa, "Home Assistant's discovery prefix (default homeassistant)"}}},
    {"expire-after",
     0,
     "S",
     kHa,
     apply_expire_after,
     {{kHa,
       "seconds without a value after which Home Assistant shows a\n"
       "sensor unavailable; 0: never (default: 3 of the device's\n"
       "intervals)"}}},
    {"dry-run",
     'n',
     nullptr,
     kHa,
     set_dry_run,
     {{kHa, "print each topic and payload, one per line; publish nothing"}}},
    {"remove",
     0,
     nullptr,
     kHa,
     set_remove,
     {{kHa,
       "publish empty retained messages on the same topics instead:\n"
       "Home Assistant then removes the sensors"}}},
    {"timeout",
     't',
     "S",
     kScan | kRead | kHistory | kHa,
     apply_timeout,
     {{kScan, "scan for S seconds, more than 0 and at most 3600 (default 10)"},
      {kRead,
       "give up after S seconds in all, more than 0 and at most 3600\n"
       "(default 20)"},
      {kHistory,
       "give up after S seconds in all, more than 0 and at most 3600\n"
       "(default 60)"},
      {kHa,
       "give up on the broker after S seconds in all, more than 0 and\n"
       "at most 3600 (default 10)"}}},
    {"model",
     0,
     "auto|bm6|bm7|bm2",
     kLinkVerbs | kDecode,
     apply_model,
     {{kRead | kCapture, "the monitor's family (default auto: detected on the link)"},
      {kHistory,
       "the monitor's family (default auto: detected on the link); a\n"
       "BM2's history is not supported",
       "auto|bm6|bm7"},
      {kDecode,
       "the monitor's family (default auto: every family's key; a\n"
       "BM2 notification needs --model bm2)"}}},
    {"HEX",
     0,
     nullptr,
     kDecode,
     nullptr,
     {{kDecode,
       "the manufacturer data, company id first as sent\n"
       "(6a281d95...; spaces, colons and 0x allowed), or with the\n"
       "company id as bluetoothctl prints it (0x286a 1d 95 ...);\n"
       "or one notification (16 bytes)"}}},
    {"file",
     0,
     "CAPTURE",
     kDecode,
     apply_file,
     {{kDecode,
       "decode a capture (bm6ctl capture's JSON Lines) again: one\n"
       "JSON object per notification and per manufacturer data\n"
       "field: line, type, model, plaintext and reading (voltage,\n"
       "temperature, soc, state) or reason; the model is --model,\n"
       "else the capture's, else detected from its notifications"}}},
    {"all",
     0,
     nullptr,
     kScan,
     set_all,
     {{kScan, "list every LE device seen, not only BM6 monitors"}}},
    {"json",
     'j',
     nullptr,
     kEveryVerb & ~kCapture & ~kHa,
     set_json,  // a capture is JSON Lines; discovery payloads are JSON
     {{kScan,
       "one JSON object per device and line: address, address_type,\n"
       "name, rssi (null when unknown), the reading's keys as\n"
       "decode prints them (or undecoded: the reason) and\n"
       "manufacturer_data (hex); in names, bytes that are not\n"
       "UTF-8 become U+FFFD"},
      {kRead,
       "print the reading as one JSON object: address, model,\n"
       "voltage, temperature (not for a BM2, which has no sensor),\n"
       "soc, state, and rssi where there is a radio"},
      {kHistory,
       "one JSON object per record and line: address, time (UTC,\n"
       "estimated), epoch, uncertainty_s, voltage, soc, temperature\n"
       "(null when the record's is unknown), event, slot"},
      {kDecode, "accepted; decode always prints JSON"}}},
    {"csv", 0, nullptr, kHistory, set_csv, {{kHistory, "CSV with a header line: the same fields"}}},
    {"help",
     'h',
     nullptr,
     kEveryVerb,
     nullptr,
     {{kEveryVerb, "show this help and exit"},
      {kTool, "show this help (after a COMMAND: its help) and exit"}}},
    {"version", 0, nullptr, kEveryVerb, nullptr, {{kTool, "show the version and exit"}}},
};

bool is_operand(const OptionSpec& o) { return std::isupper(static_cast<unsigned char>(o.name[0])); }

// getopt_long's values: an option's index in the table, past every char.
constexpr int kFirstIndex = 256;

// getopt_long's tables, made once from ours.
struct GetoptTables {
  std::vector<option> longs;
  // Leading '-': non-options come back in order as 1 (options anywhere, whatever
  // POSIXLY_CORRECT says); ':' next: a missing value is reported as ':'.
  std::string shorts = "-:";
};

const GetoptTables& getopt_tables() {
  static const GetoptTables tables = [] {
    GetoptTables t;
    const auto& table = kOptions;
    for (std::size_t i = 0; i < table.size(); ++i) {
      const OptionSpec& o = table[i];
      if (is_operand(o)) continue;
      const int has_arg = o.argument ? required_argument : no_argument;
      t.longs.push_back({o.name, has_arg, nullptr, kFirstIndex + static_cast<int>(i)});
      if (o.short_name) t.shorts += std::string(1, o.short_name) + (o.argument ? ":" : "");
    }
    t.longs.push_back({nullptr, 0, nullptr, 0});
    return t;
  }();
  return tables;
}

// The table's index of what getopt_long returned: a long option's value or a short name.
std::size_t index_of(int c) {
  if (c >= kFirstIndex) return static_cast<std::size_t>(c - kFirstIndex);
  const auto& table = kOptions;
  for (std::size_t i = 0; i < table.size(); ++i)
    if (table[i].short_name == c) return i;
  return table.size();
}

// A long option as the user wrote it, without any "=VALUE".
std::string option_text(const std::string& arg) { return arg.substr(0, arg.find('=')); }

// What getopt_long refused ('?'), in words: it says only that it failed.
std::string refusal(const std::string& written, bool is_long, int optopt_value) {
  if (is_long && optopt_value != 0) return "option " + quoted(written) + " takes no value";
  std::string candidates;
  int count = 0;
  for (const option* o = getopt_tables().longs.data(); is_long && o->name; ++o)
    if (std::strncmp(o->name, written.c_str() + 2, written.size() - 2) == 0) {
      candidates += std::string(count++ ? ", " : "") + "--" + o->name;
    }
  if (count > 1) return "option " + quoted(written) + " is ambiguous: " + candidates;
  return "unknown option " + quoted(written);
}

struct Given {
  std::size_t index;    // in kOptions
  std::string written;  // as on the command line, for messages
  std::string value;
};

// The command line split by getopt_long, nothing interpreted yet.
struct Split {
  std::vector<Given> given;
  std::vector<std::string> positional;
  bool help = false, version = false;
  std::optional<std::string> error;  // the first; the command is not known yet
};

Split split(const std::vector<std::string>& args) {
  // getopt_long wants a mutable argv with the program name first; it keeps its state in
  // globals, reset by optind = 0. Leading '-' means it permutes nothing.
  std::vector<std::string> storage{"bm6ctl"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int argc = static_cast<int>(storage.size());
  const auto& tables = getopt_tables();
  Split out;
  optind = 0;
  opterr = 0;
  for (;;) {
    const int at = optind == 0 ? 1 : optind;  // the element getopt_long looks at
    const int c =
        getopt_long(argc, argv.data(), tables.shorts.c_str(), tables.longs.data(), nullptr);
    if (c == -1) break;
    const std::string element = at < argc ? argv[at] : "";
    const bool is_long = element.rfind("--", 0) == 0;
    const char short_name = static_cast<char>(c == '?' || c == ':' ? optopt : c);
    const std::string written = is_long ? option_text(element) : std::string("-") + short_name;
    if (c == 1) {
      out.positional.push_back(optarg);
    } else if (c == ':' || c == '?') {
      if (!out.error)
        out.error = c == ':' ? "option " + quoted(written) + " needs a value"
                             : refusal(written, is_long, optopt);
    } else if (const std::size_t i = index_of(c); kOptions[i].name == std::string("help")) {
      out.help = true;
    } else if (kOptions[i].name == std::string("version")) {
      out.version = true;
    } else {
      out.given.push_back({i, written, optarg ? optarg : ""});
    }
  }
  for (int i = optind; i < argc; ++i) out.positional.emplace_back(argv[i]);  // after "--"
  return out;
}

// The command: the first word. "help [COMMAND]" is --help spelled as a command; "help
// help" is the tool's help, which says what "help" does.
std::optional<UsageError> read_verb(const std::vector<std::string>& positional, Command& cmd,
                                    bool& help_word) {
  if (positional.empty()) return std::nullopt;
  const std::string& word = positional.front();
  if (word != "help") {
    cmd.verb = verb_named(word);
    if (!cmd.verb) return UsageError{"unknown command " + quoted(word), std::nullopt};
    return std::nullopt;
  }
  help_word = true;
  if (positional.size() > 2)
    return UsageError{"help takes one command name, not " + quoted(positional[2]), std::nullopt};
  if (positional.size() == 2 && positional[1] != "help") {
    cmd.verb = verb_named(positional[1]);
    if (!cmd.verb) return UsageError{"unknown command " + quoted(positional[1]), std::nullopt};
  }
  return std::nullopt;
}

std::optional<UsageError> apply_options(const std::vector<Given>& given, Command& cmd) {
  const Verb verb = *cmd.verb;
  const std::string name = spec_of(verb).name;
  std::set<std::size_t> seen;
  for (const auto& g : given) {
    const OptionSpec& o = kOptions[g.index];
    if (!(o.verbs & bit(verb)))
      return UsageError{name + " has no option " + quoted(g.written), verb};
    // Given twice is a mistake whichever would win.
    if (!seen.insert(g.index).second)
      return UsageError{"option '--" + std::string(o.name) + "' is given twice", verb};
    if (const std::string problem = o.apply(cmd, g.value); !problem.empty())
      return UsageError{g.written + ": " + problem, verb};
  }
  if (cmd.json && cmd.csv) return UsageError{"give --json or --csv, not both", verb};
  if (cmd.dry_run && cmd.remove) return UsageError{"give --dry-run or --remove, not both", verb};
  return std::nullopt;
}

// ADDRESS: a Bluetooth address, normalised, or unix:/path; "" and `error` set when neither.
std::string device_address(const std::string& text, std::string& error) {
  if (const auto address = DeviceAddress::parse(text, error)) return address->text();
  if (DeviceAddress::names_socket(text)) return "";  // `error` says what is wrong with it
  error = quoted(text) +
          " is neither a Bluetooth address (AA:BB:CC:DD:EE:FF or AA-BB-CC-DD-EE-FF) nor "
          "unix:/path/to/socket";
  return "";
}

std::optional<UsageError> read_operands(const std::vector<std::string>& operands, Command& cmd) {
  const Verb verb = *cmd.verb;
  const std::string name = spec_of(verb).name;
  if (verb == Verb::kHaDiscovery) {
    if (!operands.empty()) return UsageError{"ha-discovery takes no " + quoted(operands[0]), verb};
    // read has no default: without --config it reads the monitor alone.
    if (cmd.config.empty()) cmd.config = "/etc/collectd/collectd.conf";
    return std::nullopt;
  }
  if (verb == Verb::kScan) {
    if (!operands.empty()) return UsageError{"scan takes no " + quoted(operands[0]), verb};
    if (std::string e;
        DeviceAddress::names_socket(cmd.adapter) && !DeviceAddress::parse(cmd.adapter, e))
      return UsageError{"--adapter unix: needs a directory after it", verb};
    return std::nullopt;
  }
  if (verb == Verb::kDecode && !cmd.file.empty()) {
    if (operands.empty()) return std::nullopt;
    return UsageError{"decode --file takes no HEX; " + quoted(operands[0]) + " is one too many",
                      verb};
  }
  if (verb == Verb::kDecode) {
    if (cmd.address.empty())
      return UsageError{"decode needs --address MAC: the advertiser's, which the data must carry",
                        verb};
    auto parsed = parse_hex_words(operands);
    if (auto* error = std::get_if<std::string>(&parsed)) return UsageError{*error, verb};
    cmd.hex = std::move(std::get<std::vector<std::vector<std::uint8_t>>>(parsed));
    return std::nullopt;
  }
  if (operands.empty()) return UsageError{name + " needs an ADDRESS", verb};
  if (operands.size() > 1)
    return UsageError{name + " takes one ADDRESS; " + quoted(operands[1]) + " is one too many",
                      verb};
  std::string error;
  cmd.address = device_address(operands[0], error);
  // With --config, a word that is no address may name a <Device> there (run_read looks).
  if (!error.empty() && verb == Verb::kRead && !cmd.config.empty()) {
    cmd.device = operands[0];
    return std::nullopt;
  }
  if (!error.empty()) return UsageError{error, verb};
  return std::nullopt;
}

// "  -i, --adapter=hciN   the Bluetooth adapter ...": the names, then the text from column
// 23 (on a line of its own when the names reach it), each further line indented as much.
std::string help_row(const OptionSpec& o, const Help& h) {
  std::string names;
  if (is_operand(o)) {
    names = std::string("  ") + o.name;
  } else {
    names = o.short_name ? std::string("  -") + o.short_name + ", " : std::string(6, ' ');
    names += std::string("--") + o.name;
    if (const char* argument = h.argument ? h.argument : o.argument)
      names += "=" + std::string(argument);
  }
  constexpr std::size_t kColumn = 23;
  const std::string indent(kColumn, ' ');
  std::string row = names.size() + 2 <= kColumn ? names + std::string(kColumn - names.size(), ' ')
                                                : names + "\n" + indent;
  for (const char* c = h.text; *c; ++c) row += *c == '\n' ? "\n" + indent : std::string(1, *c);
  return row + "\n";
}

// The help rows of the table for these verbs (one verb, or kTool), in table order.
std::string help_rows(Verbs verbs) {
  std::string out;
  for (const auto& o : kOptions)
    for (const auto& h : o.help)
      if (h.verbs & verbs) out += help_row(o, h);
  return out;
}

constexpr const char* kExitStatus =
    "Exit status:\n"
    "  0  success\n"
    "  1  failed: nothing found, device unreachable or busy, no reading in time, a history\n"
    "     answer truncated or corrupt; decode: the bytes are not a reading (the reason is\n"
    "     printed); ha-discovery: the configuration unreadable or without a device, the\n"
    "     broker unreachable or not acknowledging in time\n"
    "  2  usage error\n"
    "  3  not permitted (scanning needs CAP_NET_ADMIN; no permission on a socket; the\n"
    "     broker refused the user name or password; a file not readable)\n";

constexpr const char* kToolHead =
    "Usage: bm6ctl [--help] [--version] COMMAND [ARGUMENTS] [OPTIONS]\n"
    "Find and read BM6 Bluetooth LE battery monitors.\n\n"
    "Commands:\n"
    "  scan [--adapter hciN|unix:DIR] [--timeout S] [--all] [--json]\n"
    "                       list nearby BM6 monitors\n"
    "  read ADDRESS [--adapter hciN] [--address-type public|random] [--model M]\n"
    "       [--timeout S] [--json] [--config FILE]\n"
    "                       connect, print one reading, disconnect\n"
    "  decode --address MAC [--model M] HEX\n"
    "                       decode advertised data or a notification\n"
    "  history ADDRESS [--pages N] [--json|--csv] [OPTIONS]\n"
    "                       print the readings the monitor stored, oldest first\n"
    "  capture ADDRESS [--seconds N] [OPTIONS]\n"
    "                       record advertisements and notifications as JSON Lines\n"
    "  ha-discovery [--config FILE] [--broker HOST] [--dry-run] [OPTIONS]\n"
    "                       publish Home Assistant MQTT discovery for collectd's monitors\n"
    "  help [COMMAND]       show the help of bm6ctl or of COMMAND\n\n"
    "Options:\n";

}  // namespace

std::chrono::milliseconds Command::timeout() const {
  return std::chrono::milliseconds(std::llround(timeout_s * 1000));
}

Parsed parse(const std::vector<std::string>& args) {
  const Split s = split(args);
  Command cmd;
  bool help_word = false;
  if (auto e = read_verb(s.positional, cmd, help_word)) return *e;
  if (s.error) return UsageError{*s.error, cmd.verb};
  if (s.help || help_word) {
    cmd.action = Command::Action::kHelp;
    return cmd;
  }
  if (s.version) {
    cmd.action = Command::Action::kVersion;
    return cmd;
  }
  if (!cmd.verb)
    return UsageError{"give a command: scan, read, decode, history, capture or ha-discovery",
                      std::nullopt};
  cmd.timeout_s = spec_of(*cmd.verb).timeout_s;
  if (auto e = apply_options(s.given, cmd)) return *e;
  const std::vector<std::string> operands(s.positional.begin() + 1, s.positional.end());
  if (auto e = read_operands(operands, cmd)) return *e;
  return cmd;
}

std::string version_text() { return "bm6ctl (bm6-collectd) " BM6_VERSION "\n"; }

std::string usage_hint(std::optional<Verb> verb) {
  return std::string("Try 'bm6ctl ") + (verb ? std::string(spec_of(*verb).name) + " " : "") +
         "--help' for more information.\n";
}

std::string help_text(std::optional<Verb> verb) {
  const std::string tail =
      "\nOptions may come before or after the command and its arguments; '--' ends them.\n\n" +
      std::string(kExitStatus);
  if (!verb)
    return kToolHead + help_rows(kTool) +
           "Run 'bm6ctl COMMAND --help' for the options of a command.\n" + tail;
  const VerbSpec& v = spec_of(*verb);
  return std::string(v.synopsis) + v.description + "\n" + help_rows(bit(*verb)) + tail;
}

}  // namespace bm6::ctl
