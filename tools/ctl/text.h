// Text that came from outside (advertised names, socket paths, error messages) made safe for
// the two places bm6ctl writes to. Every output path goes through one of these.
#pragma once

#include <string>
#include <string_view>

namespace bm6::ctl {

// `s` as a JSON string literal, quotes included (RFC 8259). Escaped: `"` and `\`; the
// control characters U+0000-U+001F (\b \f \n \r \t, the rest as \u00XX); U+007F-U+009F
// (DEL and the C1 controls, which some terminals act on); U+2028 and U+2029 (line breaks to
// JavaScript). Valid UTF-8 otherwise passes through unchanged. Each byte that is not part of
// a valid UTF-8 sequence (stray continuation, truncated or overlong sequence, surrogate,
// beyond U+10FFFF) becomes \ufffd, the replacement character, so the output is always
// valid JSON in valid UTF-8.
std::string json_string(std::string_view s);

// `s` for a terminal: printable ASCII and valid UTF-8 text pass through; everything that
// could move the cursor, clear the screen or reorder text is shown visibly instead. `\`
// becomes `\\`; C0 controls, DEL and bytes that are not valid UTF-8 become \xNN (ESC is
// \x1b, NUL \x00); C1 controls and the bidirectional overrides and isolates (U+202A-U+202E,
// U+2066-U+2069) become \u{NNNN}. The result contains no byte below 0x20 and no 0x7f.
std::string terminal_safe(std::string_view s);

}  // namespace bm6::ctl
