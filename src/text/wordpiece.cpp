#include "text/wordpiece.h"

#include <algorithm>

#include "core/error.h"
#include "text/utf8.h"

namespace pkd::text {

void TokenTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    std::size_t i = s.hash & mask_;
    while (slots_[i].id >= 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void TokenTable::insert(std::string_view key, std::int32_t id) {
  if ((count_ + 1) * 2 > slots_.size()) grow();  // load factor <= 0.5
  std::uint64_t h = hash(key);
  std::size_t i = h & mask_;
  for (; slots_[i].id >= 0; i = (i + 1) & mask_) {
    if (slots_[i].hash == h && slots_[i].length == key.size() &&
        std::string_view(pool_.data() + slots_[i].offset, slots_[i].length) == key)
      return;  // first occurrence wins; Vocab rejects duplicates anyway
  }
  slots_[i] =
      Slot{h, static_cast<std::uint32_t>(pool_.size()), static_cast<std::uint32_t>(key.size()), id};
  pool_.append(key);
  ++count_;
  max_key_bytes_ = std::max(max_key_bytes_, key.size());
}

WordPiece::WordPiece(const Vocab& vocab, int max_input_chars_per_word)
    : unk_id_(vocab.unk_id()),
      max_input_chars_per_word_(static_cast<std::size_t>(max_input_chars_per_word)) {
  if (max_input_chars_per_word <= 0)
    fail("max_input_chars_per_word must be positive, got ", max_input_chars_per_word);
  for (std::int32_t id = 0; id < vocab.size(); ++id) {
    std::string_view t = vocab.token(id);
    if (t.size() > kContinuationPrefix.size() && starts_with(t, kContinuationPrefix))
      continuation_.insert(t.substr(kContinuationPrefix.size()), id);
    else
      initial_.insert(t, id);
  }
}

void WordPiece::encode_word(std::string_view word, std::vector<std::int32_t>& ids) const {
  if (word.empty()) return;
  // Byte length bounds the code point count from above: only count when it could matter.
  if (word.size() > max_input_chars_per_word_ &&
      count_code_points(word) > max_input_chars_per_word_) {
    ids.push_back(unk_id_);
    return;
  }
  const std::size_t first = ids.size();
  std::size_t start = 0;
  while (start < word.size()) {
    const TokenTable& table = start == 0 ? initial_ : continuation_;
    std::size_t end = std::min(word.size(), start + table.max_key_bytes());
    // Never cut a code point: step back to a UTF-8 lead byte.
    while (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
    std::int32_t id = -1;
    while (end > start) {
      id = table.find(word.substr(start, end - start));
      if (id >= 0) break;
      do {
        --end;
      } while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
    }
    if (id < 0) {
      ids.resize(first);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(id);
    start = end;
  }
}

}  // namespace pkd::text
