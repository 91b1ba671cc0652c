// GATT client procedures over one AttBearer: MTU exchange, discovery by UUID (paginated,
// handles checked to increase and stay in range), writes. Discovery never assumes handles.
//
// A peer that breaks the protocol (handles going backwards, entries outside the asked
// range, malformed responses) gets its link closed; the bearer's closed handler reports
// that, and the procedure's callback does not run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "transport/att.h"
#include "transport/att_bearer.h"

namespace bm6 {

struct GattService {
  att::HandleRange range;
  att::Uuid uuid;
};

struct GattCharacteristic {
  std::uint16_t decl_handle = 0;
  std::uint16_t value_handle = 0;
  std::uint16_t end_handle = 0;  // last handle that may hold one of its descriptors
  std::uint8_t properties = 0;
  att::Uuid uuid;
};

struct GattDescriptor {
  std::uint16_t handle = 0;
  att::Uuid uuid;
};

class GattClient {
 public:
  // An empty error means success.
  using Done = std::function<void(const std::string& error)>;
  template <typename T>
  using Found = std::function<void(const std::string& error, std::vector<T> found)>;

  explicit GattClient(AttBearer& bearer) : bearer_(bearer) {}

  // Offers the bearer's rx MTU; a peer that does not support the exchange keeps 23.
  void exchange_mtu(Done done);
  void discover_primary_services(Found<GattService> done);
  void discover_characteristics(const GattService& service, Found<GattCharacteristic> done);
  void discover_descriptors(const GattCharacteristic& characteristic, Found<GattDescriptor> done);
  void write(std::uint16_t handle, std::vector<std::uint8_t> value, Done done);
  void write_without_response(std::uint16_t handle, std::vector<std::uint8_t> value);

  AttBearer& bearer() { return bearer_; }

 private:
  struct ServiceSearch;
  struct CharacteristicSearch;
  struct DescriptorSearch;
  void next_services(std::shared_ptr<ServiceSearch> search);
  void next_characteristics(std::shared_ptr<CharacteristicSearch> search);
  void next_descriptors(std::shared_ptr<DescriptorSearch> search);
  void violation(const std::string& what);

  AttBearer& bearer_;
};

std::string describe_att_error(const char* what, const AttResult& result);

}  // namespace bm6
