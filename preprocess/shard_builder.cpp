#include "preprocess/shard_builder.h"

#include "core/error.h"

namespace pkd::preprocess {

void build_token_shard(const glue::SplitData& data, std::int64_t first, std::int64_t count,
                       const text::SequenceEncoder& encoder, shards::TokenShard& shard) {
  auto& h = shard.header;
  h.first_example = first;
  h.num_examples = count;
  h.num_truncated = 0;
  h.length_histogram.assign(static_cast<std::size_t>(encoder.max_seq_length()) + 1, 0);
  shard.offsets.assign(1, 0);
  shard.input_ids.clear();
  shard.token_type_ids.clear();
  shard.labels.clear();
  shard.scores.clear();
  shard.example_ids.clear();
  text::EncodedExample encoded;
  for (std::int64_t k = first; k < first + count; ++k) {
    const glue::Example& ex = data.examples[static_cast<std::size_t>(k)];
    try {
      encoder.encode(ex.text_a, ex.text_b, encoded);
    } catch (const Error& e) {
      fail("'", data.file->path(), "' line ", ex.line, ": ", e.what());
    }
    shard.input_ids.insert(shard.input_ids.end(), encoded.input_ids.begin(),
                           encoded.input_ids.end());
    shard.token_type_ids.insert(shard.token_type_ids.end(), encoded.token_type_ids.begin(),
                                encoded.token_type_ids.end());
    shard.offsets.push_back(static_cast<std::int64_t>(shard.input_ids.size()));
    shard.labels.push_back(ex.label);
    shard.scores.push_back(ex.score);
    shard.example_ids.push_back(ex.row);
    h.num_truncated += encoded.truncated ? 1 : 0;
    ++h.length_histogram[encoded.input_ids.size()];
  }
  h.num_tokens = static_cast<std::int64_t>(shard.input_ids.size());
}

}  // namespace pkd::preprocess
