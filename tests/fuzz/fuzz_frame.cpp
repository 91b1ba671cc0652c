// libFuzzer: the BM6 frame decoders, on plaintext and through decryption.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/bm6_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bm6::Bm6Codec codec;
  const std::span<const std::uint8_t> in(data, size);
  bm6::decode_live_frame(in);
  bm6::decode_version(in);
  auto decoded = codec.decode_notification(in);
  if (auto* r = std::get_if<bm6::Bm6Reading>(&decoded)) {
    // Whatever decodes must encode back to a frame that decodes the same.
    const auto again = bm6::decode_live_frame(bm6::encode_live_frame(*r));
    if (!std::holds_alternative<bm6::Bm6Reading>(again) || std::get<bm6::Bm6Reading>(again) != *r)
      __builtin_trap();
  }
  return 0;
}
