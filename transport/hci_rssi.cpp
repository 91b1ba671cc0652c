#include "transport/hci_rssi.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <sys/socket.h>

#include <cerrno>

namespace bm6 {

namespace {
constexpr std::uint16_t kReadRssi = (OGF_STATUS_PARAM << 10) | OCF_READ_RSSI;
constexpr auto kStale = std::chrono::seconds(5);  // a request the controller dropped
}  // namespace

HciRssi::~HciRssi() {
  if (fd_) loop_.unwatch(fd_.get());
}

bool HciRssi::open() {
  if (fd_) return true;
  UniqueFd fd(::socket(AF_BLUETOOTH, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, BTPROTO_HCI));
  if (!fd) return false;
  sockaddr_hci addr{};
  addr.hci_family = AF_BLUETOOTH;
  addr.hci_dev = static_cast<unsigned short>(adapter_id_);
  addr.hci_channel = HCI_CHANNEL_RAW;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  // Only the events that can answer a command.
  hci_filter filter{};
  hci_filter_set_ptype(HCI_EVENT_PKT, &filter);
  hci_filter_set_event(EVT_CMD_COMPLETE, &filter);
  if (::setsockopt(fd.get(), SOL_HCI, HCI_FILTER, &filter, sizeof filter) != 0) return false;
  if (!loop_.watch(fd.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); })) return false;
  fd_ = std::move(fd);
  return true;
}

bool HciRssi::read(std::uint16_t handle, Done done) {
  const auto now = std::chrono::steady_clock::now();
  auto it = pending_.find(handle);
  if (it != pending_.end() && now - it->second.since < kStale) return true;  // one at a time
  if (!open()) return false;
  const std::uint8_t cmd[] = {HCI_COMMAND_PKT,
                              static_cast<std::uint8_t>(kReadRssi & 0xff),
                              static_cast<std::uint8_t>(kReadRssi >> 8),
                              2,
                              static_cast<std::uint8_t>(handle & 0xff),
                              static_cast<std::uint8_t>(handle >> 8)};
  loop_.note_syscalls();
  if (::send(fd_.get(), cmd, sizeof cmd, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof cmd) return false;
  pending_[handle] = Pending{std::move(done), now};
  return true;
}

bool HciRssi::parse_read_rssi_complete(const std::uint8_t* p, std::size_t len,
                                       std::uint16_t& handle, int& dbm) {
  // 04 0e plen ncmd opcode(2) status handle(2) rssi
  if (len < 10 || p[0] != HCI_EVENT_PKT || p[1] != EVT_CMD_COMPLETE || p[2] + 3u != len || p[2] < 7)
    return false;
  const std::uint16_t opcode = static_cast<std::uint16_t>(p[4] | p[5] << 8);
  if (opcode != kReadRssi || p[6] != 0) return false;
  handle = static_cast<std::uint16_t>((p[7] | p[8] << 8) & 0x0fff);
  dbm = static_cast<std::int8_t>(p[9]);
  return true;
}

void HciRssi::on_readable() {
  std::uint8_t buf[HCI_MAX_EVENT_SIZE + 1];
  for (int i = 0; i < 16; ++i) {
    loop_.note_syscalls();
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // The adapter went away: forget everything; the next read() reopens.
      loop_.unwatch(fd_.get());
      fd_.reset();
      pending_.clear();
      return;
    }
    std::uint16_t handle = 0;
    int dbm = 0;
    if (!parse_read_rssi_complete(buf, static_cast<std::size_t>(n), handle, dbm)) continue;
    auto it = pending_.find(handle);
    if (it == pending_.end()) continue;  // another program's request
    auto done = std::move(it->second.done);
    pending_.erase(it);
    done(dbm);
  }
}

}  // namespace bm6
