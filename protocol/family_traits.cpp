// The one table of what differs between the families (see FamilyTraits in family.h). A new
// family is one entry here, its enumerator and its codec.
#include <cctype>

#include "protocol/family.h"

namespace bm6 {

namespace {
constexpr std::string_view kBm6Names[] = {"BM6"};
constexpr std::string_view kBm7Names[] = {"BM300 Pro"};
constexpr std::string_view kBm2Names[] = {"BM2", "Battery Monitor", "ZX-1689"};

constexpr State kBm6States[] = {State::kNormal, State::kLow, State::kCharging};
constexpr State kBm2States[] = {State::kNormal, State::kLow, State::kCharging, State::kCritical,
                                State::kFloating};

constexpr FamilyTraits kTraits[] = {
    {
        .family = Family::kBm6,
        .name = "BM6",
        .key = kBm6Key,
        .advertised_names = kBm6Names,
        .decode = decode_bm6_frame,
        .encode = encode_bm6_frame,
        .states = kBm6States,
        .max_centivolts = 0xffff,
        .has_temperature = true,
        .needs_request = true,
        .long_prefix = true,
        .settle_frames = 1,
        .has_history = true,
        .history_window_end = 0xff,
        .advert = {.address_lsb_first = false, .state_and_byte10 = true},
        .advertises_ibeacon = true,
    },
    {
        // The BM6 protocol under its own key.
        .family = Family::kBm7,
        .name = "BM7",
        .key = kBm7Key,
        .advertised_names = kBm7Names,
        .decode = decode_bm6_frame,
        .encode = encode_bm6_frame,
        .states = kBm6States,
        .max_centivolts = 0xffff,
        .has_temperature = true,
        .needs_request = true,
        .long_prefix = true,
        .settle_frames = 1,
        .has_history = true,
        .history_window_end = 0xfe,
        // Assumed to be the BM6's layout under the BM7 key: not confirmed.
        .advert = {.address_lsb_first = false, .state_and_byte10 = true},
        .advertises_ibeacon = true,
    },
    {
        .family = Family::kBm2,
        .name = "BM2",
        .key = kBm2Key,
        .advertised_names = kBm2Names,
        .decode = decode_bm2_frame,
        .encode = encode_bm2_frame,
        .states = kBm2States,
        .max_centivolts = kMaxBm2Centivolts,
        .has_temperature = false,
        .needs_request = false,
        .long_prefix = false,
        .settle_frames = 2,
        .has_history = false,  // not implemented
        .history_window_end = 0xff,
        .advert = {.address_lsb_first = true, .state_and_byte10 = false},
        .advertises_ibeacon = false,  // the iBeacon is a BM6's; a BM2's is not known
    },
};
static_assert(std::size(kTraits) == std::size(kAllFamilies), "one entry per family");

constexpr bool in_family_order() {
  for (std::size_t i = 0; i < std::size(kTraits); ++i)
    if (static_cast<std::size_t>(kTraits[i].family) != i) return false;
  return true;
}
static_assert(in_family_order(), "entry i is the family whose value is i");
}  // namespace

const FamilyTraits& traits(Family family) { return kTraits[static_cast<std::size_t>(family)]; }

bool reports(Family family, State state) {
  for (State s : traits(family).states)
    if (s == state) return true;
  return false;
}

std::string family_names(std::span<const Family> families, std::string_view conjunction,
                         bool lower) {
  std::string out;
  for (std::size_t i = 0; i < families.size(); ++i) {
    if (i > 0) out += i + 1 == families.size() ? " " + std::string(conjunction) + " " : ", ";
    std::string name = traits(families[i]).name;
    if (lower)
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += name;
  }
  return out;
}

}  // namespace bm6
