#pragma once
// `pkd finetune`: trains BertForSequenceClassification on a task's token shards, data-parallel
// over the ranks of the job, from a HuggingFace checkpoint or from random initialisation; the
// teacher job, and the "fine-tuned k-layer student" baseline. Writes OUTPUT_DIR/model/ (the best
// epoch by the dev metric, HF format), eval_results.json, metrics.jsonl and finetune.toml.
#include <cstdint>
#include <string>

#include "dist/comm.h"
#include "model/runtime.h"
#include "parallel/gradient_reducer.h"
#include "train/optimizer.h"

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
  std::string init;        // HuggingFace model directory, or "random"
  std::string train;       // token split directory to train on
  std::string dev;         // token split directory to evaluate each epoch ("" = none)
  std::string output_dir;  // OUTPUT_DIR/model, eval_results.json, metrics.jsonl
  std::int64_t epochs = 3;
  std::int64_t batch_size = 32;  // global: examples per optimizer step over all ranks
  std::int64_t max_steps = -1;   // stop after this many optimizer steps (-1: all epochs)
  std::int64_t seed = 42;
  std::int64_t bucket_batches = 50;  // length-bucketing window, in batches (1 = off)
  std::int64_t eval_batch_size = 64;
  std::int64_t log_every = 50;  // steps between progress lines
  RandomInitConfig random_init;

  template <class V>
  void visit(V& v) {
    v.field("init", init, "HuggingFace model directory to start from, or \"random\"");
    v.field("train", train, "token split directory to train on (e.g. tokens/SST-2/train)");
    v.field("dev", dev, "token split directory evaluated after each epoch (\"\" = none)");
    v.field("output_dir", output_dir, "where the model, eval_results.json and metrics.jsonl go");
    v.field("epochs", epochs, "passes over the training split");
    v.field("batch_size", batch_size, "global batch: examples per optimizer step over all ranks");
    v.field("max_steps", max_steps, "stop after this many optimizer steps (-1 = all epochs)");
    v.field("seed", seed, "seed of initialisation, shuffling and dropout");
    v.field("bucket_batches", bucket_batches, "length-bucketing window in batches (1 = off)");
    v.field("eval_batch_size", eval_batch_size, "examples per forward pass when evaluating");
    v.field("log_every", log_every, "optimizer steps between progress lines");
    v.table("random_init", random_init, "Architecture for init = \"random\"");
  }
  void validate() const;
};

struct FinetuneResult {
  std::int64_t steps = 0;
  double best_metric = 0;  // primary dev metric of the exported model (NaN without dev)
  std::string metric_name;
};

FinetuneResult run_finetune(const FinetuneConfig& config, const OptimizerConfig& optimizer,
                            const model::RuntimeConfig& runtime,
                            const parallel::ReduceConfig& reduce, dist::Comm& comm);

}  // namespace pkd::train
