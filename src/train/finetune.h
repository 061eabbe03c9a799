#pragma once
// `pkd finetune`: trains BertForSequenceClassification on a task's token shards, data-parallel
// over the ranks of the job, from a HuggingFace checkpoint or from random initialisation; the
// teacher job, and the "fine-tuned k-layer student" baseline. Writes OUTPUT_DIR/model/ (the best
// epoch by the dev metric, HF format), checkpoints/, eval_results.json, metrics.jsonl and
// finetune.toml.
#include <cstdint>
#include <string>

#include "dist/comm.h"
#include "model/runtime.h"
#include "parallel/gradient_reducer.h"
#include "shards/token_shard.h"
#include "train/loop_config.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace pkd::train {

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

struct FinetuneConfig {
  std::string init;              // HuggingFace model directory, or "random"
  std::int64_t init_layers = 0;  // 0: all of init's layers; k: its embeddings + first k layers
  LoopConfig loop;               // train, dev, output_dir, epochs, batch_size, ... (same table)
  RandomInitConfig random_init;

  template <class V>
  void visit(V& v) {
    v.field("init", init, "HuggingFace model directory to start from, or \"random\"");
    v.field("init_layers", init_layers,
            "0 = all layers of init; k = its embeddings and first k layers (a k-layer student)");
    loop.visit(v);
    v.table("random_init", random_init, "Architecture for init = \"random\"");
  }
  void validate() const;
};

// Exits with kExitPreempted when result.preempted (the caller's job).
TrainResult run_finetune(const FinetuneConfig& config, const OptimizerConfig& optimizer,
                         const model::RuntimeConfig& runtime, const parallel::ReduceConfig& reduce,
                         dist::Comm& comm);

// The model a run starts from: a checkpoint (its classifier drawn anew when it does not fit the
// task), cut to its embeddings and first `layers` layers when `layers` > 0 (PKD's student
// initialisation); or, for init = "random", the `random_init` architecture. `dropout` >= 0
// replaces the hidden and attention dropout of the config.
model::BertForSequenceClassification build_classifier(const std::string& init, std::int64_t layers,
                                                      double dropout,
                                                      const RandomInitConfig& random_init,
                                                      const shards::TokenShardHeader& tokens,
                                                      const std::string& table);

}  // namespace pkd::train
