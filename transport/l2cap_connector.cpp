#include "transport/l2cap_connector.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <bluetooth/l2cap.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bm6 {

namespace {
constexpr unsigned short kAttCid = 4;
}

namespace {

// The kind a failed Bluetooth connect, socket() or bind() with `err` is.
LinkErrorKind bluetooth_errno_kind(int err) {
  switch (err) {
    case ETIMEDOUT:
    case EHOSTDOWN:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
      return LinkErrorKind::kUnreachable;
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ECONNREFUSED:  // the adapter's: LE disabled, or the wrong address type
    case ENETDOWN:
    case EADDRNOTAVAIL:
    case ENODEV:
      return LinkErrorKind::kAdapter;
    case EBUSY:
      return LinkErrorKind::kBusy;
    case EACCES:
    case EPERM:
      return LinkErrorKind::kPermission;
    case EMFILE:
    case ENFILE:
      return LinkErrorKind::kResource;
    default:
      return LinkErrorKind::kOther;
  }
}

std::string bluetooth_errno_text(int err, const std::string& adapter, const std::string& address) {
  const std::string dev = "device " + address;
  switch (err) {
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
      return "this kernel has no Bluetooth support (AF_BLUETOOTH/L2CAP unavailable): load the "
             "bluetooth module or use a kernel built with it";
    case ETIMEDOUT:
    case EHOSTDOWN:
      return dev +
             " did not answer: out of range, powered off, or connected to a phone (many "
             "peripherals take one central at a time)";
    case ECONNREFUSED:
      return "adapter " + adapter + " refused the LE connection to " + address +
             ": LE is disabled on the adapter (btmgmt --index " + adapter +
             " le on) or the address type is wrong (try AddressType \"random\")";
    case EBUSY:
      return dev +
             " is busy: another program (bluetoothd?) holds its link; disconnect it "
             "there first (bluetoothctl disconnect " +
             address + ")";
    case ENETDOWN:
      return "adapter " + adapter + " is down (btmgmt --index " + adapter + " power on)";
    case ENETUNREACH:
    case EHOSTUNREACH:
      return "no route to " + address + " through adapter " + adapter + " (is it up?)";
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
      return "link to " + address + " lost while connecting (weak signal?)";
    case EACCES:
    case EPERM:
      return "not permitted to open Bluetooth sockets: run collectd as root or give it "
             "CAP_NET_RAW and CAP_NET_ADMIN";
    case EADDRNOTAVAIL:
    case ENODEV:
      return "adapter " + adapter + " is not there any more";
    case EMFILE:
    case ENFILE:
      return "out of file descriptors";
    default:
      return "connecting to " + address + " through " + adapter + ": " + std::strerror(err);
  }
}

}  // namespace

LinkError describe_bluetooth_errno(int err, const std::string& adapter,
                                   const std::string& address) {
  return link_error(bluetooth_errno_kind(err), bluetooth_errno_text(err, adapter, address), err);
}

int resolve_adapter(const std::optional<AdapterId>& adapter, LinkError& error) {
  errno = 0;
  bdaddr_t local{};
  const int id = !adapter                                     ? ::hci_get_route(nullptr)
                 : ::hci_devba(adapter->index(), &local) == 0 ? adapter->index()
                                                              : -1;
  if (id >= 0) return id;
  const std::string name = adapter ? adapter->text() : "";
  if (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT) {
    error = describe_bluetooth_errno(errno, name.empty() ? "hci0" : name, "");
  } else if (name.empty()) {
    error = link_error(LinkErrorKind::kAdapter,
                       "no Bluetooth adapter is up (btmgmt info lists them; btmgmt --index 0 "
                       "power on)");
  } else {
    error = link_error(LinkErrorKind::kAdapter,
                       "there is no Bluetooth adapter " + name + " (btmgmt info lists them)");
  }
  return -1;
}

namespace {

class L2capConnector final : public Connector {
 public:
  L2capConnector(EventLoop& loop, const ConnectorOptions& options, Adapters& adapters)
      : options_(options), adapters_(adapters), connect_(loop) {
    // bdaddr_t is least significant byte first.
    const BdAddr& a = options_.address.bdaddr();
    std::reverse_copy(a.begin(), a.end(), remote_.b);
  }
  ~L2capConnector() override { L2capConnector::cancel(); }

  void connect(Done done) override {
    cancel();
    LinkError error;
    const int id = resolve_adapter(options_.adapter, error);
    if (id < 0) return connect_.fail(error, std::move(done));
    adapter_ = &adapters_.get(id);
    done_ = std::move(done);
    ticket_ = adapter_->acquire_connect([this] { check_then_start(); });
  }

  bool end_link(std::function<void()> gone) override {
    return ours_ && adapter_ && adapters_.links().end(peer(), std::move(gone));
  }

  std::optional<std::string> links_linger_note() override {
    return adapters_.links().take_unavailable_note();
  }

  void cancel() override {
    ++attempt_;  // a Get Connections answer still to come is for nobody
    connect_.cancel();
    if (ticket_ != 0) adapter_->release_connect(ticket_);
    ticket_ = 0;
    done_ = nullptr;
  }

  std::string address() const override { return options_.address.text(); }

  bool read_rssi(int fd, std::function<void(int)> done) override {
    l2cap_conninfo info{};
    socklen_t len = sizeof info;
    if (!adapter_ || ::getsockopt(fd, SOL_L2CAP, L2CAP_CONNINFO, &info, &len) != 0) return false;
    return adapter_->rssi().read(info.hci_handle, std::move(done));
  }

 private:
  MgmtLinks::Peer peer() const {
    MgmtLinks::Peer p;
    p.index = static_cast<std::uint16_t>(adapter_->id());
    const BdAddr& a = options_.address.bdaddr();
    std::copy(a.begin(), a.end(), p.address.address.begin());
    p.address.type = options_.address.random() ? mgmt::kAddrLeRandom : mgmt::kAddrLePublic;
    return p;
  }

  // Whether the link this connect makes will be ours to end: not if the adapter has one to
  // the peer already (mgmt_links.h). Without the management interface: never ours.
  void check_then_start() {
    ours_ = false;
    if (!adapters_.links().available()) return start();
    adapters_.links().before_connect(peer(),
                                     [this, self = self_.ref(), attempt = attempt_](bool ours) {
                                       if (!self.alive() || attempt != attempt_)
                                         return;  // gone or cancelled since
                                       ours_ = ours;
                                       start();
                                     });
  }

  void start() {
    const int adapter_id = adapter_->id();
    const std::string adapter = "hci" + std::to_string(adapter_id);
    const std::string address = options_.address.text();
    auto finish = [this](UniqueFd fd, const LinkError& error) {
      adapter_->release_connect(ticket_);
      ticket_ = 0;
      auto done = std::move(done_);
      done(std::move(fd), error);
    };
    bdaddr_t local{};
    if (::hci_devba(adapter_id, &local) != 0)
      return connect_.fail(
          describe_bluetooth_errno(errno == 0 ? ENETDOWN : errno, adapter, address), finish);
    UniqueFd fd(
        ::socket(AF_BLUETOOTH, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, BTPROTO_L2CAP));
    if (!fd) return connect_.fail(describe_bluetooth_errno(errno, adapter, address), finish);

    sockaddr_l2 ours{};
    ours.l2_family = AF_BLUETOOTH;
    ours.l2_cid = htobs(kAttCid);
    ours.l2_bdaddr_type = BDADDR_LE_PUBLIC;
    bacpy(&ours.l2_bdaddr, &local);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ours), sizeof ours) != 0)
      return connect_.fail(describe_bluetooth_errno(errno, adapter, address), finish);

    // No pairing or link-layer encryption: the peripherals this serves encrypt their own data.
    bt_security security{};
    security.level = BT_SECURITY_LOW;
    if (::setsockopt(fd.get(), SOL_BLUETOOTH, BT_SECURITY, &security, sizeof security) != 0)
      return connect_.fail(describe_bluetooth_errno(errno, adapter, address), finish);

    sockaddr_l2 theirs{};  // connect() copies it
    theirs.l2_family = AF_BLUETOOTH;
    theirs.l2_cid = htobs(kAttCid);
    theirs.l2_bdaddr_type = options_.address.random() ? BDADDR_LE_RANDOM : BDADDR_LE_PUBLIC;
    bacpy(&theirs.l2_bdaddr, &remote_);
    connect_.start(
        std::move(fd), &theirs, sizeof theirs, options_.timeout,
        [adapter, address, timeout = options_.timeout](int err) {
          if (err == ETIMEDOUT)
            return link_error(LinkErrorKind::kUnreachable,
                              "no connection to " + address + " within " +
                                  std::to_string(timeout.count()) +
                                  " ms: out of range, powered off, or connected to a phone "
                                  "(many peripherals take one central at a time)",
                              err);
          return describe_bluetooth_errno(err, adapter, address);
        },
        finish);
  }

  ConnectorOptions options_;
  Adapters& adapters_;
  SocketConnect connect_;
  bdaddr_t remote_{};
  Adapter* adapter_ = nullptr;  // of the current or last attempt
  Adapter::Ticket ticket_ = 0;
  Done done_;
  bool ours_ = false;          // the link the last connect made is ours to end
  std::uint64_t attempt_ = 0;  // bumped by cancel()
  WeakSelf self_;
};

}  // namespace

std::unique_ptr<Connector> make_l2cap_connector(EventLoop& loop, const ConnectorOptions& options,
                                                Adapters& adapters) {
  return std::make_unique<L2capConnector>(loop, options, adapters);
}

}  // namespace bm6
