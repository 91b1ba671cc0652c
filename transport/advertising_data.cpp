#include "transport/advertising_data.h"

#include <algorithm>

namespace bm6::ad {

void Fields::iterator::load(std::size_t at) {
  next_ = kEnd;
  if (at >= bytes_.size()) return;
  const std::size_t length = bytes_[at];  // type and data
  if (length == 0 || at + 1 + length > bytes_.size()) return;
  field_ = {bytes_[at + 1], bytes_.subspan(at + 2, length - 1)};
  next_ = at + 1 + length;
}

void manufacturer_data_views(std::span<const std::uint8_t> bytes,
                             std::vector<std::span<const std::uint8_t>>& out) {
  out.clear();
  for (const Field f : Fields(bytes))
    if (f.type == kManufacturerData && f.data.size() >= 2) out.push_back(f.data);
}

std::vector<std::vector<std::uint8_t>> manufacturer_data(std::span<const std::uint8_t> bytes) {
  std::vector<std::span<const std::uint8_t>> views;
  manufacturer_data_views(bytes, views);
  std::vector<std::vector<std::uint8_t>> fields;
  for (const auto v : views) fields.emplace_back(v.begin(), v.end());
  return fields;
}

Advertisement parse(std::span<const std::uint8_t> bytes) {
  Advertisement a;
  for (const Field f : Fields(bytes)) {
    switch (f.type) {
      case kShortenedName:
      case kCompleteName:
        if (f.type == kCompleteName || a.name.empty()) a.name.assign(f.data.begin(), f.data.end());
        break;
      case kUuid16Incomplete:
      case kUuid16Complete:
        for (std::size_t j = 0; j + 1 < f.data.size(); j += 2) {
          const auto u = static_cast<std::uint16_t>(f.data[j] | f.data[j + 1] << 8);
          if (std::find(a.uuids16.begin(), a.uuids16.end(), u) == a.uuids16.end())
            a.uuids16.push_back(u);
        }
        break;
      case kManufacturerData:
        if (f.data.size() >= 2) a.manufacturer_data.emplace_back(f.data.begin(), f.data.end());
        break;
      default:
        break;
    }
  }
  return a;
}

void append(std::vector<std::uint8_t>& out, std::uint8_t type, std::span<const std::uint8_t> data) {
  const std::size_t length = std::min<std::size_t>(data.size(), 254);
  out.push_back(static_cast<std::uint8_t>(length + 1));
  out.push_back(type);
  out.insert(out.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(length));
}

}  // namespace bm6::ad
