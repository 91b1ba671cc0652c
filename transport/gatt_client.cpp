#include "transport/gatt_client.h"

#include <algorithm>
#include <memory>

namespace bm6 {

LinkError att_error(const char* what, const AttResult& result) {
  char code[8];
  std::snprintf(code, sizeof code, "0x%02x", result.error);
  LinkError e = link_error(LinkErrorKind::kAttError,
                           std::string(what) + " failed: " + att::error_name(result.error) + " (" +
                               code + ", handle " + std::to_string(result.error_handle) + ")");
  e.att_error = result.error;
  return e;
}

void GattClient::violation(const std::string& what) {
  bearer_.close(link_error(LinkErrorKind::kProtocol, "protocol violation: " + what));
}

void GattClient::exchange_mtu(Done done) {
  bearer_.send_request(att::encode_mtu(att::kExchangeMtuReq, bearer_.rx_mtu()),
                       [this, done = std::move(done)](const AttResult& r) {
                         if (!r.ok()) {
                           // Not supported: both sides stay at the default MTU.
                           if (r.error == att::kRequestNotSupported) return done({});
                           return done(att_error("MTU exchange", r));
                         }
                         const auto mtu = att::decode_mtu(r.params);
                         if (!mtu) return violation("malformed Exchange MTU Response");
                         bearer_.set_peer_mtu(*mtu);
                         done({});
                       });
}

struct GattClient::ServiceSearch {
  std::uint16_t next = 1;
  std::vector<GattService> found;
  Found<GattService> done;
};

void GattClient::discover_primary_services(Found<GattService> done) {
  auto search = std::make_shared<ServiceSearch>();
  search->done = std::move(done);
  next_services(std::move(search));
}

void GattClient::next_services(std::shared_ptr<ServiceSearch> s) {
  const att::HandleRange range{s->next, 0xffff};
  bearer_.send_request(att::encode_range_req(att::kReadByGroupTypeReq, range, att::kPrimaryService),
                       [this, s, range](const AttResult& r) {
                         if (!r.ok()) {
                           if (r.error == att::kAttributeNotFound)
                             return s->done({}, std::move(s->found));
                           return s->done(att_error("primary service discovery", r), {});
                         }
                         const auto entries = att::decode_read_by_group_type_rsp(r.params);
                         if (!entries) return violation("malformed Read By Group Type Response");
                         for (const auto& e : *entries) {
                           if (e.range.start < s->next || e.range.start < range.start)
                             return violation("service handles do not increase (" +
                                              std::to_string(e.range.start) + " after " +
                                              std::to_string(s->next) + ")");
                           s->found.push_back({e.range, e.uuid});
                           if (e.range.end == 0xffff) return s->done({}, std::move(s->found));
                           s->next = static_cast<std::uint16_t>(e.range.end + 1);
                         }
                         next_services(s);
                       });
}

struct GattClient::ServiceByUuidSearch {
  att::Uuid uuid;
  bool first_only = false;
  std::uint16_t next = 1;
  std::vector<GattService> found;
  Found<GattService> done;
};

void GattClient::discover_primary_service_by_uuid(const att::Uuid& uuid, Found<GattService> done,
                                                  bool first_only) {
  auto search = std::make_shared<ServiceByUuidSearch>();
  search->uuid = uuid;
  search->first_only = first_only;
  search->done = std::move(done);
  next_services_by_uuid(std::move(search));
}

void GattClient::next_services_by_uuid(std::shared_ptr<ServiceByUuidSearch> s) {
  // Find By Type Value Request: range, attribute type 0x2800, value = the service's UUID.
  std::vector<std::uint8_t> pdu{att::kFindByTypeValueReq};
  att::put_le16(pdu, s->next);
  att::put_le16(pdu, 0xffff);
  att::put_le16(pdu, att::kPrimaryService.as_16bit());
  s->uuid.append_wire(pdu);
  bearer_.send_request(std::move(pdu), [this, s](const AttResult& r) {
    if (!r.ok()) {
      if (r.error == att::kAttributeNotFound) return s->done({}, std::move(s->found));
      return s->done(att_error("primary service discovery by UUID", r), {});
    }
    // Handles Information List: (found attribute handle, group end handle) pairs.
    if (r.params.empty() || r.params.size() % 4 != 0)
      return violation("malformed Find By Type Value Response");
    for (std::size_t i = 0; i < r.params.size(); i += 4) {
      const std::uint16_t start = att::get_le16(&r.params[i]);
      const std::uint16_t end = att::get_le16(&r.params[i + 2]);
      if (start < s->next || end < start)
        return violation("service handles do not increase (" + std::to_string(start) + ".." +
                         std::to_string(end) + " after " + std::to_string(s->next) + ")");
      s->found.push_back({{start, end}, s->uuid});
      if (end == 0xffff) return s->done({}, std::move(s->found));
      s->next = static_cast<std::uint16_t>(end + 1);
    }
    if (s->first_only) return s->done({}, std::move(s->found));
    next_services_by_uuid(s);
  });
}

struct GattClient::CharacteristicSearch {
  att::HandleRange range;
  std::uint16_t next;
  std::vector<GattCharacteristic> found;
  Found<GattCharacteristic> done;
  Enough enough;
};

void GattClient::discover_characteristics(const GattService& service,
                                          Found<GattCharacteristic> done, Enough enough) {
  auto search = std::make_shared<CharacteristicSearch>();
  search->enough = std::move(enough);
  search->range = service.range;
  search->next = service.range.start;
  search->done = std::move(done);
  next_characteristics(std::move(search));
}

void GattClient::next_characteristics(std::shared_ptr<CharacteristicSearch> s) {
  auto finish = [s] {
    // A characteristic's descriptors end where the next declaration starts.
    for (std::size_t i = 0; i < s->found.size(); ++i) {
      s->found[i].end_handle = i + 1 < s->found.size()
                                   ? static_cast<std::uint16_t>(s->found[i + 1].decl_handle - 1)
                                   : s->range.end;
    }
    s->done({}, std::move(s->found));
  };
  if (s->next > s->range.end || s->next == 0) return finish();
  bearer_.send_request(
      att::encode_range_req(att::kReadByTypeReq, {s->next, s->range.end}, att::kCharacteristic),
      [this, s, finish](const AttResult& r) {
        if (!r.ok()) {
          if (r.error == att::kAttributeNotFound) return finish();
          return s->done(att_error("characteristic discovery", r), {});
        }
        const auto entries = att::decode_read_by_type_rsp(r.params);
        if (!entries) return violation("malformed Read By Type Response");
        for (const auto& e : *entries) {
          if (e.handle < s->next || e.handle > s->range.end)
            return violation("characteristic declaration handle " + std::to_string(e.handle) +
                             " is out of order or outside its service");
          const auto decl = att::decode_characteristic_decl(e.handle, e.value);
          if (!decl || decl->value_handle > s->range.end)
            return violation("malformed characteristic declaration at handle " +
                             std::to_string(e.handle));
          s->found.push_back(
              {decl->decl_handle, decl->value_handle, 0, decl->properties, decl->uuid});
          s->next = static_cast<std::uint16_t>(decl->value_handle + 1);
        }
        if (s->next == 0) return finish();  // wrapped past 0xffff
        if (s->enough && s->enough(s->found)) return finish();
        next_characteristics(s);
      });
}

struct GattClient::DescriptorSearch {
  att::HandleRange range;
  std::uint16_t next;
  std::vector<GattDescriptor> found;
  Found<GattDescriptor> done;
  std::optional<att::Uuid> until;
};

void GattClient::discover_descriptors(const GattCharacteristic& c, Found<GattDescriptor> done,
                                      std::optional<att::Uuid> until) {
  auto search = std::make_shared<DescriptorSearch>();
  search->until = until;
  search->range = {static_cast<std::uint16_t>(c.value_handle + 1), c.end_handle};
  search->next = search->range.start;
  search->done = std::move(done);
  next_descriptors(std::move(search));
}

void GattClient::next_descriptors(std::shared_ptr<DescriptorSearch> s) {
  if (s->next == 0 || s->next > s->range.end) return s->done({}, std::move(s->found));
  bearer_.send_request(
      att::encode_range_req(att::kFindInformationReq, {s->next, s->range.end}, std::nullopt),
      [this, s](const AttResult& r) {
        if (!r.ok()) {
          if (r.error == att::kAttributeNotFound) return s->done({}, std::move(s->found));
          return s->done(att_error("descriptor discovery", r), {});
        }
        const auto entries = att::decode_find_information_rsp(r.params);
        if (!entries) return violation("malformed Find Information Response");
        for (const auto& e : *entries) {
          if (e.handle < s->next || e.handle > s->range.end)
            return violation("descriptor handle " + std::to_string(e.handle) +
                             " is out of order or outside its characteristic");
          s->found.push_back({e.handle, e.uuid});
          s->next = static_cast<std::uint16_t>(e.handle + 1);
        }
        const bool reached =
            s->until && std::any_of(s->found.begin(), s->found.end(),
                                    [&](const GattDescriptor& d) { return d.uuid == *s->until; });
        if (reached) return s->done({}, std::move(s->found));
        next_descriptors(s);
      });
}

void GattClient::write(std::uint16_t handle, std::vector<std::uint8_t> value, Done done) {
  bearer_.send_request(att::encode_handle_value(att::kWriteReq, handle, value),
                       [this, done = std::move(done)](const AttResult& r) {
                         if (!r.ok()) return done(att_error("write", r));
                         if (!r.params.empty()) return violation("malformed Write Response");
                         done({});
                       });
}

void GattClient::write_without_response(std::uint16_t handle, std::vector<std::uint8_t> value) {
  bearer_.send_without_response(att::encode_handle_value(att::kWriteCmd, handle, value));
}

}  // namespace bm6
