#include "transport/mgmt_scan.h"
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
constexpr std::uint16_t kOpStartDiscovery = 0x0023;
constexpr std::uint16_t kOpStopDiscovery = 0x0024;
constexpr std::uint16_t kEvCommandComplete = 0x0001;
constexpr std::uint16_t kEvCommandStatus = 0x0002;
constexpr std::uint16_t kEvDeviceFound = 0x0012;
constexpr std::uint8_t kLeAddressTypes = 0x06;  // LE public | LE random

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }

const char* mgmt_status(std::uint8_t status) {
  switch (status) {
    case 0x0a:
      return "busy (another discovery is running)";
    case 0x0c:
      return "not supported";
    case 0x0d:
      return "invalid parameters";
    case 0x0f:
      return "adapter is powered off";
    case 0x11:
      return "invalid index (no such adapter)";
    case 0x14:
      return "permission denied";
    default:
      return "failed";
  }
}

// Start Discovery refused with mgmt `status`.
LinkError refused(int adapter_id, std::uint8_t status) {
  const auto kind = status == 0x14   ? LinkErrorKind::kPermission
                    : status == 0x0a ? LinkErrorKind::kBusy
                                     : LinkErrorKind::kAdapter;
  return link_error(kind, std::string("discovery on hci") + std::to_string(adapter_id) + " " +
                              mgmt_status(status));
}

bool send_command(int fd, std::uint16_t op, std::uint16_t index, std::uint8_t param) {
  const std::uint8_t pkt[7] = {static_cast<std::uint8_t>(op & 0xff),
                               static_cast<std::uint8_t>(op >> 8),
                               static_cast<std::uint8_t>(index & 0xff),
                               static_cast<std::uint8_t>(index >> 8),
                               1,
                               0,
                               param};
  return ::write(fd, pkt, sizeof pkt) == static_cast<ssize_t>(sizeof pkt);
}
}  // namespace

Advertisement parse_eir(std::span<const std::uint8_t> eir) {
  Advertisement a;
  std::size_t i = 0;
  while (i < eir.size()) {
    const std::size_t len = eir[i];
    if (len == 0) break;  // padding
    if (i + 1 + len > eir.size()) break;
    const std::uint8_t type = eir[i + 1];
    const auto data = eir.subspan(i + 2, len - 1);
    switch (type) {
      case 0x08:  // shortened local name
      case 0x09:  // complete local name
        if (type == 0x09 || a.name.empty()) a.name.assign(data.begin(), data.end());
        break;
      case 0x02:  // incomplete list of 16-bit UUIDs
      case 0x03:  // complete list
        for (std::size_t j = 0; j + 1 < data.size(); j += 2) {
          const std::uint16_t u = le16(&data[j]);
          if (std::find(a.uuids16.begin(), a.uuids16.end(), u) == a.uuids16.end())
            a.uuids16.push_back(u);
        }
        break;
      case 0xff:  // manufacturer specific data
        if (data.size() >= 2) a.manufacturer_data.emplace_back(data.begin(), data.end());
        break;
      default:
        break;
    }
    i += 1 + len;
  }
  return a;
}

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
  if (!send_command(fd.get(), kOpStartDiscovery, index, kLeAddressTypes)) {
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
    if (n < 6) continue;
    const std::uint16_t event = le16(buf), ev_index = le16(buf + 2), len = le16(buf + 4);
    if (static_cast<std::size_t>(n) < 6u + len || ev_index != index) continue;
    const std::uint8_t* params = buf + 6;
    if ((event == kEvCommandComplete || event == kEvCommandStatus) && len >= 3 &&
        le16(params) == kOpStartDiscovery) {
      if (params[2] != 0) {
        error = refused(adapter_id, params[2]);
        return false;
      }
      started = true;
    } else if (event == kEvDeviceFound && len >= 14) {
      const std::uint16_t eir_len = le16(params + 12);
      if (14u + eir_len > len) continue;
      char address[18];
      std::snprintf(address, sizeof address, "%02X:%02X:%02X:%02X:%02X:%02X", params[5], params[4],
                    params[3], params[2], params[1], params[0]);
      auto& d = found[address];
      const bool first = d.address.empty();
      d.address = address;
      d.random = params[6] == 2;
      const int rssi = static_cast<std::int8_t>(params[7]);
      d.rssi = first ? rssi : std::max(d.rssi, rssi);
      const auto advert = parse_eir({params + 14, eir_len});
      if (!advert.name.empty()) d.advert.name = advert.name;
      merge_manufacturer_data(d, advert.manufacturer_data);
      for (auto u : advert.uuids16)
        if (std::find(d.advert.uuids16.begin(), d.advert.uuids16.end(), u) ==
            d.advert.uuids16.end())
          d.advert.uuids16.push_back(u);
    }
  }
  if (started) send_command(fd.get(), kOpStopDiscovery, index, kLeAddressTypes);
  if (!started && !error) {
    error = link_error(LinkErrorKind::kAdapter, "the adapter did not start discovery");
    return false;
  }
  return true;
}

}  // namespace bm6::scan
