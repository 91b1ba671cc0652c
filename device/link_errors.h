// What the reasons a link to a monitor failed or ended mean for the user: the transport says
// what happened on the socket ("send failed: Broken pipe"); these say why, where the pattern
// is known. For bm6ctl and the plugin alike.
#pragma once

#include <cstdint>
#include <string>

namespace bm6 {

// The user's sentence for a link that closed with `reason` (the AttBearer's close reason)
// after `pdus_received` PDUs had come from the monitor (AttBearer::Stats::pdus_in).
//
// A monitor with a central already connected (the phone app, another collectd) turns a
// second one away: it accepts the link and closes it at once (bm6-sim does exactly this), so
// the first request fails with EPIPE or ECONNRESET, or the peer hangs up. A link the peer
// closes before it has answered anything is reported as busy, with the socket's reason
// after it; every other reason comes back unchanged.
std::string explain_link_closed(const std::string& reason, std::uint64_t pdus_received);

// True when `reason` closed a link before the monitor answered anything: the "busy"
// signature explain_link_closed() maps.
bool closed_at_once(const std::string& reason, std::uint64_t pdus_received);

// True when a connect error (a Connector's message) is a matter of permission (EACCES,
// EPERM, missing capabilities) rather than of the device: the tools exit 3 for it.
bool is_permission_error(const std::string& error);

// The kind of reason a device is down: what tells a user something new when it changes
// (away, then busy: the phone app took it). Messages carry paths, numbers and errno text
// that may change from one attempt to the next; the kind does not.
enum class FailureKind {
  kOther,        // none of the below
  kUnreachable,  // not there: out of range, powered off, no simulator, no route
  kBusy,         // another central or program holds it
  kPermission,   // not permitted to open the socket
  kAdapter,      // the local side: adapter down, missing, no Bluetooth support
  kClosed,       // the link closed during set-up after the monitor had answered
  kTimeout,      // connected, but a request went unanswered
  kProtocol,     // it broke the protocol, or is not the BM6 it should be
  kSilent,       // connected, but no readings came
  kLinkLost,     // an established link went down (whatever the socket said)
};

// The kind of a failure: `link_lost` for a link that was streaming, `detail` the sentence
// the device reported (a connector's message or explain_link_closed()'s).
FailureKind failure_kind(bool link_lost, const std::string& detail);

}  // namespace bm6
