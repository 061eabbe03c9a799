#pragma once
// Batches of token-shard examples as LibTorch tensors with dynamic padding: each batch is padded
// to its own longest example, not to max_seq_length.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shards/token_shard.h"

namespace pkd::data {

struct Batch {
  torch::Tensor input_ids;         // [B, T] int64, T = the longest example of the batch
  torch::Tensor token_type_ids;    // [B, T] int64
  torch::Tensor attention_mask;    // [B, T] int64: 1 for tokens, 0 for padding
  torch::Tensor labels;            // [B] int64 class ids (-1 unlabeled) or float32 scores
  std::vector<std::int64_t> rows;  // the examples' positions in the shard
};

// Every shard of a token split (through its manifest) as one in-memory shard: GLUE's training
// splits fit in memory. The header is the first shard's, with the counts of the whole split.
shards::TokenShard load_split(const std::string& dir);

// Inference order: the shard's examples sorted by length (stable), cut into batches of at most
// `batch_size`, so each batch holds examples of similar length and padding is minimal.
std::vector<std::vector<std::int64_t>> length_sorted_batches(const shards::TokenShard& shard,
                                                             std::int64_t batch_size);

// The padded tensors of examples `rows` of `shard` (pad id 0).
Batch collate(const shards::TokenShard& shard, const std::vector<std::int64_t>& rows);

}  // namespace pkd::data
