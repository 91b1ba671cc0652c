#include "transport/mgmt_socket.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace bm6::mgmt {

UniqueFd open_control_socket(LinkError& error, std::string_view not_permitted, bool nonblocking) {
  UniqueFd fd(::socket(PF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0),
                       BTPROTO_HCI));
  if (!fd) {
    const int err = errno;
    error = err == EAFNOSUPPORT
                ? link_error(LinkErrorKind::kAdapter, "this kernel has no Bluetooth support", err)
                : link_error(err == EPERM || err == EACCES ? LinkErrorKind::kPermission
                                                           : LinkErrorKind::kOther,
                             std::string("mgmt socket: ") + std::strerror(err), err);
    return fd;
  }
  sockaddr_hci addr{};
  addr.hci_family = AF_BLUETOOTH;
  addr.hci_dev = kIndexNone;
  addr.hci_channel = kChannelControl;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    error = (err == EPERM || err == EACCES)
                ? link_error(LinkErrorKind::kPermission, std::string(not_permitted), err)
                : link_error(LinkErrorKind::kOther,
                             std::string("binding the mgmt channel: ") + std::strerror(err), err);
    fd.reset();
  }
  return fd;
}

}  // namespace bm6::mgmt
