// A GATT attribute database and the ATT server procedures over it: Read By Group Type (primary
// services), Read By Type, Find Information, Find By Type Value, Read, Write Request and
// Write Command. Generic: it serves whatever database it is given, and what a write means
// beyond storing the value is its owner's business (the write hook).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "transport/att.h"

namespace bm6::sim {

struct GattAttribute {
  std::uint16_t handle;
  att::Uuid type;
  std::vector<std::uint8_t> value;
  bool readable = true;
  bool writable = false;
};

// Lays out services, characteristics and descriptors at consecutive handles.
class DatabaseBuilder {
 public:
  explicit DatabaseBuilder(std::uint16_t first_handle = 1) : next_(first_handle) {}
  void service(const att::Uuid& uuid);
  // Declaration plus value; returns the value handle.
  std::uint16_t characteristic(const att::Uuid& uuid, std::uint8_t props,
                               std::vector<std::uint8_t> value, bool writable = false);
  std::uint16_t descriptor(const att::Uuid& uuid, std::vector<std::uint8_t> value, bool writable);
  std::vector<GattAttribute> take() { return std::move(attrs_); }

 private:
  std::uint16_t add(const att::Uuid& type, std::vector<std::uint8_t> value, bool readable = true,
                    bool writable = false);
  std::uint16_t next_;
  std::vector<GattAttribute> attrs_;
};

class AttributeServer {
 public:
  // Runs for a write (request or command) to a writable attribute of the right handle,
  // before the value is stored. Returns 0 to store it, or the ATT error code to refuse it.
  using WriteHook =
      std::function<std::uint8_t(const GattAttribute& attribute, std::span<const std::uint8_t>)>;

  explicit AttributeServer(std::vector<GattAttribute> attributes)
      : attributes_(std::move(attributes)) {}

  void set_write_hook(WriteHook hook) { on_write_ = std::move(hook); }
  const std::vector<GattAttribute>& attributes() const { return attributes_; }
  const GattAttribute* find(std::uint16_t handle) const;

  // The answer to one request (a response, or an Error Response), at most `mtu` bytes.
  // Exchange MTU is not a database procedure: it is answered Request Not Supported, as is
  // any other request the server does not implement.
  std::vector<std::uint8_t> answer(std::uint8_t opcode, std::span<const std::uint8_t> params,
                                   std::uint16_t mtu);
  // A command: a Write Command is applied (errors go unreported); others are ignored.
  void command(std::uint8_t opcode, std::span<const std::uint8_t> params);

 private:
  std::vector<std::uint8_t> read_by_group_type(std::span<const std::uint8_t> params,
                                               std::uint16_t mtu) const;
  std::vector<std::uint8_t> read_by_type(std::span<const std::uint8_t> params,
                                         std::uint16_t mtu) const;
  std::vector<std::uint8_t> find_information(std::span<const std::uint8_t> params,
                                             std::uint16_t mtu) const;
  std::vector<std::uint8_t> find_by_type_value(std::span<const std::uint8_t> params,
                                               std::uint16_t mtu) const;
  std::vector<std::uint8_t> read(std::span<const std::uint8_t> params, std::uint16_t mtu) const;
  // Returns an ATT error code, or 0.
  std::uint8_t write(std::uint16_t handle, std::span<const std::uint8_t> value);
  std::uint16_t group_end(std::size_t service_index) const;

  std::vector<GattAttribute> attributes_;
  WriteHook on_write_;
};

}  // namespace bm6::sim
