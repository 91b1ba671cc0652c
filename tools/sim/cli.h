// bm6-sim's command line: parsed into a configuration or an error, without side effects.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/sim/bm6_peripheral.h"

namespace bm6::sim {

inline constexpr int kExitUsage = 2;    // a usage error: bad, unknown or misplaced option
inline constexpr int kExitFailure = 1;  // could not serve (a socket refused, say)

// One simulated device and where it is served.
struct Endpoint {
  enum class Kind { kUnix, kL2cap };
  Kind kind = Kind::kUnix;
  std::string address;  // the socket path, or the adapter ("hci0")
  SimDevice device;
  std::string name() const { return kind == Kind::kL2cap ? "l2cap:" + address : address; }
};

struct SimConfig {
  enum class Action { kServe, kHelp, kVersion };
  Action action = Action::kServe;
  std::vector<Endpoint> endpoints;  // with kServe: at least one
};

struct ParseResult {
  std::optional<SimConfig> config;
  std::string error;  // set when config is not
  bool ok() const { return config.has_value(); }
};

// `args` without the program name. Options are --name VALUE or --name=VALUE. Value options
// (--voltage, --fault, ...) apply to every --socket/--l2cap after them; one after the last
// --socket/--l2cap applies to nothing and is an error, as is an unknown option, a missing
// or bad value, or a stray argument. -h/--help and --version end the parse.
ParseResult parse_command_line(const std::vector<std::string>& args);

std::string usage_text();
std::string version_text();

}  // namespace bm6::sim
