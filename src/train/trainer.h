#pragma once
// The trainer core shared by fine-tuning and distillation: data-parallel over the ranks of the
// job. Streams the training split window by window in the distributed sampler's order, splits
// every global batch into micro-batches (gradient accumulation) and ranks, sums gradients of
// losses divided by the global batch size over ranks (exact for uneven shares), clips, steps a
// fused AdamW on a linear schedule (float16: dynamic loss scaling), runs every forward under the
// runtime's autocast, logs progress, evaluates the dev split after every epoch,
// exports the best epoch (HF format), and checkpoints / resumes / stops on preemption with every
// rank agreeing.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/stream.h"
#include "mpi/comm.h"
#include "model/bert.h"
#include "model/runtime.h"
#include "parallel/gradient_reducer.h"
#include "train/loop_config.h"
#include "train/optimizer.h"

namespace pkd::train {

// What a loss function returns for one micro-batch on one rank.
struct LossSums {
  torch::Tensor total;               // the loss summed over the batch's examples (with its graph)
  std::vector<torch::Tensor> parts;  // named components, summed over the examples (detached)
};
// Computes the loss sums of `batch` (already on the runtime's device) for `model` in train mode.
// The trainer calls it inside the runtime's autocast scope (runtime.precision): a loss function
// decides no precision of its own.
using LossFunction =
    std::function<LossSums(model::BertForSequenceClassification& model, const data::Batch& batch)>;

struct TrainerSetup {
  std::string command;                  // "finetune", "distill": names files and logs
  std::vector<std::string> part_names;  // names of LossSums::parts, e.g. {"ce", "kd", "pt"}
  data::FeatureRequest features;        // teacher features to attach to batches (dir "" = none)
  std::string effective_config;         // TOML saved with outputs and checkpoints
  std::string vocab_path;               // copied into the exported model ("" = none)
};

// A setup with what every training command fills alike: the effective config (the command's
// table, given as TOML, then [optimizer], [runtime] and [parallel]) and the vocab.txt beside the
// token split (copied into exported models when present).
TrainerSetup make_setup(const std::string& command, const std::string& command_table_toml,
                        const OptimizerConfig& optimizer, const model::RuntimeConfig& runtime,
                        const parallel::ReduceConfig& reduce, const std::string& train_split);

struct TrainResult {
  std::int64_t steps = 0;
  double best_metric = NAN;  // primary dev metric of the exported model (NaN without dev)
  std::string metric_name;
  bool preempted = false;  // stopped early on a signal or stop_after_steps; checkpoint saved
};

// Trains `model` (already initialised identically on every rank, on the runtime's device).
TrainResult run_training(const LoopConfig& loop, const OptimizerConfig& optimizer,
                         const model::Runtime& runtime, parallel::GradientReducer& reducer,
                         mpi::Comm& comm, model::BertForSequenceClassification& model,
                         const data::SplitIndex& train_index, const LossFunction& loss,
                         const TrainerSetup& setup);

// Checks before any work that the dev, test and extra splits match the training split (task,
// labels, vocabulary) and fit the model.
void check_eval_splits(const LoopConfig& loop, const data::SplitIndex& train,
                       const model::BertConfig& model, const std::string& model_name);

// The effective config with the keys that only control a run (resume, stop_after_steps,
// log_every) removed: what a checkpoint must match to be resumed.
std::string training_identity(const std::string& effective_config);

}  // namespace pkd::train
