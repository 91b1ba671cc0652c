#include "protocol/advertisement.h"

#include <algorithm>
#include <cstdio>

namespace bm6 {

namespace {
constexpr std::size_t kEncryptedLength = 16;
constexpr std::size_t kBeaconLength = 25;  // 4c 00 02 15 + UUID 16 + major 2 + minor 2 + power
constexpr std::uint8_t kNoByte10 = 0xff;   // what the encoder writes when given none
constexpr std::uint8_t kBm6AdTail[5] = {0x00, 0x00, 0x00, 0x01, 0x08};  // bytes 11-15, observed

// Byte i (0-5) of a block: the advertiser's address in the layout's order.
std::uint8_t address_byte(const AdvertLayout& layout, const BdAddr& advertiser, std::size_t i) {
  return layout.address_lsb_first ? advertiser[5 - i] : advertiser[i];
}

// Bytes 0-5 of a decrypted block, in the layout's order, against the advertiser's address.
bool address_matches(const AdvertLayout& layout, const BdAddr& advertiser,
                     std::span<const std::uint8_t> p) {
  for (std::size_t i = 0; i < advertiser.size(); ++i)
    if (p[i] != address_byte(layout, advertiser, i)) return false;
  return true;
}
}  // namespace

BdAddr bdaddr_from_lsb_first(std::span<const std::uint8_t, 6> bytes) {
  BdAddr a{};
  std::reverse_copy(bytes.begin(), bytes.end(), a.begin());
  return a;
}

std::uint16_t company_id(std::span<const std::uint8_t> m) {
  if (m.size() < 2) return 0;
  return static_cast<std::uint16_t>(m[0] | (m[1] << 8));
}

const char* to_string(AdRejection rejection) {
  switch (rejection) {
    case AdRejection::kWrongLength:
      return "wrong length";
    case AdRejection::kAddressMismatch:
      return "address mismatch (another key, vendor or device)";
    case AdRejection::kBadStateOfCharge:
      return "state of charge over 100";
    case AdRejection::kBadState:
      return "bad state";
    case AdRejection::kNotIBeacon:
      return "not an iBeacon";
    case AdRejection::kOtherBeacon:
      return "another iBeacon";
    case AdRejection::kNoManufacturerData:
      return "no manufacturer data";
  }
  return "unknown";
}

std::optional<int> unconfirmed_temperature_c(const AdvertisedReading& r) {
  if (!r.byte10 || *r.byte10 >= 0x80) return std::nullopt;
  return *r.byte10;
}

AdDecode decode_advertisement_plaintext(Family family, const BdAddr& advertiser,
                                        std::span<const std::uint8_t> p) {
  const AdvertLayout& layout = traits(family).advert;
  if (p.size() != kEncryptedLength) return AdRejection::kWrongLength;
  if (!address_matches(layout, advertiser, p)) return AdRejection::kAddressMismatch;
  AdvertisedReading r;
  r.centivolts = static_cast<std::uint16_t>((p[6] << 8) | p[7]);
  if (p[8] > 100) return AdRejection::kBadStateOfCharge;
  r.soc_percent = p[8];
  if (!layout.state_and_byte10) return r;
  if (p[9] > 2) return AdRejection::kBadState;
  r.state = static_cast<State>(p[9]);
  r.byte10 = p[10];
  return r;
}

AdDecode decode_advertisement(FamilyCodec& codec, const BdAddr& advertiser,
                              std::span<const std::uint8_t> manufacturer_data) {
  if (manufacturer_data.size() != kEncryptedLength) return AdRejection::kWrongLength;
  Block plain;  // on the stack: one advertisement per device per second, no allocation each
  if (!codec.decrypt(manufacturer_data, plain)) return AdRejection::kWrongLength;
  return decode_advertisement_plaintext(codec.family(), advertiser, plain);
}

std::optional<Block> encode_advertisement(FamilyCodec& codec, const AdvertisedReading& r,
                                          const BdAddr& advertiser) {
  if (r.soc_percent > 100) return std::nullopt;
  const AdvertLayout& layout = traits(codec.family()).advert;
  if (layout.state_and_byte10 && (!r.state || static_cast<int>(*r.state) > 2)) return std::nullopt;
  Block b{};
  for (std::size_t i = 0; i < advertiser.size(); ++i) b[i] = address_byte(layout, advertiser, i);
  b[6] = static_cast<std::uint8_t>(r.centivolts >> 8);
  b[7] = static_cast<std::uint8_t>(r.centivolts);
  b[8] = r.soc_percent;
  if (layout.state_and_byte10) {
    b[9] = static_cast<std::uint8_t>(*r.state);
    b[10] = r.byte10.value_or(kNoByte10);
    std::copy(std::begin(kBm6AdTail), std::end(kBm6AdTail), b.begin() + 11);
  }
  return codec.encrypt(b);
}

BeaconDecode decode_ibeacon(std::span<const std::uint8_t> m) {
  if (m.size() != kBeaconLength) return AdRejection::kNotIBeacon;
  if (company_id(m) != kAppleCompanyId) return AdRejection::kNotIBeacon;
  if (m[2] != 0x02 || m[3] != 0x15) return AdRejection::kNotIBeacon;
  if (!std::equal(kBm6BeaconUuid.begin(), kBm6BeaconUuid.end(), m.begin() + 4))
    return AdRejection::kOtherBeacon;
  BeaconReading r;
  r.major = static_cast<std::uint16_t>((m[20] << 8) | m[21]);
  r.minor = static_cast<std::uint16_t>((m[22] << 8) | m[23]);
  r.tx_power = static_cast<std::int8_t>(m[24]);
  if (m[21] > 100) return AdRejection::kBadStateOfCharge;
  r.soc_percent = m[21];
  return r;
}

std::vector<std::uint8_t> encode_ibeacon(std::uint8_t soc_percent, std::uint16_t minor,
                                         std::int8_t tx_power) {
  std::vector<std::uint8_t> m(kBeaconLength, 0);
  m[0] = kAppleCompanyId & 0xff;
  m[1] = kAppleCompanyId >> 8;
  m[2] = 0x02;
  m[3] = 0x15;
  std::copy(kBm6BeaconUuid.begin(), kBm6BeaconUuid.end(), m.begin() + 4);
  m[20] = 0x00;  // major, high byte: meaning unknown
  m[21] = soc_percent;
  m[22] = static_cast<std::uint8_t>(minor >> 8);
  m[23] = static_cast<std::uint8_t>(minor);
  m[24] = static_cast<std::uint8_t>(tx_power);
  return m;
}

PassiveDecode decode_manufacturer_fields(FamilyCodec& codec, const BdAddr& advertiser,
                                         std::span<const std::vector<std::uint8_t>> fields) {
  std::vector<std::span<const std::uint8_t>> views(fields.begin(), fields.end());
  return decode_manufacturer_views(codec, advertiser, views);
}

PassiveDecode decode_manufacturer_views(FamilyCodec& codec, const BdAddr& advertiser,
                                        std::span<const std::span<const std::uint8_t>> fields) {
  std::optional<AdRejection> encrypted_rejection;
  std::optional<BeaconDecode> beacon;
  for (const auto& field : fields) {
    if (field.size() == kEncryptedLength) {
      AdDecode d = decode_advertisement(codec, advertiser, field);
      if (auto* r = std::get_if<AdvertisedReading>(&d)) return *r;
      if (!encrypted_rejection) encrypted_rejection = std::get<AdRejection>(d);
    } else if (company_id(field) == kAppleCompanyId) {
      BeaconDecode d = decode_ibeacon(field);
      if (!beacon || std::holds_alternative<AdRejection>(*beacon)) beacon = d;
    }
  }
  if (beacon && std::holds_alternative<BeaconReading>(*beacon))
    return std::get<BeaconReading>(*beacon);
  if (encrypted_rejection) return *encrypted_rejection;
  if (beacon) return std::get<AdRejection>(*beacon);
  return AdRejection::kNoManufacturerData;
}

}  // namespace bm6
