// Reaches a peripheral through the kernel's Bluetooth stack: an L2CAP LE socket on the ATT fixed
// channel (CID 4), the same SOCK_SEQPACKET the bearer runs on.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "transport/connector.h"

namespace bm6 {

std::unique_ptr<Connector> make_l2cap_connector(EventLoop& loop, const ConnectorOptions& options,
                                                Adapters& adapters);

// A failed Bluetooth connect, socket() or bind() as a value: its kind, `err`, and what a
// user can do about it.
LinkError describe_bluetooth_errno(int err, const std::string& adapter, const std::string& address);

// The adapter to use: `adapter` if it is there, or the first that is up when unset.
// Returns its device id, or -1 with `error` set.
int resolve_adapter(const std::optional<AdapterId>& adapter, LinkError& error);

}  // namespace bm6
