// Advertising data (AD) and EIR data as bytes: a sequence of AD structures, each a length
// octet (type and data), a type octet and the data (Core Specification Vol 3, Part C, 11).
// The one reader of such bytes in the project (the advertisement scanner's reports, the
// discovery's, captures, the passive device) and the one writer (bm6-sim's advertising).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <vector>

namespace bm6::ad {

// AD types (Bluetooth Assigned Numbers, "Common Data Types").
inline constexpr std::uint8_t kFlags = 0x01;
inline constexpr std::uint8_t kUuid16Incomplete = 0x02;
inline constexpr std::uint8_t kUuid16Complete = 0x03;
inline constexpr std::uint8_t kShortenedName = 0x08;
inline constexpr std::uint8_t kCompleteName = 0x09;
inline constexpr std::uint8_t kManufacturerData = 0xff;

struct Field {
  std::uint8_t type = 0;
  std::span<const std::uint8_t> data;  // points into the bytes walked
};

// The AD structures of `bytes`, in order, without copying: `for (ad::Field f :
// ad::Fields(bytes))`. The walk ends at a zero length (padding, as legacy advertising
// data is sent) or at a structure whose length overruns the bytes (the rest is not trusted).
class Fields {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    using pointer = const Field*;
    using reference = const Field&;
    iterator() = default;
    reference operator*() const { return field_; }
    pointer operator->() const { return &field_; }
    iterator& operator++() {
      load(next_);
      return *this;
    }
    iterator operator++(int) {
      iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const iterator& o) const { return next_ == o.next_; }

   private:
    friend class Fields;
    explicit iterator(std::span<const std::uint8_t> bytes) : bytes_(bytes) { load(0); }
    void load(std::size_t at);

    static constexpr std::size_t kEnd = static_cast<std::size_t>(-1);
    std::span<const std::uint8_t> bytes_;
    Field field_;
    std::size_t next_ = kEnd;  // where the structure after field_ starts; kEnd: none
  };

  explicit Fields(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  iterator begin() const { return iterator(bytes_); }
  iterator end() const { return iterator(); }

 private:
  std::span<const std::uint8_t> bytes_;
};

// The manufacturer-specific data fields (kManufacturerData), in order, each as sent: the
// company id (2 bytes, little-endian) first, then the payload. Fields shorter than the
// company id are left out.
std::vector<std::vector<std::uint8_t>> manufacturer_data(std::span<const std::uint8_t> bytes);
// The same as views into `bytes`, into `out` (cleared first): a caller that keeps `out`
// allocates nothing per advertisement.
void manufacturer_data_views(std::span<const std::uint8_t> bytes,
                             std::vector<std::span<const std::uint8_t>>& out);

// What a scan shows of an advertiser: its name and services, and its manufacturer data.
struct Advertisement {
  std::string name;                    // complete local name, else the shortened one
  std::vector<std::uint16_t> uuids16;  // 16-bit service UUIDs, each once
  std::vector<std::vector<std::uint8_t>> manufacturer_data;  // as manufacturer_data()
};
Advertisement parse(std::span<const std::uint8_t> bytes);

// Appends one AD structure. `data` must be at most 254 bytes (a bug otherwise: it is cut).
void append(std::vector<std::uint8_t>& out, std::uint8_t type, std::span<const std::uint8_t> data);

}  // namespace bm6::ad
