#include "text/unicode.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include <utility>

#include "core/error.h"

namespace pkd::text {
namespace {

// HuggingFace `tokenizers` takes general categories from the `unicode_categories` crate, whose
// tables are Unicode 8.0: a code point assigned later is unassigned (Cn) there, so it is neither
// punctuation, nor a control, nor a nonspacing mark. ICU knows each code point's age, so we
// reproduce that view from ICU's current data.
constexpr std::uint8_t kCategoryUnicodeMajor = 8;

// The only code points assigned by Unicode 8.0 whose general category has changed since, with
// their Unicode 8.0 category (checked against ICU's data by tests/unit/test_unicode_all.cpp).
std::int8_t unicode8_category_override(char32_t cp) {
  switch (cp) {
    case 0x166D:
      return U_OTHER_PUNCTUATION;  // CANADIAN SYLLABICS CHI SIGN: So since 12.0
    case 0x111C9:
      return U_OTHER_PUNCTUATION;  // SHARADA SANDHI MARK: Mn since 9.0
    case 0x1734:
      return U_NON_SPACING_MARK;  // HANUNOO SIGN PAMUDPOD: Mc since 14.0
    case 0x1885:                  // MONGOLIAN LETTER ALI GALI BALUDA and
    case 0x1886:
      return U_OTHER_LETTER;  //   ... THREE BALUDA: Mn since 9.0
    case 0xA9BD:
      return U_COMBINING_SPACING_MARK;  // JAVANESE CONSONANT SIGN KERET: Mn since 12.0
    default:
      return -1;
  }
}

std::int8_t category(char32_t cp) {
  auto c = static_cast<UChar32>(cp);
  std::int8_t overridden = unicode8_category_override(cp);
  if (overridden >= 0) return overridden;
  UVersionInfo age;
  u_charAge(c, age);
  if (age[0] > kCategoryUnicodeMajor) return U_UNASSIGNED;
  return u_charType(c);
}

const UNormalizer2* nfd_normalizer() {
  static const UNormalizer2* instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* n = unorm2_getNFDInstance(&status);
    if (U_FAILURE(status)) fail("ICU: cannot load the NFD normalizer: ", u_errorName(status));
    return n;
  }();
  return instance;
}

}  // namespace

bool is_removed_control(char32_t cp) {
  if (cp == 0 || cp == 0xFFFD) return true;
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  switch (category(cp)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      return true;
    default:
      return false;
  }
}

bool is_white_space(char32_t cp) {
  // The White_Space property is stable (Rust's char::is_whitespace uses the current table).
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_WHITE_SPACE);
}

bool is_bert_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126))
    return true;
  switch (category(cp)) {
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_nonspacing_mark(char32_t cp) {
  return category(cp) == U_NON_SPACING_MARK;
}

std::u32string nfd(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size() + 8);
  UChar buffer[64];
  for (char32_t cp : text) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t n =
        unorm2_getDecomposition(nfd_normalizer(), static_cast<UChar32>(cp), buffer, 64, &status);
    if (U_FAILURE(status)) fail("ICU: cannot decompose U+", std::hex, static_cast<unsigned>(cp));
    if (n < 0) {  // no decomposition
      out += cp;
      continue;
    }
    for (int32_t i = 0; i < n;) {
      UChar32 c;
      U16_NEXT(buffer, i, n, c);
      out += static_cast<char32_t>(c);
    }
  }
  // Canonical ordering: within each run of non-starters, a stable sort by combining class.
  auto ccc = [](char32_t cp) { return u_getCombiningClass(static_cast<UChar32>(cp)); };
  for (std::size_t i = 1; i < out.size(); ++i) {
    auto c = ccc(out[i]);
    if (c == 0) continue;
    for (std::size_t j = i; j > 0; --j) {
      auto prev = ccc(out[j - 1]);
      if (prev == 0 || prev <= c) break;
      std::swap(out[j - 1], out[j]);
    }
  }
  return out;
}

void append_lowercase(char32_t cp, std::u32string& out) {
  // U+0130 is the only code point whose unconditional full lower-case mapping (SpecialCasing.txt)
  // differs from its simple mapping: "i" + COMBINING DOT ABOVE, as Rust's char::to_lowercase.
  if (cp == 0x130) {
    out += U'i';
    out += char32_t{0x307};
    return;
  }
  out += static_cast<char32_t>(u_tolower(static_cast<UChar32>(cp)));
}

}  // namespace pkd::text
