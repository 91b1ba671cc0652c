// GATT client procedures over one AttBearer: MTU exchange, discovery by UUID (paginated,
// handles checked to increase and stay in range), writes. Discovery never assumes handles.
//
// A peer that breaks the protocol (handles going backwards, entries outside the asked
// range, malformed responses) gets its link closed; the bearer's closed handler reports
// that, and the procedure's callback does not run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/att.h"
#include "transport/att_bearer.h"
#include "transport/link_error.h"

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
  // No error (kind kNone) means success; an Error Response comes as kAttError.
  using Done = std::function<void(const LinkError& error)>;
  template <typename T>
  using Found = std::function<void(const LinkError& error, std::vector<T> found)>;

  explicit GattClient(AttBearer& bearer) : bearer_(bearer) {}

  // Offers the bearer's rx MTU; a peer that does not support the exchange keeps 23.
  void exchange_mtu(Done done);
  // Every primary service (Read By Group Type on 0x2800), paginated.
  void discover_primary_services(Found<GattService> done);
  // The primary services whose UUID is `uuid` (Find By Type Value on 0x2800 with the UUID as
  // value), in handle order. With `first_only`, stops at the first response that names one:
  // a device with one instance costs one request, not a second to learn there is no other.
  void discover_primary_service_by_uuid(const att::Uuid& uuid, Found<GattService> done,
                                        bool first_only = false);
  // With `enough`, stops at the end of the first response after which enough(found so far)
  // is true, not asking for the rest of the service; the last characteristic found then has
  // the service's end as its end_handle, an upper bound only (those before it are exact).
  using Enough = std::function<bool(const std::vector<GattCharacteristic>& found)>;
  void discover_characteristics(const GattService& service, Found<GattCharacteristic> done,
                                Enough enough = nullptr);
  // With `until`, stops at the end of the response that holds the first descriptor of that
  // type (a CCCD, say): the descriptors after it are not asked for.
  void discover_descriptors(const GattCharacteristic& characteristic, Found<GattDescriptor> done,
                            std::optional<att::Uuid> until = std::nullopt);
  void write(std::uint16_t handle, std::vector<std::uint8_t> value, Done done);
  void write_without_response(std::uint16_t handle, std::vector<std::uint8_t> value);

  AttBearer& bearer() { return bearer_; }

 private:
  struct ServiceSearch;
  struct ServiceByUuidSearch;
  struct CharacteristicSearch;
  struct DescriptorSearch;
  void next_services(std::shared_ptr<ServiceSearch> search);
  void next_services_by_uuid(std::shared_ptr<ServiceByUuidSearch> search);
  void next_characteristics(std::shared_ptr<CharacteristicSearch> search);
  void next_descriptors(std::shared_ptr<DescriptorSearch> search);
  void violation(const std::string& what);

  AttBearer& bearer_;
};

// A request's Error Response as a failure of `what` ("write"): kAttError with its code.
LinkError att_error(const char* what, const AttResult& result);

}  // namespace bm6
