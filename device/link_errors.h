// Why a monitor's link failed, as a value: the transport's failure (transport/link_error.h)
// mapped to what it means for a monitor, or a failure only the monitor family knows (silent,
// busy, not a BM6). Made where the failure is decided; only plugin/ and tools/ turn it into
// sentences, from `detail`, which nobody parses.
#pragma once

#include <cstdint>
#include <string>

#include "transport/link_error.h"

namespace bm6 {

// The kind of reason a device is down: what tells a user something new when it changes
// (away, then busy: the phone app took it). Details carry paths, numbers and errno text
// that may change from one attempt to the next; the kind does not.
enum class FailureKind {
  kNone,         // no failure (an event that is not one)
  kOther,        // none of the below
  kUnreachable,  // not there: out of range, powered off, no simulator, no route
  kBusy,         // another central or program holds it
  kPermission,   // not permitted to open the socket
  kAdapter,      // the local side: adapter down, missing, no Bluetooth support
  kClosed,       // the link closed during set-up after the monitor had answered
  kTimeout,      // connected, but a request went unanswered
  kProtocol,     // it broke the protocol, or is not the BM6 it should be
  kSilent,       // connected (or listened to), but no readings came
  kLinkLost,     // an established link went down (whatever the socket said)
};

struct DeviceFailure {
  FailureKind kind = FailureKind::kOther;
  LinkError cause{};     // the transport's failure underneath; kind kNone when there is none
  std::string detail{};  // for people
};

// What a failed connect or a link's end means for a monitor: its kind from the transport's.
FailureKind failure_kind(const LinkError& error);

// A connect that failed with `error`.
DeviceFailure connect_failed(const LinkError& error);

// A link that closed with `why` after `pdus_received` PDUs had come from the monitor
// (AttBearer::Stats::pdus_in).
//
// A monitor with a central already connected (the phone app, another collectd) turns a
// second one away: it accepts the link and closes it at once (bm6-sim does exactly this), so
// the first request fails with EPIPE or ECONNRESET, or the peer hangs up. A link the peer
// closes before it has answered anything is busy, with the socket's reason in the detail;
// any other end keeps the transport's kind and detail.
DeviceFailure link_closed(const LinkError& why, std::uint64_t pdus_received);

// True when `why` closed a link before the monitor answered anything: the "busy" signature.
bool closed_at_once(const LinkError& why, std::uint64_t pdus_received);

// The kind's name for logs and tests ("busy", "silent", ...).
const char* to_string(FailureKind kind);

}  // namespace bm6
