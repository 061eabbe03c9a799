#include "text/sequence_encoder.h"

#include "core/error.h"

namespace pkd::text {

SequenceEncoder::SequenceEncoder(const BertTokenizer& tokenizer, int max_seq_length)
    : tokenizer_(tokenizer), max_seq_length_(max_seq_length) {
  if (max_seq_length < 3)
    usage_fail("max_seq_length must be at least 3 ([CLS] A [SEP] B [SEP] needs room), got ",
               max_seq_length);
}

void SequenceEncoder::encode(std::string_view text_a, std::optional<std::string_view> text_b,
                             EncodedExample& out) const {
  thread_local std::vector<std::int32_t> a, b;
  a.clear();
  b.clear();
  tokenizer_.encode(text_a, a);
  const std::size_t max_len = static_cast<std::size_t>(max_seq_length_);
  out.truncated = false;
  if (text_b) {
    tokenizer_.encode(*text_b, b);
    while (a.size() + b.size() > max_len - 3) {
      (a.size() > b.size() ? a : b).pop_back();
      out.truncated = true;
    }
  } else if (a.size() > max_len - 2) {
    a.resize(max_len - 2);
    out.truncated = true;
  }
  const std::int32_t cls = tokenizer_.vocab().cls_id(), sep = tokenizer_.vocab().sep_id();
  out.input_ids.clear();
  out.input_ids.reserve(a.size() + b.size() + 3);
  out.input_ids.push_back(cls);
  out.input_ids.insert(out.input_ids.end(), a.begin(), a.end());
  out.input_ids.push_back(sep);
  out.token_type_ids.assign(out.input_ids.size(), 0);
  if (text_b) {
    out.input_ids.insert(out.input_ids.end(), b.begin(), b.end());
    out.input_ids.push_back(sep);
    out.token_type_ids.resize(out.input_ids.size(), 1);
  }
}

}  // namespace pkd::text
