#pragma once
// `pkd finetune`: trains BertForSequenceClassification on a task's token shards, data-parallel
// over the ranks of the job, from a HuggingFace checkpoint or from random initialisation; the
// teacher job, and the "fine-tuned k-layer student" baseline. Writes OUTPUT_DIR/model/ (the best
// epoch by the dev metric, HF format), checkpoints/, eval_results.json, metrics.jsonl and
// finetune.toml.
#include <cstdint>
#include <string>

#include "mpi/comm.h"
#include "model/runtime.h"
#include "parallel/gradient_reducer.h"
#include "shards/token_shard.h"
#include "train/finetune_config.h"
#include "train/loop_config.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace pkd::train {


// Exits with kExitPreempted when result.preempted (the caller's job).
TrainResult run_finetune(const FinetuneConfig& config, const OptimizerConfig& optimizer,
                         const model::RuntimeConfig& runtime, const parallel::ReduceConfig& reduce,
                         mpi::Comm& comm);

// The model a run starts from: a checkpoint (its classifier drawn anew when it does not fit the
// task), cut to its embeddings and first `layers` layers when `layers` > 0 (PKD's student
// initialisation); or, for init = "random", the `random_init` architecture. `dropout` >= 0
// replaces the hidden and attention dropout of the config.
model::BertForSequenceClassification build_classifier(const std::string& init, std::int64_t layers,
                                                      double dropout,
                                                      const model::RandomInitConfig& random_init,
                                                      const shards::TokenShardHeader& tokens,
                                                      const std::string& table);

}  // namespace pkd::train
