// libFuzzer: every family's live-frame decoder, on plaintext and through each key, and
// family detection. Whatever decodes must encode back to a frame that decodes the same.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/family.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bm6::FamilyCodec codecs[] = {bm6::FamilyCodec(bm6::Family::kBm6),
                                      bm6::FamilyCodec(bm6::Family::kBm7),
                                      bm6::FamilyCodec(bm6::Family::kBm2)};
  static bm6::FamilyDetector detector;
  const std::span<const std::uint8_t> in(data, size);
  for (bm6::FamilyCodec& codec : codecs) {
    const bm6::Family family = codec.family();
    for (const bm6::LiveDecode& decoded :
         {bm6::decode_live(family, in), codec.decode_notification(in)}) {
      const auto* r = std::get_if<bm6::Reading>(&decoded);
      if (r == nullptr) continue;
      if (r->soc_percent > 100) __builtin_trap();
      if ((family == bm6::Family::kBm2) != !r->temperature_c) __builtin_trap();
      const auto frame = bm6::encode_live(family, *r);
      if (!frame) __builtin_trap();
      const bm6::LiveDecode again = bm6::decode_live(family, *frame);
      if (!std::holds_alternative<bm6::Reading>(again) || std::get<bm6::Reading>(again) != *r)
        __builtin_trap();
      const auto sent = codec.encode_notification(*r);
      if (!sent || detector.detect(*sent) != family) __builtin_trap();
    }
    bm6::is_evidence_of(family, in);
  }
  if (const auto family = detector.detect(in)) {
    if (size != 16) __builtin_trap();
    (void)bm6::to_string(*family);
  }
  return 0;
}
