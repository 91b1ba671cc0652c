// libFuzzer: the capture reader (bm6ctl decode --file, bm6-sim --replay read files users
// send) on arbitrary text, and the family detection over what it accepted.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "tools/capture/capture_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = bm6::capture::parse_capture(text);
  if (const auto* capture = std::get_if<bm6::capture::Capture>(&result))
    (void)bm6::capture::notification_family(*capture);
  return 0;
}
