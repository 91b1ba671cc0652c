// Test helper: the kernel's side of a mgmt socket, over a SOCK_SEQPACKET pair. It reads what
// the code under test sends (commands) and writes events as the kernel frames them.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "transport/adv_scanner.h"
#include "transport/unique_fd.h"

namespace bm6::test {

using Bytes = std::vector<std::uint8_t>;

namespace mgmt {
inline constexpr std::uint16_t kReadInfo = 0x0004, kAddDevice = 0x0033, kRemoveDevice = 0x0034,
                               kReadMonitorFeatures = 0x0051, kAddPatternsMonitor = 0x0052,
                               kRemoveMonitor = 0x0053;
inline constexpr std::uint16_t kEvComplete = 0x0001, kEvStatus = 0x0002, kEvIndexAdded = 0x0004,
                               kEvIndexRemoved = 0x0005, kEvNewSettings = 0x0006,
                               kEvDisconnected = 0x000c, kEvDeviceFound = 0x0012,
                               kEvDeviceRemoved = 0x001b, kEvMonitorRemoved = 0x0029,
                               kEvMonitorDeviceFound = 0x002f;
}  // namespace mgmt

struct Command {
  std::uint16_t opcode;
  std::uint16_t index;
  Bytes params;
};

class FakeMgmt {
 public:
  FakeMgmt() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error("socketpair failed");
    ours_ = UniqueFd(fds[0]);
    kernel_ = UniqueFd(fds[1]);
  }
  // For AdvScanner's OpenSocket: hands over the scanner's end once.
  AdvScanner::OpenSocket opener() {
    return [this](LinkError& error) {
      if (!ours_) error = link_error(LinkErrorKind::kOther, "fake: opened twice");
      return std::move(ours_);
    };
  }
  // Everything sent since the last call.
  std::vector<Command> commands() {
    std::vector<Command> out;
    std::uint8_t buf[1024];
    for (;;) {
      const ssize_t n = ::recv(kernel_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 6) break;
      out.push_back({static_cast<std::uint16_t>(buf[0] | buf[1] << 8),
                     static_cast<std::uint16_t>(buf[2] | buf[3] << 8), Bytes(buf + 6, buf + n)});
    }
    return out;
  }
  void raw(const Bytes& packet) {
    ::send(kernel_.get(), packet.data(), packet.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  void event(std::uint16_t code, std::uint16_t index, const Bytes& params) {
    Bytes p = {
        static_cast<std::uint8_t>(code),          static_cast<std::uint8_t>(code >> 8),
        static_cast<std::uint8_t>(index),         static_cast<std::uint8_t>(index >> 8),
        static_cast<std::uint8_t>(params.size()), static_cast<std::uint8_t>(params.size() >> 8)};
    p.insert(p.end(), params.begin(), params.end());
    raw(p);
  }
  void complete(std::uint16_t index, std::uint16_t op, std::uint8_t status, const Bytes& reply) {
    Bytes p = {static_cast<std::uint8_t>(op), static_cast<std::uint8_t>(op >> 8), status};
    p.insert(p.end(), reply.begin(), reply.end());
    event(mgmt::kEvComplete, index, p);
  }
  // Read Controller Information's reply with the powered bit as given.
  void info(std::uint16_t index, bool powered) {
    Bytes r(280, 0);
    r[13] = powered ? 0x01 : 0x00;  // current settings, low byte (LE settings elided)
    complete(index, mgmt::kReadInfo, 0, r);
  }
  static Bytes wire(const BdAddr& a) { return Bytes(a.rbegin(), a.rend()); }
  // Device Found's parameters: address, type (1 public), RSSI, flags, AD.
  static Bytes found(const BdAddr& a, std::int8_t rssi, const Bytes& ad, std::uint8_t type = 1) {
    Bytes p(14 + ad.size(), 0);  // flags (bytes 8-11) stay 0
    std::copy(a.rbegin(), a.rend(), p.begin());
    p[6] = type;
    p[7] = static_cast<std::uint8_t>(rssi);
    p[12] = static_cast<std::uint8_t>(ad.size());
    p[13] = static_cast<std::uint8_t>(ad.size() >> 8);
    std::copy(ad.begin(), ad.end(), p.begin() + 14);
    return p;
  }
  void device_found(std::uint16_t index, const BdAddr& a, std::int8_t rssi, const Bytes& ad) {
    event(mgmt::kEvDeviceFound, index, found(a, rssi, ad));
  }

 private:
  UniqueFd ours_;
  UniqueFd kernel_;
};

}  // namespace bm6::test
