// bm6ctl's command line: parsed into a Command or a usage error, before anything runs.
// Options may come anywhere (before or after the command and its arguments), long options
// as --name VALUE or --name=VALUE and by any unambiguous prefix, as with getopt_long; "--"
// ends the options. An option given twice is an error, not the last one winning.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/family.h"

namespace bm6::ctl {

// Exit status, as --help documents it.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // nothing found, unreachable, busy, no reading in time,
                                       // decode: not a reading; ha-discovery: no device in the
                                       // configuration, the broker unreachable
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotPermitted = 3;

enum class Verb { kScan, kRead, kDecode, kHistory, kCapture, kHaDiscovery };

struct Command {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  // kRun: what to run. kHelp: whose help (none: the tool's).
  std::optional<Verb> verb;
  // Text forms of transport/address.h's types, which parsed them.
  std::string adapter;          // "hciN"; empty: the first adapter that is up; scan: "unix:DIR"
  std::string address;          // read, history: "AA:BB:CC:DD:EE:FF" (normalised) or "unix:/path";
                                // decode: --address, normalised
  bool random_address = false;  // read --address-type random
  std::optional<Family> model;  // read, decode --model; unset: detected / every family's key
  std::vector<std::vector<std::uint8_t>> hex;  // decode: HEX, as parse_hex_words reads it
  bool all = false;                            // scan --all
  bool json = false;
  bool csv = false;                         // history --csv
  unsigned pages = 1;                       // history --pages, 1-255
  std::chrono::seconds record_period{120};  // history --record-period: the estimates' step
  double timeout_s = 0;                     // the verb's default unless --timeout
  std::string file;                         // decode --file: a capture to decode again
  std::string config;                       // --config: collectd's configuration file
  std::string device;                       // read --config: a <Device>'s name, not an address
  double seconds = 30;                      // capture --seconds: each phase's length
  // ha-discovery (tools/ctl/ha_discovery.h). Unset: from collectd's configuration.
  std::optional<std::string> broker, hostname, topic_prefix, client_id;
  std::optional<unsigned> port, expire_after;
  std::string discovery_prefix = "homeassistant";
  std::string credentials;  // a file; empty: the environment, else the configuration's
  bool dry_run = false, remove = false;
  std::chrono::milliseconds timeout() const;
};

struct UsageError {
  std::string message;       // without the program name
  std::optional<Verb> verb;  // whose --help to point at
};

using Parsed = std::variant<Command, UsageError>;

// `args` without the program name.
Parsed parse(const std::vector<std::string>& args);

std::string help_text(std::optional<Verb> verb);
std::string version_text();
// "Try 'bm6ctl read --help' for more information."
std::string usage_hint(std::optional<Verb> verb);

}  // namespace bm6::ctl
