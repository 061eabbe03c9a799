#pragma once
// Character classes of BERT's normalizer and pre-tokenizer with HuggingFace `tokenizers`
// semantics (BertNormalizer + BertPreTokenizer). Unicode data comes from ICU; the only
// hand-written ranges are BERT's own definition of "Chinese characters". docs/tokenizer.md lists
// where and why these differ from naive Unicode predicates; tests/unit/test_unicode_all.cpp checks
// every code point against HuggingFace's output.
#include <string>
#include <string_view>

namespace pkd::text {

// Removed by clean_text: category Cc, Cf, Co or Cs, except \t \n \r (which are whitespace).
// Unassigned code points (Cn) are kept, as HuggingFace does. NUL and U+FFFD are removed too.
bool is_removed_control(char32_t cp);

// The Unicode White_Space property (\t..\r, space, U+0085, Zs, U+2028, U+2029).
bool is_white_space(char32_t cp);

// ASCII punctuation (33-47, 58-64, 91-96, 123-126) or Unicode category P*.
bool is_bert_punctuation(char32_t cp);

// BERT's "Chinese character": the CJK Unified Ideographs blocks and their extensions.
bool is_cjk_ideograph(char32_t cp);

// Category Mn (removed by strip_accents after NFD).
bool is_nonspacing_mark(char32_t cp);

// Canonical decomposition (NFD, with canonical ordering) of a code point sequence.
std::u32string nfd(const std::u32string& text);

// Full lower-case mapping (Unicode SpecialCasing unconditional + simple mappings), appended.
void append_lowercase(char32_t cp, std::u32string& out);

}  // namespace pkd::text
