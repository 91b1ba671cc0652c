// bm6ctl: find BM6 monitors, read one, decode what one sent, from the command line. The command
// line is parsed first (tools/ctl/cli.h), then the command runs (tools/ctl/commands.h).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "tools/ctl/capture.h"
#include "tools/ctl/cli.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/ha_discovery.h"

int main(int argc, char** argv) {
  using namespace bm6::ctl;
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  const Parsed parsed = parse(args);
  if (const auto* bad = std::get_if<UsageError>(&parsed)) {
    print_error(bad->message);
    std::fputs(usage_hint(bad->verb).c_str(), stderr);
    return kExitUsage;
  }
  const auto& cmd = std::get<Command>(parsed);
  switch (cmd.action) {
    case Command::Action::kHelp:
      std::fputs(help_text(cmd.verb).c_str(), stdout);
      return std::fflush(stdout) == 0 ? kExitOk : kExitFailed;
    case Command::Action::kVersion:
      std::fputs(version_text().c_str(), stdout);
      return std::fflush(stdout) == 0 ? kExitOk : kExitFailed;
    case Command::Action::kRun:
      break;
  }
  try {
    const int status = *cmd.verb == Verb::kScan          ? run_scan(cmd)
                       : *cmd.verb == Verb::kRead        ? run_read(cmd)
                       : *cmd.verb == Verb::kCapture     ? run_capture(cmd)
                       : *cmd.verb == Verb::kHaDiscovery ? run_ha_discovery(cmd)
                       : *cmd.verb == Verb::kDecode
                           ? (cmd.file.empty() ? run_decode(cmd) : run_decode_file(cmd))
                           : run_history(cmd);
    if (std::fflush(stdout) != 0) {
      print_error("writing the output failed");
      return kExitFailed;
    }
    return status;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailed;
  }
}
