#include "transport/address.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace bm6 {

namespace {

constexpr std::string_view kUnixPrefix = "unix:";
constexpr std::string_view kSimulatedAdapter = "unix";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "/a//b/./c/../d" -> "/a/b/d", by the letters only; a relative path stays relative and
// keeps the ".." it cannot resolve.
std::string lexically_normal(const std::string& path) {
  const bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    const std::size_t end = std::min(path.find('/', i), path.size());
    const std::string part = path.substr(i, end - i);
    i = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);  // above the working directory: keep it
      }                         // "/.." is "/"
      continue;
    }
    parts.push_back(part);
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) out += (k ? "/" : "") + parts[k];
  return out.empty() ? "." : out;
}

// What parse() says about a socket path; "" when it can be used.
std::string unix_path_problem(std::string_view path) {
  if (path.empty()) return "\"unix:\" needs a socket path after it";
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    return "socket path is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
           " bytes";
  if (path.find('\0') != std::string_view::npos) return "socket path contains a NUL byte";
  return "";
}

}  // namespace

std::optional<BdAddr> parse_bdaddr(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  BdAddr a{};
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && text[i * 3 - 1] != separator) return std::nullopt;
    const int hi = hex_value(text[i * 3]);
    const int lo = hex_value(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    a[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return a;
}

std::string to_string(const BdAddr& a) {
  char buf[18] = {};
  std::snprintf(buf, sizeof buf, "%02X:%02X:%02X:%02X:%02X:%02X", a[0], a[1], a[2], a[3], a[4],
                a[5]);
  return buf;
}

bool DeviceAddress::names_socket(std::string_view text) {
  return text.substr(0, kUnixPrefix.size()) == kUnixPrefix;
}

std::optional<DeviceAddress> DeviceAddress::parse(std::string_view text, std::string& error) {
  if (names_socket(text)) {
    const std::string_view path = text.substr(kUnixPrefix.size());
    error = unix_path_problem(path);
    if (!error.empty()) return std::nullopt;
    return unix_socket(std::string(path));
  }
  if (const auto bdaddr = parse_bdaddr(text)) return bluetooth(*bdaddr);
  error = "\"" + std::string(text) +
          "\" is neither a Bluetooth address (AA:BB:CC:DD:EE:FF) nor unix:/path/to/socket";
  return std::nullopt;
}

DeviceAddress DeviceAddress::bluetooth(const BdAddr& address, LeAddressType type) {
  DeviceAddress a;
  a.kind_ = Kind::kBluetooth;
  a.bdaddr_ = address;
  a.type_ = type;
  return a;
}

DeviceAddress DeviceAddress::unix_socket(std::string path) {
  DeviceAddress a;
  a.kind_ = Kind::kUnix;
  a.path_ = std::move(path);
  return a;
}

DeviceAddress DeviceAddress::with_type(LeAddressType type) const {
  DeviceAddress a = *this;
  if (a.is_bluetooth()) a.type_ = type;
  return a;
}

std::string DeviceAddress::text() const {
  switch (kind_) {
    case Kind::kBluetooth:
      return to_string(bdaddr_);
    case Kind::kUnix:
      return std::string(kUnixPrefix) + path_;
    case Kind::kNone:
      break;
  }
  return "";
}

// The socket itself is not resolved, as a simulator or a proxy may not have created it yet
// at config time; a directory that does not exist yet keeps the lexical form, which is the
// same for every spelling of that path that does not go through a symlink. On Debian
// /var/run is a symlink to /run: a socket named through both is still one device.
std::string DeviceAddress::identity() const {
  if (!is_unix()) return text();
  const std::string path = lexically_normal(path_);
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
  const std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  char resolved[PATH_MAX];
  if (file != ".." && ::realpath(dir.c_str(), resolved) != nullptr) {
    const std::string d = resolved;
    return std::string(kUnixPrefix) + d + (d == "/" ? "" : "/") + file;
  }
  return std::string(kUnixPrefix) + path;
}

std::optional<AdapterId> AdapterId::parse(std::string_view text, bool simulated_too) {
  if (simulated_too && text == kSimulatedAdapter) return simulated();
  // Five digits at most: the index is a 16-bit number, 0xffff meaning "no adapter".
  if (text.size() < 4 || text.size() > 8 || text.substr(0, 3) != "hci") return std::nullopt;
  unsigned index = 0;
  for (const char c : text.substr(3)) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<unsigned>(c - '0');
  }
  if (index >= 0xffff) return std::nullopt;
  return hci(static_cast<std::uint16_t>(index));
}

AdapterId AdapterId::of(const DeviceAddress& address, const std::optional<AdapterId>& adapter) {
  if (address.is_unix()) return simulated();
  if (adapter) return *adapter;
  const int id = ::hci_get_route(nullptr);
  return hci(id < 0 ? 0 : static_cast<std::uint16_t>(id));
}

std::string AdapterId::text() const {
  return simulated_ ? std::string(kSimulatedAdapter) : "hci" + std::to_string(index_);
}

}  // namespace bm6
