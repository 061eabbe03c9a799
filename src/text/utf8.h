#pragma once
// UTF-8 decoding, encoding and validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
#include <cstddef>
#include <string>
#include <string_view>

#include "core/strings.h"

namespace pkd::text {

// Validation lives in core (configs check their strings too): the byte offset of the first
// invalid UTF-8 sequence, or std::string_view::npos.
using pkd::find_invalid_utf8;

// Decodes the code point at `pos` of valid UTF-8 and advances `pos` past it.
inline char32_t decode_utf8(std::string_view text, std::size_t& pos) {
  auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  auto cont = [&](std::size_t i) { return static_cast<unsigned char>(text[pos + i]) & 0x3Fu; };
  char32_t cp;
  if (b0 < 0xE0) {
    cp = ((b0 & 0x1Fu) << 6) | cont(1);
    pos += 2;
  } else if (b0 < 0xF0) {
    cp = ((b0 & 0x0Fu) << 12) | (cont(1) << 6) | cont(2);
    pos += 3;
  } else {
    cp = ((b0 & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
    pos += 4;
  }
  return cp;
}

void append_utf8(char32_t cp, std::string& out);

// Number of code points in valid UTF-8.
std::size_t count_code_points(std::string_view text);

}  // namespace pkd::text
