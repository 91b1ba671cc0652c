#include "tools/ctl/text.h"

#include <cstdint>
#include <cstdio>

namespace bm6::ctl {

namespace {

// The code point of the valid UTF-8 sequence at s[i] and its length, or length 0 when the
// byte at s[i] does not start one (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
struct Decoded {
  char32_t cp = 0;
  std::size_t len = 0;
};

Decoded decode(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t b0 = byte(i);
  if (b0 < 0x80) return {b0, 1};
  std::size_t len = 0;
  char32_t cp = 0, min = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {};
  }
  if (i + len > s.size()) return {};
  for (std::size_t k = 1; k < len; ++k) {
    const std::uint8_t b = byte(i + k);
    if ((b & 0xc0) != 0x80) return {};
    cp = cp << 6 | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
  return {cp, len};
}

std::string hex(const char* format, unsigned value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const Decoded d = decode(s, i);
    if (d.len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    const char32_t c = d.cp;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029)
          out += hex("\\u%04x", static_cast<unsigned>(c));
        else
          out.append(s.substr(i, d.len));
    }
    i += d.len;
  }
  return out + "\"";
}

std::string terminal_safe(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const Decoded d = decode(s, i);
    const char32_t c = d.cp;
    if (d.len == 0 || c < 0x20 || c == 0x7f) {
      out += hex("\\x%02x", static_cast<std::uint8_t>(s[i]));
      ++i;
      continue;
    }
    if (c == '\\') {
      out += "\\\\";
    } else if ((c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
               (c >= 0x2066 && c <= 0x2069)) {
      out += hex("\\u{%04x}", static_cast<unsigned>(c));
    } else {
      out.append(s.substr(i, d.len));
    }
    i += d.len;
  }
  return out;
}

}  // namespace bm6::ctl
