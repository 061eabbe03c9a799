#include "text/bert_tokenizer.h"

#include "core/error.h"
#include "text/unicode.h"
#include "text/utf8.h"

namespace pkd::text {

BertTokenizer::BertTokenizer(Vocab vocab, BertTokenizerOptions options)
    : vocab_(std::move(vocab)),
      options_(options),
      wordpiece_(vocab_, options.max_input_chars_per_word) {
  // HuggingFace's bert tokenizer.json registers these as special added tokens with
  // normalized=false: they are split out of the raw text wherever they occur.
  for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    if (vocab_.find(t) >= 0) special_tokens_.emplace_back(t);

  for (char32_t c = 0; c < 128; ++c) {
    AsciiClass cls = kWord;
    if (options_.clean_text && is_removed_control(c))
      cls = kDrop;
    else if (is_white_space(c))
      cls = kSpace;
    else if (is_bert_punctuation(c))
      cls = kPunct;
    ascii_class_[c] = cls;
    ascii_lower_[c] = static_cast<char>(options_.lowercase && c >= 'A' && c <= 'Z' ? c + 32 : c);
    ascii_punct_id_[c] = -1;
    if (cls == kPunct) {
      std::vector<std::int32_t> ids;
      wordpiece_.encode_word(std::string(1, static_cast<char>(c)), ids);
      ascii_punct_id_[c] = ids.at(0);
    }
  }
}

void BertTokenizer::encode(std::string_view text, std::vector<std::int32_t>& ids) const {
  std::size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    fail("invalid UTF-8 at byte ", bad + 1, " of the text (byte value 0x", std::hex,
         static_cast<unsigned>(static_cast<unsigned char>(text[bad])), ")");
  // Split out special tokens (leftmost, longest first) and encode the text between them.
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t best = std::string_view::npos;
    const std::string* best_token = nullptr;
    for (const auto& t : special_tokens_) {
      std::size_t at = text.find(t, start);
      if (at < best || (at == best && best_token && t.size() > best_token->size())) {
        best = at;
        best_token = &t;
      }
    }
    if (best_token == nullptr) break;
    encode_segment(text.substr(start, best - start), ids);
    ids.push_back(vocab_.find(*best_token));
    start = best + best_token->size();
  }
  encode_segment(text.substr(start), ids);
}

void BertTokenizer::encode_segment(std::string_view segment, std::vector<std::int32_t>& ids) const {
  for (char c : segment)
    if (static_cast<unsigned char>(c) >= 0x80) return encode_unicode(segment, ids);
  encode_ascii(segment, ids);
}

void BertTokenizer::encode_ascii(std::string_view segment, std::vector<std::int32_t>& ids) const {
  thread_local std::string word;
  word.clear();
  for (char c : segment) {
    auto u = static_cast<unsigned char>(c);
    switch (ascii_class_[u]) {
      case kWord:
        word += ascii_lower_[u];
        break;
      case kSpace:
        wordpiece_.encode_word(word, ids);
        word.clear();
        break;
      case kPunct:
        wordpiece_.encode_word(word, ids);
        word.clear();
        ids.push_back(ascii_punct_id_[u]);
        break;
      case kDrop:
        break;
    }
  }
  wordpiece_.encode_word(word, ids);
}

void BertTokenizer::emit_punctuation(char32_t cp, std::vector<std::int32_t>& ids) const {
  std::string piece;
  append_utf8(cp, piece);
  wordpiece_.encode_word(piece, ids);
}

void BertTokenizer::encode_unicode(std::string_view segment, std::vector<std::int32_t>& ids) const {
  // 1. clean_text and CJK spacing, code point by code point.
  std::u32string text;
  text.reserve(segment.size());
  for (std::size_t pos = 0; pos < segment.size();) {
    char32_t cp = decode_utf8(segment, pos);
    if (options_.clean_text) {
      if (is_removed_control(cp)) continue;
      if (is_white_space(cp)) cp = U' ';
    }
    if (options_.handle_chinese_chars && is_cjk_ideograph(cp)) {
      text += U' ';
      text += cp;
      text += U' ';
    } else {
      text += cp;
    }
  }
  // 2. Accent stripping (NFD, drop Mn), then 3. lower-casing, in HuggingFace's order.
  if (options_.strips_accents()) {
    std::u32string stripped;
    stripped.reserve(text.size());
    for (char32_t cp : nfd(text))
      if (!is_nonspacing_mark(cp)) stripped += cp;
    text.swap(stripped);
  }
  if (options_.lowercase) {
    std::u32string lowered;
    lowered.reserve(text.size());
    for (char32_t cp : text) append_lowercase(cp, lowered);
    text.swap(lowered);
  }
  // 4. Pre-tokenize: split on White_Space, isolate punctuation; WordPiece each word.
  std::string word;
  for (char32_t cp : text) {
    if (is_white_space(cp)) {
      wordpiece_.encode_word(word, ids);
      word.clear();
    } else if (is_bert_punctuation(cp)) {
      wordpiece_.encode_word(word, ids);
      word.clear();
      emit_punctuation(cp, ids);
    } else {
      append_utf8(cp, word);
    }
  }
  wordpiece_.encode_word(word, ids);
}

std::vector<std::string> BertTokenizer::tokenize(std::string_view text) const {
  std::vector<std::int32_t> ids;
  encode(text, ids);
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (std::int32_t id : ids) pieces.push_back(vocab_.token(id));
  return pieces;
}

}  // namespace pkd::text
