#pragma once
// Greedy longest-match-first WordPiece (HuggingFace `WordPiece` model semantics): a word is split
// into the longest vocabulary prefix, then the longest "##"-prefixed continuations; if any part
// cannot be matched, or the word has more than `max_input_chars_per_word` code points, the whole
// word becomes [UNK].
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/vocab.h"

namespace pkd::text {

// Open-addressing hash table from token bytes to id, tuned for the short keys of a WordPiece
// vocabulary (lookups are the tokenizer's inner loop).
class TokenTable {
 public:
  void insert(std::string_view key, std::int32_t id);
  std::int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    std::uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.length == key.size() &&
          std::string_view(pool_.data() + s.offset, s.length) == key)
        return s.id;
    }
  }
  std::size_t max_key_bytes() const { return max_key_bytes_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    std::int32_t id = -1;
  };
  static std::uint64_t hash(std::string_view key) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h ^ (h >> 29);
  }
  void grow();

  std::vector<Slot> slots_;
  std::string pool_;
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
  std::size_t max_key_bytes_ = 0;
};

class WordPiece {
 public:
  static constexpr std::string_view kContinuationPrefix = "##";

  WordPiece(const Vocab& vocab, int max_input_chars_per_word);

  // Appends the ids of one pre-tokenized word (valid UTF-8, no whitespace).
  void encode_word(std::string_view word, std::vector<std::int32_t>& ids) const;

 private:
  TokenTable initial_;       // tokens that may start a word
  TokenTable continuation_;  // "##x" tokens, stored as "x"
  std::int32_t unk_id_;
  std::size_t max_input_chars_per_word_;
};

}  // namespace pkd::text
