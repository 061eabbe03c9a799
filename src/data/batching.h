#pragma once
// Batches of token-shard examples as LibTorch tensors with dynamic padding: each batch is padded
// to its own longest example, not to max_seq_length.
#include <torch/types.h>

#include <array>
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
  std::vector<std::int64_t> rows;  // the examples' positions in the shard (or split)
  // Distillation only (undefined otherwise): the cached teacher outputs of these examples.
  torch::Tensor teacher_logits;  // [B, C] float32
  torch::Tensor teacher_cls;     // [layers, B, H] float32, the requested [CLS] rows
  // Token-level (when requested): [layers, B, T, H] hidden states and [layers, B, heads, T, T]
  // attention probabilities, float32, zeros at padded positions.
  torch::Tensor teacher_hidden;
  torch::Tensor teacher_attention;

  // Every tensor field above, in that order (undefined ones included): device moves, pinning and
  // padding go through this one list.
  static constexpr std::size_t kTensors = 8;
  std::array<torch::Tensor*, kTensors> tensors() {
    return {&input_ids,      &token_type_ids, &attention_mask, &labels,
            &teacher_logits, &teacher_cls,    &teacher_hidden, &teacher_attention};
  }
  std::array<const torch::Tensor*, kTensors> tensors() const {
    return {&input_ids,      &token_type_ids, &attention_mask, &labels,
            &teacher_logits, &teacher_cls,    &teacher_hidden, &teacher_attention};
  }
};

// Inference order: the shard's examples sorted by length (stable), cut into batches of at most
// `batch_size`, so each batch holds examples of similar length and padding is minimal.
std::vector<std::vector<std::int64_t>> length_sorted_batches(const shards::TokenShard& shard,
                                                             std::int64_t batch_size);

// The padded tensors of examples `rows` of `shard` (pad id 0).
Batch collate(const shards::TokenShard& shard, const std::vector<std::int64_t>& rows);

// Example `row` of `shard`: batches of a streaming window draw from several shards.
struct ExampleRef {
  const shards::TokenShard* shard;
  std::int64_t row;
};
// The padded tensors of `examples` (of one task); batch.rows is left empty.
Batch collate(const std::vector<ExampleRef>& examples);

// Zeroed tensors shaped like `b`'s but `length` tokens long (>= b's), on `device`: the fixed
// inputs of a step replayed as a CUDA graph (train/step_graphs.h).
Batch padded_like(const Batch& b, std::int64_t length, torch::Device device);
// Copies `from` into the first positions of `into` (same batch size, at least as long: made by
// padded_like) and zeros the rest, on `into`'s device; non-blocking from page-locked memory.
// Padding is masked, so the losses and gradients are those of `from` up to float rounding.
void copy_padded(const Batch& from, Batch& into);

}  // namespace pkd::data
