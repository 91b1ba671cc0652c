#include "device/link_errors.h"

#include <initializer_list>

namespace bm6 {

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

bool closed_at_once(const std::string& reason, std::uint64_t pdus_received) {
  if (pdus_received != 0) return false;
  // The peer hung up (recv 0 or EPOLLHUP), reset the link, or was gone when we sent.
  if (reason == "link closed by peer") return true;
  if (!starts_with(reason, "link lost: ") && !starts_with(reason, "send failed: ")) return false;
  for (const char* cause : {"Connection reset by peer", "Broken pipe", "Connection aborted"})
    if (contains(reason, cause)) return true;
  return false;
}

std::string explain_link_closed(const std::string& reason, std::uint64_t pdus_received) {
  if (!closed_at_once(reason, pdus_received)) return reason;
  return "the monitor closed the link at once: it is busy (another central, e.g. the phone "
         "app, holds it) [" +
         reason + "]";
}

bool is_permission_error(const std::string& error) {
  for (const char* marker : {"not permitted", "Permission denied", "Operation not permitted",
                             "CAP_NET_ADMIN", "CAP_NET_RAW"})
    if (contains(error, marker)) return true;
  return false;
}

FailureKind failure_kind(bool link_lost, const std::string& detail) {
  if (link_lost) return FailureKind::kLinkLost;
  auto any = [&](std::initializer_list<const char*> parts) {
    for (const char* part : parts)
      if (contains(detail, part)) return true;
    return false;
  };
  // The order matters: a busy monitor's sentence ends with the socket's reason, and "did
  // not answer" says why a connect timed out.
  if (is_permission_error(detail)) return FailureKind::kPermission;
  if (any({" is busy", "it is busy"})) return FailureKind::kBusy;
  if (starts_with(detail, "adapter ") || any({"Bluetooth adapter", "no Bluetooth support"}))
    return FailureKind::kAdapter;
  if (starts_with(detail, "ATT transaction timed out")) return FailureKind::kTimeout;
  if (starts_with(detail, "no reading for")) return FailureKind::kSilent;
  if (any({"protocol violation", "floods the link", "BM6 service", "characteristic (FFF",
           "enabling notifications", "writing the live-data command"}))
    return FailureKind::kProtocol;
  if (any({"did not answer", "no connection to", "no simulator socket", "nobody listens",
           "no route to", "not accepting", "timed out", "lost while connecting"}))
    return FailureKind::kUnreachable;
  if (detail == "link closed by peer" || any({"link lost: ", "send failed: ", "short send"}))
    return FailureKind::kClosed;
  return FailureKind::kOther;
}

}  // namespace bm6
