// Passive reading: what a monitor that no central holds puts in its advertisements.
//
// Encrypted manufacturer data (BM6, BM2; BM7 assumed to be the BM6 layout under its key, not
// confirmed). The 16 bytes of the manufacturer-specific data field, as the kernel reports it
// (the 2-byte "company id", little-endian as sent, then 14 bytes), are one AES-128 block under
// the family's key. Decrypted:
//
//   BM6/BM7  0-5 the advertiser's address, most significant byte first; 6-7 voltage
//            (big-endian, centivolts); 8 state of charge; 9 state (0 normal, 1 low,
//            2 charging); 10 unconfirmed (read as a temperature by some, but public captures
//            only ever show 1-7: kept raw, never called a temperature here); 11-15 observed
//            00 00 00 01 08
//   BM2      0-5 the address, least significant byte first; 6-7 voltage; 8 state of charge
//
// The address is the check that the key is right and the data this device's: a block from
// another vendor, another family or another device is an address mismatch.
//
// iBeacon (Apple company id 0x004C, type 02 15, UUID 3ba29cd9-a42c-8948-56ba-daf2606ef777):
// the low byte of the major number is the state of charge. Use it only when the encrypted
// data is absent.
//
// Addresses (BdAddr) are held most significant byte first, the order they are written in
// ("50:54:7B:80:2C:3C" = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c}). The kernel's mgmt and HCI
// interfaces report them least significant byte first: convert with bdaddr_from_lsb_first.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/bm6_cipher.h"
#include "protocol/family.h"

namespace bm6 {

// Most significant byte first. Its text form is transport/address.h's (parse_bdaddr,
// to_string): this layer decodes bytes only.
using BdAddr = std::array<std::uint8_t, 6>;
BdAddr bdaddr_from_lsb_first(std::span<const std::uint8_t, 6> bytes);

inline constexpr std::uint16_t kAppleCompanyId = 0x004c;
inline constexpr std::array<std::uint8_t, 16> kBm6BeaconUuid = {
    0x3b, 0xa2, 0x9c, 0xd9, 0xa4, 0x2c, 0x89, 0x48, 0x56, 0xba, 0xda, 0xf2, 0x60, 0x6e, 0xf7, 0x77};

// Manufacturer data fields come out of advertising data through transport's
// ad::manufacturer_data (transport/advertising_data.h), each as the kernel reports it: company
// id (2 bytes, little-endian) then the payload.
// The company id of a field (its first two bytes, little-endian); 0 if it is shorter.
std::uint16_t company_id(std::span<const std::uint8_t> manufacturer_data);

struct AdvertisedReading {
  std::uint16_t centivolts = 0;  // hundredths of a volt
  std::uint8_t soc_percent = 0;  // 0-100
  std::optional<State> state;    // BM6/BM7 only: normal, low or charging
  // BM6/BM7 only: decrypted byte 10 as sent. Its meaning is unconfirmed (see above and
  // unconfirmed_temperature_c), so it is no temperature unless a user asks for it to be.
  std::optional<std::uint8_t> byte10;

  double volts() const { return centivolts / 100.0; }
  bool operator==(const AdvertisedReading&) const = default;
};

struct BeaconReading {
  std::uint8_t soc_percent = 0;  // the low byte of the major number
  std::uint16_t major = 0;
  std::uint16_t minor = 0;
  std::int8_t tx_power = 0;  // measured power at 1 m, dBm
  bool operator==(const BeaconReading&) const = default;
};

// Why manufacturer data is not a reading.
enum class AdRejection : std::uint8_t {
  kWrongLength,         // encrypted data: not 16 bytes (company id + 14)
  kAddressMismatch,     // decrypted bytes 0-5 are not the advertiser's address
  kBadStateOfCharge,    // over 100 %
  kBadState,            // BM6/BM7 byte 9 over 2
  kNotIBeacon,          // iBeacon: not Apple's company id, type 02 15 and 25 bytes
  kOtherBeacon,         // iBeacon: another proximity UUID
  kNoManufacturerData,  // decode_manufacturer_fields: no field to decode
};
inline constexpr int kAdRejectionCount = 7;
const char* to_string(AdRejection rejection);

using AdDecode = std::variant<AdvertisedReading, AdRejection>;
using BeaconDecode = std::variant<BeaconReading, AdRejection>;

// Byte 10 read the way some decoders read it, as whole degrees C from 0 to 127 (0x80 and up:
// no reading). Unconfirmed: for an opt-in (PassiveTemperature) only.
std::optional<int> unconfirmed_temperature_c(const AdvertisedReading& r);

// Decodes a decrypted block of `family`, advertised by `advertiser`.
AdDecode decode_advertisement_plaintext(Family family, const BdAddr& advertiser,
                                        std::span<const std::uint8_t> plaintext);
// Decrypts (under codec's key, for codec's family) and decodes one manufacturer data field.
AdDecode decode_advertisement(FamilyCodec& codec, const BdAddr& advertiser,
                              std::span<const std::uint8_t> manufacturer_data);
// The manufacturer data field a monitor of codec's family would advertise for `r`: 16 bytes,
// the first two being the company id a scanner shows. nullopt if soc > 100, or, for BM6/BM7,
// the state is missing or not normal/low/charging. BM6/BM7: byte 10 is r.byte10 (none:
// 0xff); bytes 11-15 are 00 00 00 01 08 as observed. BM2: state and byte 10 are not
// carried; bytes 9-15 are zero.
std::optional<Block> encode_advertisement(FamilyCodec& codec, const AdvertisedReading& r,
                                          const BdAddr& advertiser);

// The iBeacon field (company id 4c 00, 02 15, UUID, major, minor, power: 25 bytes).
BeaconDecode decode_ibeacon(std::span<const std::uint8_t> manufacturer_data);
std::vector<std::uint8_t> encode_ibeacon(std::uint8_t soc_percent, std::uint16_t minor = 0,
                                         std::int8_t tx_power = -59);

// All the manufacturer data of one advertisement: the encrypted reading if a 16-byte field
// decodes (whatever its company id), else the iBeacon's state of charge, else why not (the
// first encrypted field's rejection, else a beacon's, else kNoManufacturerData).
using PassiveDecode = std::variant<AdvertisedReading, BeaconReading, AdRejection>;
PassiveDecode decode_manufacturer_fields(FamilyCodec& codec, const BdAddr& advertiser,
                                         std::span<const std::vector<std::uint8_t>> fields);
// The same over views of the fields (ad::manufacturer_data_views): nothing copied, for the
// receive path, where every advertisement of every monitor passes.
PassiveDecode decode_manufacturer_views(FamilyCodec& codec, const BdAddr& advertiser,
                                        std::span<const std::span<const std::uint8_t>> fields);

}  // namespace bm6
