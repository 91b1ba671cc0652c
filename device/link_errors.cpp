#include "device/link_errors.h"

#include <cerrno>

namespace bm6 {

FailureKind failure_kind(const LinkError& error) {
  switch (error.kind) {
    case LinkErrorKind::kNone:
      return FailureKind::kNone;
    case LinkErrorKind::kRefused:
    case LinkErrorKind::kUnreachable:
      return FailureKind::kUnreachable;
    case LinkErrorKind::kBusy:
      return FailureKind::kBusy;
    case LinkErrorKind::kPermission:
      return FailureKind::kPermission;
    case LinkErrorKind::kAdapter:
      return FailureKind::kAdapter;
    case LinkErrorKind::kTimedOut:
      return FailureKind::kTimeout;
    case LinkErrorKind::kClosedByPeer:
    case LinkErrorKind::kLinkLost:
      return FailureKind::kClosed;
    case LinkErrorKind::kProtocol:
      return FailureKind::kProtocol;
    case LinkErrorKind::kWrongAddress:
    case LinkErrorKind::kResource:
    case LinkErrorKind::kAttError:  // a set-up step refused: the link itself works
    case LinkErrorKind::kClosedByUs:
    case LinkErrorKind::kOther:
      break;
  }
  return FailureKind::kOther;
}

DeviceFailure connect_failed(const LinkError& error) {
  return {failure_kind(error), error, error.detail};
}

bool closed_at_once(const LinkError& why, std::uint64_t pdus_received) {
  if (pdus_received != 0) return false;
  // The peer hung up (recv 0 or EPOLLHUP), reset the link, or was gone when we sent.
  if (why.kind == LinkErrorKind::kClosedByPeer) return true;
  if (why.kind != LinkErrorKind::kLinkLost) return false;
  return why.os_errno == ECONNRESET || why.os_errno == EPIPE || why.os_errno == ECONNABORTED;
}

DeviceFailure link_closed(const LinkError& why, std::uint64_t pdus_received) {
  if (!closed_at_once(why, pdus_received)) return connect_failed(why);
  return {FailureKind::kBusy, why,
          "the monitor closed the link at once: it is busy (another central, e.g. the phone "
          "app, holds it) [" +
              why.detail + "]"};
}

const char* to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "none";
    case FailureKind::kOther:
      return "other";
    case FailureKind::kUnreachable:
      return "unreachable";
    case FailureKind::kBusy:
      return "busy";
    case FailureKind::kPermission:
      return "permission";
    case FailureKind::kAdapter:
      return "adapter";
    case FailureKind::kClosed:
      return "closed";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kProtocol:
      return "protocol";
    case FailureKind::kSilent:
      return "silent";
    case FailureKind::kLinkLost:
      return "link lost";
  }
  return "?";
}

}  // namespace bm6
