#pragma once
// Small string helpers used across pkd (no dependencies beyond the standard library).
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace pkd {

// Concatenates anything that has an operator<< into one string.
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

std::vector<std::string> split(std::string_view text, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);
bool ends_with(std::string_view text, std::string_view suffix);
std::string to_lower_ascii(std::string_view text);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// " (did you mean 'x'?)" for the closest candidate within a small distance, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// Quotes a string for messages: shows control characters and truncates long text.
std::string quoted(std::string_view text, std::size_t max_chars = 80);

// Strict integer and float parsing of a whole string; false when it is not one.
// Byte offset of the first invalid UTF-8 sequence in `text` (RFC 3629: no overlongs, no
// surrogates, <= U+10FFFF), or std::string_view::npos.
std::size_t find_invalid_utf8(std::string_view text);

bool parse_int64(std::string_view text, std::int64_t& value);
bool parse_double(std::string_view text, double& value);

}  // namespace pkd
