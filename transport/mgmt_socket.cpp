#include "transport/mgmt_socket.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace bm6::mgmt {

UniqueFd open_control_socket(std::string& error, std::string_view not_permitted, bool nonblocking) {
  UniqueFd fd(::socket(PF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0),
                       BTPROTO_HCI));
  if (!fd) {
    error = errno == EAFNOSUPPORT ? "this kernel has no Bluetooth support"
                                  : std::string("mgmt socket: ") + std::strerror(errno);
    return fd;
  }
  sockaddr_hci addr{};
  addr.hci_family = AF_BLUETOOTH;
  addr.hci_dev = kIndexNone;
  addr.hci_channel = kChannelControl;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = (errno == EPERM || errno == EACCES)
                ? std::string(not_permitted)
                : std::string("binding the mgmt channel: ") + std::strerror(errno);
    fd.reset();
  }
  return fd;
}

}  // namespace bm6::mgmt
