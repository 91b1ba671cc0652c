// bm6ctl capture and decode --file: what a monitor sends, recorded as JSON Lines
// (tools/capture/capture_file.h) with what each piece decodes to, and a capture decoded
// again. Everything from the air is written as hex, or through json_string().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/family.h"
#include "tools/capture/capture_file.h"
#include "tools/ctl/cli.h"

namespace bm6::ctl {

int run_capture(const Command& cmd);
int run_decode_file(const Command& cmd);

// What one notification is, as JSON members after a leading comma: "model", "plaintext",
// then "reading" (voltage, temperature unless a BM2's, soc, state) or "reason". `family`
// unset: none is known (no key fits): model null and the reason. `readings`, if given, is
// incremented when it is a reading.
std::string notification_members(std::optional<Family> family,
                                 std::span<const std::uint8_t> ciphertext,
                                 std::size_t* readings = nullptr);

// What each manufacturer data field of an advertisement from `address` is: one JSON object
// per field, {"source":..,"model":..,"reading":{voltage, soc, state}} or {"reason":..}. The
// advertised byte 10 is not among them: what it is is not confirmed (it stays in the raw
// data). `readings`, if given, is incremented for each field that is a reading.
std::vector<std::string> advertisement_decodes(const std::string& address,
                                               std::optional<Family> model,
                                               const std::vector<capture::Bytes>& fields,
                                               std::size_t* readings = nullptr);

}  // namespace bm6::ctl
