#include "transport/mgmt_scan.h"
#include "transport/mgmt_codec.h"
#include "transport/mgmt_socket.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "transport/unique_fd.h"

namespace bm6::scan {

namespace {

// What a status means for Start Discovery in particular.
std::string discovery_status(std::uint8_t status) {
  return mgmt::status_text(status) +
         (status == mgmt::kStatusBusy ? " (another discovery is running)" : "");
}

// Start Discovery refused with mgmt `status`.
LinkError refused(int adapter_id, std::uint8_t status) {
  const auto kind = status == mgmt::kStatusPermissionDenied ? LinkErrorKind::kPermission
                    : status == mgmt::kStatusBusy           ? LinkErrorKind::kBusy
                                                            : LinkErrorKind::kAdapter;
  return link_error(kind, std::string("discovery on hci") + std::to_string(adapter_id) + " " +
                              discovery_status(status));
}

bool send_command(int fd, std::uint16_t op, std::uint16_t index, std::uint8_t param) {
  const auto packet = mgmt::encode_command(op, index, {&param, 1});
  return ::write(fd, packet.data(), packet.size()) == static_cast<ssize_t>(packet.size());
}

// Merges one Device Found report into what was heard of its device.
void merge_report(std::map<std::string, FoundDevice>& found, const mgmt::DeviceFound& report) {
  char address[18];
  const auto& a = report.address;
  std::snprintf(address, sizeof address, "%02X:%02X:%02X:%02X:%02X:%02X", a[0], a[1], a[2], a[3],
                a[4], a[5]);
  auto& d = found[address];
  const bool first = d.address.empty();
  d.address = address;
  d.random = report.random();
  const int rssi = report.rssi;
  d.rssi = first ? rssi : std::max(d.rssi, rssi);
  const auto advert = ad::parse(report.data);
  if (!advert.name.empty()) d.advert.name = advert.name;
  merge_manufacturer_data(d, advert.manufacturer_data);
  for (auto u : advert.uuids16)
    if (std::find(d.advert.uuids16.begin(), d.advert.uuids16.end(), u) == d.advert.uuids16.end())
      d.advert.uuids16.push_back(u);
}
}  // namespace

void merge_manufacturer_data(FoundDevice& d, const std::vector<Bytes>& fields) {
  auto& kept = d.advert.manufacturer_data;
  for (const auto& f : fields) {
    if (const auto at = std::find(kept.begin(), kept.end(), f); at != kept.end()) kept.erase(at);
    kept.push_back(f);
  }
  if (kept.size() > FoundDevice::kMaxManufacturerData)
    kept.erase(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(
                                                kept.size() - FoundDevice::kMaxManufacturerData));
}

bool discover(int adapter_id, std::chrono::milliseconds duration,
              std::map<std::string, FoundDevice>& found, LinkError& error) {
  // Blocking: discovery is one synchronous loop with its own poll() deadline.
  UniqueFd fd = mgmt::open_control_socket(error,
                                          "scanning needs CAP_NET_ADMIN: run as root, or once: "
                                          "sudo setcap cap_net_admin,cap_net_raw+ep "
                                          "$(command -v bm6ctl)",
                                          /*nonblocking=*/false);
  if (!fd) return false;
  const auto index = static_cast<std::uint16_t>(adapter_id);
  if (!send_command(fd.get(), mgmt::kOpStartDiscovery, index, mgmt::kDiscoverLe)) {
    const int err = errno;
    error = link_error(LinkErrorKind::kOther,
                       std::string("starting discovery: ") + std::strerror(err), err);
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + duration;
  bool started = false;
  std::uint8_t buf[1024];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) continue;
    const auto event = mgmt::decode_event({buf, static_cast<std::size_t>(n)});
    if (!event || event->index != index) continue;
    if (const auto reply = mgmt::decode_command_reply(*event)) {
      if (reply->opcode != mgmt::kOpStartDiscovery) continue;
      if (reply->status != mgmt::kStatusSuccess) {
        error = refused(adapter_id, reply->status);
        return false;
      }
      started = true;
    } else if (event->code == mgmt::kEvDeviceFound) {
      if (const auto report = mgmt::decode_device_found(event->params))
        merge_report(found, *report);
    }
  }
  if (started) send_command(fd.get(), mgmt::kOpStopDiscovery, index, mgmt::kDiscoverLe);
  if (!started && !error) {
    error = link_error(LinkErrorKind::kAdapter, "the adapter did not start discovery");
    return false;
  }
  return true;
}

}  // namespace bm6::scan
