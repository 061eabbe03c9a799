#pragma once
// `pkd finetune`: trains BertForSequenceClassification on a task's token shards, data-parallel
// over the ranks of the job, from a HuggingFace checkpoint or from random initialisation; the
// teacher job, and the "fine-tuned k-layer student" baseline. Writes OUTPUT_DIR/model/ (the best
// evaluation by the dev metric, HF format), checkpoints/, eval_results.json, metrics.jsonl and
// finetune.toml.
#include "model/runtime.h"
#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"
#include "train/finetune_config.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace pkd::train {

// Exits with kExitPreempted when result.preempted (the caller's job).
TrainResult run_finetune(const FinetuneConfig& config, const OptimizerConfig& optimizer,
                         const model::RuntimeConfig& runtime, const parallel::ReduceConfig& reduce,
                         mpi::Comm& comm);

}  // namespace pkd::train
