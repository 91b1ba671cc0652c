// libFuzzer: the advertising data parser (transport/advertising_data.h) and the advertisement
// decoders. Input: 6 address bytes (most significant first), a family selector byte, then
// advertising data (AD structures), also taken whole as one manufacturer data field. Whatever
// decodes must encode back to the same reading.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/advertisement.h"
#include "transport/advertising_data.h"

namespace {

void check_round_trip(bm6::FamilyCodec& codec, const bm6::BdAddr& address,
                      const bm6::AdDecode& decoded) {
  const auto* r = std::get_if<bm6::AdvertisedReading>(&decoded);
  if (r == nullptr) return;
  if (r->soc_percent > 100) __builtin_trap();
  const auto sent = bm6::encode_advertisement(codec, *r, address);
  if (!sent) __builtin_trap();
  const bm6::AdDecode again = bm6::decode_advertisement(codec, address, *sent);
  if (!std::holds_alternative<bm6::AdvertisedReading>(again) ||
      std::get<bm6::AdvertisedReading>(again) != *r)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bm6::FamilyCodec codecs[] = {bm6::FamilyCodec(bm6::Family::kBm6),
                                      bm6::FamilyCodec(bm6::Family::kBm7),
                                      bm6::FamilyCodec(bm6::Family::kBm2)};
  if (size < 7) return 0;
  bm6::BdAddr address{};
  std::copy(data, data + 6, address.begin());
  bm6::FamilyCodec& codec = codecs[data[6] % 3];
  const std::span<const std::uint8_t> rest(data + 7, size - 7);

  // Every AD structure lies within the input, in order; the summary agrees with the walk.
  const std::uint8_t* at = rest.data();
  for (const bm6::ad::Field f : bm6::ad::Fields(rest)) {
    if (f.data.data() < at + 2 || f.data.data() + f.data.size() > rest.data() + rest.size())
      __builtin_trap();
    at = f.data.data() + f.data.size();
  }
  const auto fields = bm6::ad::manufacturer_data(rest);
  if (bm6::ad::parse(rest).manufacturer_data != fields) __builtin_trap();
  for (const auto& field : fields) {
    if (field.size() < 2) __builtin_trap();
    check_round_trip(codec, address, bm6::decode_advertisement(codec, address, field));
    const bm6::BeaconDecode beacon = bm6::decode_ibeacon(field);
    if (const auto* b = std::get_if<bm6::BeaconReading>(&beacon)) {
      if (b->soc_percent > 100 || bm6::company_id(field) != bm6::kAppleCompanyId) __builtin_trap();
    }
  }
  const bm6::PassiveDecode passive = bm6::decode_manufacturer_fields(codec, address, fields);
  if (const auto* r = std::get_if<bm6::AdvertisedReading>(&passive))
    check_round_trip(codec, address, *r);

  check_round_trip(codec, address, bm6::decode_advertisement(codec, address, rest));
  bm6::decode_advertisement_plaintext(codec.family(), address, rest);
  bm6::decode_ibeacon(rest);
  return 0;
}
