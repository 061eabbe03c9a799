#pragma once
// BERT's tokenizer with HuggingFace `tokenizers` semantics (BertNormalizer, BertPreTokenizer,
// WordPiece, special tokens that are never split). Thread-safe: encode() may be called
// concurrently on one instance.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/vocab.h"
#include "text/wordpiece.h"

namespace pkd::text {

struct BertTokenizerOptions {
  bool lowercase = true;               // do_lower_case: true for *-uncased models
  std::optional<bool> strip_accents;   // NFD + drop Mn; unset = follow `lowercase` (as HF)
  bool clean_text = true;              // drop NUL, U+FFFD and controls; whitespace -> space
  bool handle_chinese_chars = true;    // put spaces around CJK ideographs
  int max_input_chars_per_word = 100;  // longer words become [UNK]

  bool strips_accents() const { return strip_accents.value_or(lowercase); }
};

class BertTokenizer {
 public:
  BertTokenizer(Vocab vocab, BertTokenizerOptions options);

  // Appends the ids of `text` without [CLS]/[SEP]. Throws Error when `text` is not valid UTF-8
  // (the message gives the byte offset; callers add file and line).
  void encode(std::string_view text, std::vector<std::int32_t>& ids) const;
  // The WordPiece strings of `text`, for `pkd inspect` and debugging.
  std::vector<std::string> tokenize(std::string_view text) const;

  const Vocab& vocab() const { return vocab_; }
  const BertTokenizerOptions& options() const { return options_; }

 private:
  // Byte classes of ASCII after normalization, precomputed from the Unicode path.
  enum AsciiClass : std::uint8_t { kDrop, kSpace, kPunct, kWord };

  void encode_segment(std::string_view segment, std::vector<std::int32_t>& ids) const;
  void encode_ascii(std::string_view segment, std::vector<std::int32_t>& ids) const;
  void encode_unicode(std::string_view segment, std::vector<std::int32_t>& ids) const;
  void emit_punctuation(char32_t cp, std::vector<std::int32_t>& ids) const;

  Vocab vocab_;
  BertTokenizerOptions options_;
  WordPiece wordpiece_;
  std::vector<std::string> special_tokens_;  // never split, matched on the raw text
  std::array<AsciiClass, 128> ascii_class_{};
  std::array<char, 128> ascii_lower_{};
  std::array<std::int32_t, 128> ascii_punct_id_{};
};

}  // namespace pkd::text
