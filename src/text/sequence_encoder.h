#pragma once
// BERT's input layout for one example: [CLS] A [SEP] or [CLS] A [SEP] B [SEP], token types 0 for
// [CLS] A [SEP] and 1 for B [SEP], truncated to max_seq_length by BERT's _truncate_seq_pair.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "text/bert_tokenizer.h"

namespace pkd::text {

struct EncodedExample {
  std::vector<std::int32_t> input_ids;
  std::vector<std::int8_t> token_type_ids;
  bool truncated = false;
};

// The truncation rule, stored in shard attributes so a reader knows how sequences were cut.
inline constexpr const char* kTruncationRule =
    "bert_truncate_seq_pair: pop the last token of the longer of A and B (B on ties) until "
    "len(A)+len(B) <= max_seq_length-3; single sequences keep their first max_seq_length-2 tokens";

class SequenceEncoder {
 public:
  // max_seq_length counts [CLS] and [SEP]; must be >= 3 for pairs and >= 2 for singles.
  SequenceEncoder(const BertTokenizer& tokenizer, int max_seq_length);

  // An absent text_b gives the single-sentence layout; an empty one gives [CLS] A [SEP] [SEP]
  // exactly as HuggingFace encodes an empty second text.
  void encode(std::string_view text_a, std::optional<std::string_view> text_b,
              EncodedExample& out) const;

  int max_seq_length() const { return max_seq_length_; }

 private:
  const BertTokenizer& tokenizer_;
  int max_seq_length_;
};

}  // namespace pkd::text
