// Who a device is and which adapter reaches it, parsed once from what a user writes.
//
// A device address is a Bluetooth LE address (6 bytes and whether the address is public or
// random) or, for the simulator, a Unix socket path written "unix:PATH". An adapter is a
// Bluetooth controller "hciN" (by its kernel index, so "hci00" and "hci0" are one), or the
// simulated devices' pseudo-adapter "unix", which has no radio. Everything else takes these
// types; nothing else parses the text.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bm6 {

// Most significant byte first, the order the address is written in ("50:54:7B:80:2C:3C" =
// {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c}); the kernel's mgmt and HCI interfaces use the
// other order. The same type as protocol/'s BdAddr, which cannot include this header.
using BdAddr = std::array<std::uint8_t, 6>;

// "AA:BB:CC:DD:EE:FF" or "AA-BB-CC-DD-EE-FF" (one separator throughout), any case.
std::optional<BdAddr> parse_bdaddr(std::string_view text);
// "AA:BB:CC:DD:EE:FF".
std::string to_string(const BdAddr& address);

enum class LeAddressType : std::uint8_t { kPublic, kRandom };

class DeviceAddress {
 public:
  // Empty: no address yet (a default-made options struct); not a valid target.
  DeviceAddress() = default;
  // The address as written; nullopt with `error` saying what is wrong.
  static std::optional<DeviceAddress> parse(std::string_view text, std::string& error);
  static DeviceAddress bluetooth(const BdAddr& address,
                                 LeAddressType type = LeAddressType::kPublic);
  // `path` must be what parse() accepts after "unix:" (tests and tools that made it).
  static DeviceAddress unix_socket(std::string path);
  // Whether `text` is written as a socket ("unix:..."), valid or not: bm6ctl scan's
  // --adapter unix:DIR names a directory of them.
  static bool names_socket(std::string_view text);

  bool empty() const { return kind_ == Kind::kNone; }
  bool is_bluetooth() const { return kind_ == Kind::kBluetooth; }
  bool is_unix() const { return kind_ == Kind::kUnix; }
  const BdAddr& bdaddr() const { return bdaddr_; }  // Bluetooth only
  LeAddressType type() const { return type_; }      // Bluetooth only
  bool random() const { return type_ == LeAddressType::kRandom; }
  const std::string& path() const { return path_; }  // Unix only
  // The same address with another LE address type (config's AddressType).
  DeviceAddress with_type(LeAddressType type) const;

  // The one text form: "AA:BB:CC:DD:EE:FF" (upper case, colons; the type is not written)
  // or "unix:PATH" with the path as written. parse(text()) gives the address back.
  std::string text() const;
  // What makes two addresses one device: the Bluetooth address (either type), or the
  // socket path normalised ("/d/./a.sock", "/d//a.sock" and "/d/x/../a.sock" are
  // "/d/a.sock") with its directory resolved through symlinks when it exists.
  std::string identity() const;

  bool operator==(const DeviceAddress&) const = default;

 private:
  enum class Kind : std::uint8_t { kNone, kBluetooth, kUnix };
  Kind kind_ = Kind::kNone;
  BdAddr bdaddr_{};
  LeAddressType type_ = LeAddressType::kPublic;
  std::string path_;
};

class AdapterId {
 public:
  // "hciN" with N a kernel index from 0 to 65534, leading zeros allowed ("hci00" is hci0);
  // with `simulated_too`, also "unix".
  static std::optional<AdapterId> parse(std::string_view text, bool simulated_too = false);
  static AdapterId hci(std::uint16_t index) { return AdapterId(false, index); }
  // The pseudo-adapter every unix: device counts against: no radio, no controller.
  static AdapterId simulated() { return AdapterId(true, 0); }
  // The adapter a device with `address` and configured `adapter` uses: the simulated one
  // for a socket, else `adapter`, else the first Bluetooth adapter that is up (hci0 when
  // none is up yet: the usual only one).
  static AdapterId of(const DeviceAddress& address, const std::optional<AdapterId>& adapter);

  bool is_simulated() const { return simulated_; }
  std::uint16_t index() const { return index_; }  // Bluetooth only
  std::string text() const;                       // "hci0" or "unix"

  auto operator<=>(const AdapterId&) const = default;

 private:
  AdapterId(bool simulated, std::uint16_t index) : simulated_(simulated), index_(index) {}
  bool simulated_;
  std::uint16_t index_;
};

}  // namespace bm6
