// Why a connect or a link failed, as a value made where it happened: a kind that code decides
// on, the OS errno or ATT error code where there is one, and a detail for people. It travels
// unchanged through Connector::Done, the bearer's closed handler and the GATT procedures; only
// the detail is ever shown, and nothing is decided by reading it.
#pragma once

#include <cstdint>
#include <string>

namespace bm6 {

enum class LinkErrorKind : std::uint8_t {
  kNone,          // no failure
  kRefused,       // something is at the address but takes no connect (a socket nobody
                  // listens on, ECONNREFUSED)
  kUnreachable,   // nobody answered: no such socket, out of range, no route, the connect
                  // timed out or was lost while connecting
  kBusy,          // another program holds the peer's link (EBUSY)
  kPermission,    // not permitted (EACCES, EPERM, a missing capability)
  kAdapter,       // the local side: adapter down, missing or refusing LE, no Bluetooth support
  kWrongAddress,  // the address names something that is not a peer (a file, a socket of
                  // another type)
  kResource,      // out of file descriptors or memory
  kTimedOut,      // connected, but an ATT transaction went unanswered
  kClosedByPeer,  // the peer hung up (end of file, EPOLLHUP)
  kLinkLost,      // the link's socket failed (ECONNRESET, EPIPE, ...: see os_errno)
  kProtocol,      // the peer broke the protocol (malformed or unexpected PDUs, flooding)
  kAttError,      // the peer answered a request with an Error Response (see att_error)
  kClosedByUs,    // the owner closed the link (its detail says why)
  kOther,         // none of the above (see os_errno)
};

struct LinkError {
  LinkErrorKind kind = LinkErrorKind::kNone;
  int os_errno = 0;            // the errno behind it, 0 if none
  std::uint8_t att_error = 0;  // with kAttError: the ATT error code
  std::string detail{};        // for people; never parsed

  // True for a failure, as std::error_code.
  explicit operator bool() const { return kind != LinkErrorKind::kNone; }
};

inline LinkError link_error(LinkErrorKind kind, std::string detail, int os_errno = 0) {
  return {kind, os_errno, 0, std::move(detail)};
}

// The kind's name for logs and tests ("refused", "timed out", ...).
const char* to_string(LinkErrorKind kind);

}  // namespace bm6
