#pragma once
// The trainer core shared by fine-tuning and distillation. A training command reads as:
//
//   TrainingSession session(loop, optimizer, runtime, reduce, comm);  // validate, runtime, seed,
//                                                                     // index the train split
//   auto model = model::build_classifier(init, session.task(), "finetune");
//   TaskObjective objective(session.index().header.regression);       // or distill's PkdObjective
//   return session.train(model, objective, {"finetune", table_toml, default_table_toml, init});
//
// train() checks the model against every split, moves it to the device and runs the loop:
// streams the training split window by window in the distributed sampler's order, splits every
// global batch into micro-batches (gradient accumulation) and ranks, sums gradients of losses
// divided by the global batch size over ranks (exact for uneven shares), clips, steps a fused
// AdamW on the configured schedule (float16: dynamic loss scaling), runs every forward under the
// runtime's autocast, logs progress, evaluates the dev split every eval_every steps and after
// every epoch, exports the best evaluation (HF format), and checkpoints / resumes / stops on
// preemption with every rank agreeing.
#include <cmath>
#include <cstdint>
#include <string>

#include "data/stream.h"
#include "model/init.h"
#include "model/runtime.h"
#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"
#include "train/loop_config.h"
#include "train/objective.h"
#include "train/optimizer.h"

namespace pkd::train {

// What names a run's outputs and what it saves: `pkd <command>` and its config table, as TOML.
struct RunTable {
  std::string command;       // "finetune", "distill": names files, logs and the table
  std::string table_toml;    // the command's table as run (config::to_toml)
  std::string default_toml;  // the same table with every default: keys a checkpoint lacks
  std::string model_name;    // where the model came from, for messages
};

struct TrainResult {
  std::int64_t steps = 0;
  double best_metric = NAN;  // primary dev metric of the exported model (NaN without dev)
  std::string metric_name;
  bool preempted = false;  // stopped early on a signal or stop_after_steps; checkpoint saved
};

class TrainingSession {
 public:
  // Validates the shared tables, sets up the runtime (threads, device), seeds LibTorch's
  // generator with loop.seed (every rank builds the same initial model) and indexes loop.train.
  TrainingSession(const LoopConfig& loop, const OptimizerConfig& optimizer,
                  const model::RuntimeConfig& runtime, const parallel::ReduceConfig& reduce,
                  mpi::Comm& comm);

  const data::SplitIndex& index() const { return index_; }
  const model::Runtime& runtime() const { return runtime_; }
  model::TaskHead task() const;  // from the training split's header

  // Trains `model` (built identically on every rank, on the CPU) with `objective`.
  TrainResult train(model::BertForSequenceClassification& model, Objective& objective,
                    const RunTable& run);

 private:
  const LoopConfig& loop_;
  const OptimizerConfig& optimizer_;
  const model::RuntimeConfig& runtime_config_;
  const parallel::ReduceConfig& reduce_;
  mpi::Comm& comm_;
  model::Runtime runtime_;
  data::SplitIndex index_;
};

}  // namespace pkd::train
