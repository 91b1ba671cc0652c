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

}  // namespace bm6
