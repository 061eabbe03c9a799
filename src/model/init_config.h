#pragma once
// Where a model's weights come from, torch-free: the architecture of a model trained from
// scratch. Read by `pkd finetune` ([finetune.random_init]) and, through the same struct, by
// `pkd report`.
#include <cstdint>

namespace pkd::model {

// The architecture of a model trained from scratch (init = "random").
struct RandomInitConfig {
  std::int64_t hidden_size = 128;
  std::int64_t num_hidden_layers = 2;
  std::int64_t num_attention_heads = 2;
  std::int64_t intermediate_size = 512;
  std::int64_t max_position_embeddings = 512;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;

  template <class V>
  void visit(V& v) {
    v.field("hidden_size", hidden_size, "hidden size of a randomly initialised model");
    v.field("num_hidden_layers", num_hidden_layers, "its number of layers");
    v.field("num_attention_heads", num_attention_heads, "its attention heads");
    v.field("intermediate_size", intermediate_size, "its feed-forward size");
    v.field("max_position_embeddings", max_position_embeddings, "its positions");
    v.field("hidden_dropout_prob", hidden_dropout_prob, "its dropout");
    v.field("attention_probs_dropout_prob", attention_probs_dropout_prob, "its attention dropout");
  }
};

}  // namespace pkd::model
