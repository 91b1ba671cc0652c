// A socket on the kernel's Bluetooth management channel, which discovery (mgmt_scan),
// advertising (mgmt_advertiser) and the advertisement listener (adv_scanner) all use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "transport/link_error.h"
#include "transport/unique_fd.h"

namespace bm6::mgmt {

inline constexpr std::uint16_t kIndexNone = 0xffff;  // HCI_DEV_NONE: no one adapter
inline constexpr std::uint16_t kChannelControl = 3;  // HCI_CHANNEL_CONTROL

// Bound to HCI_CHANNEL_CONTROL, HCI_DEV_NONE. Invalid with `error` set when it cannot be
// opened: no Bluetooth in the kernel, or `not_permitted` (what the caller's user should do)
// when CAP_NET_ADMIN is missing.
UniqueFd open_control_socket(
    LinkError& error,
    std::string_view not_permitted = "the management interface needs CAP_NET_ADMIN",
    bool nonblocking = true);

}  // namespace bm6::mgmt
