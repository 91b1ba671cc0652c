// bm6ctl's commands, run from a parsed Command; each returns the exit status.
#pragma once

#include <string>

#include "tools/ctl/cli.h"

namespace bm6::ctl {

int run_scan(const Command& cmd);
int run_read(const Command& cmd);
int run_decode(const Command& cmd);
int run_history(const Command& cmd);

// "bm6ctl: MESSAGE" on stderr, the message made safe for the terminal.
void print_error(const std::string& message);

}  // namespace bm6::ctl
