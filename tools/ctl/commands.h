// bm6ctl's commands, run from a parsed Command; each returns the exit status.
#pragma once

#include <memory>
#include <string>

#include "device/link_errors.h"
#include "tools/ctl/cli.h"
#include "transport/adapter.h"
#include "transport/connector.h"
#include "transport/event_loop.h"

namespace bm6::ctl {

int run_scan(const Command& cmd);
int run_read(const Command& cmd);
int run_decode(const Command& cmd);
int run_history(const Command& cmd);

// The connector to cmd.address within --timeout; null, said, when the address cannot be used.
std::unique_ptr<Connector> connector_for(const Command& cmd, EventLoop& loop, Adapters& adapters);

// "bm6ctl: MESSAGE" on stderr, the message made safe for the terminal.
void print_error(const std::string& message);
// The exit status of a command that failed for a reason of `kind`: kExitNotPermitted for a
// matter of permission, else kExitFailed.
int failed_exit(FailureKind kind);

}  // namespace bm6::ctl
