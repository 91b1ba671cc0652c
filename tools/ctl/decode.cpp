#include "tools/ctl/decode.h"

#include "transport/address.h"

#include <cctype>
#include <cstdio>

namespace bm6::ctl {

namespace {

constexpr std::size_t kEncryptedLength = 16;  // manufacturer data, and one notification
constexpr std::size_t kMaxInput = 512;        // more than any advertisement or notification

std::string quoted(const std::string& s) { return "'" + s + "'"; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool has_0x(const std::string& w) { return w.size() >= 2 && w[0] == '0' && (w[1] | 0x20) == 'x'; }

// One word's bytes (without its 0x, colons between bytes allowed), or an error.
std::variant<Bytes, std::string> word_bytes(const std::string& word) {
  std::string digits;
  for (std::size_t i = has_0x(word) ? 2 : 0; i < word.size(); ++i) {
    if (word[i] == ':') {
      // Between two bytes only: "d1:5:5f:0" is refused, not read as d1 55 f0.
      const bool between =
          !digits.empty() && digits.size() % 2 == 0 && i + 1 < word.size() && word[i + 1] != ':';
      if (!between)
        return "HEX: " + quoted(word) +
               " has a colon that is not between two bytes (give 6a:28:1d:95:...)";
      continue;
    }
    if (hex_digit(word[i]) < 0)
      return "HEX: " + quoted(word) +
             " is not hexadecimal (give the bytes as hex digits: 6a281d95..., 6a 28 1d 95 ... "
             "or 6a:28:1d:95:...)";
    digits += word[i];
  }
  if (digits.empty()) return "HEX: " + quoted(word) + " has no hex digits";
  if (digits.size() % 2 != 0)
    return "HEX: " + quoted(word) + " has an odd number of hex digits (two per byte)";
  Bytes out;
  for (std::size_t i = 0; i < digits.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(hex_digit(digits[i]) << 4 | hex_digit(digits[i + 1])));
  return out;
}

// "the BM6, BM7 and BM2 keys"
std::string key_list(const std::vector<Family>& families) {
  return "the " + family_names(families, "and") + (families.size() == 1 ? " key" : " keys");
}

// Reasons grouped by text: "address mismatch (...) under the BM6 and BM7 keys; bad state
// under the BM2 key".
std::string grouped(const std::vector<std::pair<Family, std::string>>& reasons) {
  std::vector<std::pair<std::string, std::vector<Family>>> groups;
  for (const auto& [family, reason] : reasons) {
    auto it = groups.begin();
    while (it != groups.end() && it->first != reason) ++it;
    if (it == groups.end())
      groups.push_back({reason, {family}});
    else
      it->second.push_back(family);
  }
  std::string s;
  for (const auto& [reason, families] : groups)
    s += (s.empty() ? "" : "; ") + reason + " under " + key_list(families);
  return s;
}

Decoded from_advertised(Family family, const AdvertisedReading& a) {
  Decoded d;
  d.source = Decoded::Source::kAdvertisement;
  d.model = family;
  d.centivolts = a.centivolts;
  d.byte10 = a.byte10;
  d.soc_percent = a.soc_percent;
  d.state = a.state;
  return d;
}

Decoded from_beacon(std::optional<Family> model, const BeaconReading& b) {
  Decoded d;
  d.source = Decoded::Source::kIBeacon;
  d.model = model;
  d.soc_percent = b.soc_percent;
  return d;
}

std::optional<Decoded> as_advertisement(const BdAddr& advertiser,
                                        const std::vector<Family>& families, const Bytes& bytes,
                                        std::vector<std::pair<Family, std::string>>* reasons) {
  for (const Family f : families) {
    FamilyCodec codec(f);
    const AdDecode d = decode_advertisement(codec, advertiser, bytes);
    if (const auto* r = std::get_if<AdvertisedReading>(&d)) return from_advertised(f, *r);
    if (reasons) reasons->push_back({f, to_string(std::get<AdRejection>(d))});
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(Decoded::Source source) {
  switch (source) {
    case Decoded::Source::kAdvertisement:
      return "advertisement";
    case Decoded::Source::kNotification:
      return "notification";
    case Decoded::Source::kIBeacon:
      return "ibeacon";
  }
  return "?";
}

std::string hex(const Bytes& bytes) {
  std::string s;
  char buf[3];
  for (const std::uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    s += buf;
  }
  return s;
}

HexParse parse_hex_words(const std::vector<std::string>& args) {
  std::vector<std::string> words;
  for (const auto& a : args) {
    std::size_t i = 0;
    while (i < a.size()) {
      while (i < a.size() && std::isspace(static_cast<unsigned char>(a[i]))) ++i;
      std::size_t j = i;
      while (j < a.size() && !std::isspace(static_cast<unsigned char>(a[j]))) ++j;
      if (j > i) words.push_back(a.substr(i, j - i));
      i = j;
    }
  }
  if (words.empty()) return std::string("decode needs HEX: manufacturer data or a notification");
  Bytes all;
  for (const auto& w : words) {
    auto b = word_bytes(w);
    if (auto* error = std::get_if<std::string>(&b)) return *error;
    const auto& bytes = std::get<Bytes>(b);
    all.insert(all.end(), bytes.begin(), bytes.end());
    if (all.size() > kMaxInput)
      return "HEX: more than " + std::to_string(kMaxInput) +
             " bytes, more than an advertisement or a notification holds";
  }
  std::vector<Bytes> candidates;
  const std::string& first = words.front();
  if (words.size() >= 2 && has_0x(first) && first.size() == 6) {
    Bytes company = all;  // the number 0xHHLL, sent as LL HH
    std::swap(company[0], company[1]);
    candidates.push_back(std::move(company));
  }
  candidates.push_back(std::move(all));
  return candidates;
}

namespace {
// " (a BM2's is tried with --model bm2 only)": the families one block cannot prove.
std::string weak_families_note() {
  const auto weak = families_where([](const FamilyTraits& t) { return t.settle_frames > 1; });
  if (weak.empty()) return "";
  return " (a " + family_names(weak, "or") + "'s is tried with --model " +
         family_names(std::span(weak).first(1), "", true) + " only)";
}
}  // namespace

DecodeResult decode_input(const BdAddr& advertiser, std::optional<Family> model,
                          const std::vector<Bytes>& candidates) {
  std::vector<Family> families;
  if (model)
    families.push_back(*model);
  else
    families.assign(std::begin(kAllFamilies), std::end(kAllFamilies));
  std::string why;
  for (const Bytes& bytes : candidates) {
    std::string reason;
    if (bytes.size() == kEncryptedLength) {
      std::vector<std::pair<Family, std::string>> ad, notification;
      if (auto d = as_advertisement(advertiser, families, bytes, &ad)) return *d;
      for (const Family f : families) {
        if (traits(f).settle_frames > 1 && !model) continue;  // one block proves no BM2: decode.h
        FamilyCodec codec(f);
        const LiveDecode d = codec.decode_notification(bytes);
        if (const auto* r = std::get_if<Reading>(&d)) {
          Decoded out;
          out.source = Decoded::Source::kNotification;
          out.model = f;
          out.centivolts = r->centivolts;
          out.temperature_c = r->temperature_c;
          out.soc_percent = r->soc_percent;
          out.state = r->state;
          return out;
        }
        notification.push_back({f, to_string(std::get<LiveRejection>(d))});
      }
      reason = "as manufacturer data of " + bm6::to_string(advertiser) + ": " + grouped(ad) +
               "; as a notification: " + grouped(notification) +
               (model ? "" : weak_families_note());
    } else if (bytes.size() >= 2 && company_id(bytes) == kAppleCompanyId) {
      const BeaconDecode d = decode_ibeacon(bytes);
      if (const auto* b = std::get_if<BeaconReading>(&d)) return from_beacon(model, *b);
      reason = std::string("Apple's company id, but ") + to_string(std::get<AdRejection>(d)) +
               " (a monitor's iBeacon has proximity UUID 3ba29cd9-a42c-8948-56ba-daf2606ef777)";
    } else {
      reason = std::to_string(bytes.size()) +
               " bytes; a monitor's manufacturer data is 16 bytes (the company id included), "
               "its iBeacon 25 (company id 4c 00), a notification 16";
    }
    if (candidates.size() > 1)
      reason = "read as " + hex(Bytes(bytes.begin(), bytes.begin() + 2)) + "...: " + reason;
    why += (why.empty() ? "" : "; ") + reason;
  }
  return "not a reading: " + why;
}

std::optional<Decoded> decode_found(const scan::FoundDevice& device, std::string& why) {
  why.clear();
  const auto& fields = device.advert.manufacturer_data;
  if (fields.empty()) return std::nullopt;
  const auto address = parse_bdaddr(device.address);
  const std::vector<Family> families(std::begin(kAllFamilies), std::end(kAllFamilies));
  std::optional<Decoded> beacon;
  bool encrypted_seen = false;
  for (auto it = fields.rbegin(); it != fields.rend(); ++it) {  // newest first
    if (it->size() == kEncryptedLength) {
      encrypted_seen = true;
      if (address)
        if (auto d = as_advertisement(*address, families, *it, nullptr)) return d;
    } else if (!beacon && company_id(*it) == kAppleCompanyId) {
      const BeaconDecode b = decode_ibeacon(*it);
      if (const auto* r = std::get_if<BeaconReading>(&b)) beacon = from_beacon(std::nullopt, *r);
    }
  }
  if (beacon) return beacon;
  why = encrypted_seen ? "address mismatch under every key" : "not a monitor's";
  return std::nullopt;
}

}  // namespace bm6::ctl
