#include "transport/link_error.h"

namespace bm6 {

const char* to_string(LinkErrorKind kind) {
  switch (kind) {
    case LinkErrorKind::kNone:
      return "none";
    case LinkErrorKind::kRefused:
      return "refused";
    case LinkErrorKind::kUnreachable:
      return "unreachable";
    case LinkErrorKind::kBusy:
      return "busy";
    case LinkErrorKind::kPermission:
      return "permission";
    case LinkErrorKind::kAdapter:
      return "adapter";
    case LinkErrorKind::kWrongAddress:
      return "wrong address";
    case LinkErrorKind::kResource:
      return "resource";
    case LinkErrorKind::kTimedOut:
      return "timed out";
    case LinkErrorKind::kClosedByPeer:
      return "closed by peer";
    case LinkErrorKind::kLinkLost:
      return "link lost";
    case LinkErrorKind::kProtocol:
      return "protocol violation";
    case LinkErrorKind::kAttError:
      return "ATT error";
    case LinkErrorKind::kClosedByUs:
      return "closed by us";
    case LinkErrorKind::kOther:
      break;
  }
  return "other";
}

}  // namespace bm6
