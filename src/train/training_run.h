#pragma once
// Private to the trainer core (trainer.cpp, trainer_resume.cpp, trainer_epoch.cpp,
// trainer_setup.cpp): the state of one run_training call and its phases. trainer.cpp: the epoch
// loop (each optimizer step is StepRunner's, step.h); trainer_resume.cpp: resume;
// trainer_epoch.cpp: evaluations (every eval_every steps and at epoch ends:
// the history line, the dev metric, the best export) and, after the last epoch, the test and extra
// splits with the best weights.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "data/sampler.h"
#include "train/checkpoint.h"
#include "train/step.h"
#include "train/step_batches.h"
#include "train/trainer.h"

namespace pkd::train {

// What the trainer saves beside its outputs and checkpoints.
struct TrainerSetup {
  std::string command;
  std::string effective_config;  // TOML: the command's table, [optimizer], [runtime], [parallel]
  std::string default_config;    // the same tables at their defaults
  std::string vocab_path;        // copied into the exported model ("" = none)
  std::map<std::string, std::string> inputs;  // content digests of what the run reads (TrainState)
};

// The trainer loop itself, for a model already on the runtime's device (TrainingSession::train).
TrainResult run_training(const LoopConfig& loop, const OptimizerConfig& optimizer,
                         const model::Runtime& runtime, parallel::GradientReducer& reducer,
                         mpi::Comm& comm, model::BertForSequenceClassification& model,
                         const data::SplitIndex& train_index, Objective& objective,
                         const TrainerSetup& setup);

// Checks before any work that the dev, test and extra splits match the training split (task,
// labels, vocabulary) and fit the model.
void check_eval_splits(const LoopConfig& loop, const data::SplitIndex& train,
                       const model::BertConfig& model, const std::string& model_name);

// The keys of a command's table that control a run but not its results (resume,
// stop_after_steps, log_every, checkpoint_every, keep_checkpoints): a checkpoint written with
// other values of these is resumed.
std::set<std::string> run_control_keys(const std::string& command);

// Loss sums (total, then the parts) and examples, accumulated over steps. The sums stay on the
// training device, in float64, so that a GPU step needs no host synchronisation: they are read
// (one copy) only for a progress line, an evaluation or a checkpoint.
struct LossTotals {
  torch::Tensor sums;  // float64 [parts + 1] on the device
  std::int64_t examples = 0;
  void add(const torch::Tensor& step_sums, std::int64_t n);  // step_sums: float64, same device
  void reset();
  std::vector<double> host_sums() const;
  std::vector<double> means() const;  // per example
};

double seconds_since(std::chrono::steady_clock::time_point t);

class TrainingRun {
 public:
  TrainingRun(const LoopConfig& loop, const OptimizerConfig& optimizer,
              const model::Runtime& runtime, parallel::GradientReducer& reducer, mpi::Comm& comm,
              model::BertForSequenceClassification& model, const data::SplitIndex& index,
              Objective& objective, const TrainerSetup& setup);
  TrainResult run();

 private:
  // trainer_resume.cpp
  void write_config_and_resume();
  std::string resume_problem(const Checkpoint& c) const;    // "" when `c` may be resumed
  std::string position_problem(const TrainState& s) const;  // "" when inside this run
  // The objective's trained parameters by name (empty without Objective::trainable).
  model::StateDict objective_state() const;
  // trainer.cpp
  bool train_epoch(std::int64_t epoch);  // false: stopped (preemption), checkpoint saved
  StepLoss optimizer_step(std::int64_t epoch, std::int64_t step_in_epoch, double lr,
                          StepProfile& profile);
  double learning_rate() const;  // of the next optimizer step
  void log_progress(std::int64_t epoch, double lr);
  void save(std::int64_t epoch, std::int64_t step_in_epoch);
  TrainResult stopped();
  // trainer_epoch.cpp
  // Fails, on every rank, when a mean training loss is not finite (see trainer_epoch.cpp).
  void stop_if_diverged(double mean_loss, const std::string& over);
  void evaluate_step(std::int64_t epoch);
  void end_epoch(std::int64_t epoch, const LossTotals& totals, double seconds,
                 const StepProfile& profile, std::int64_t profiled_steps);
  // Evaluates the dev split into `line`, appends `line` to metrics.jsonl and exports the model
  // when it is the best so far (every rank agrees).
  void evaluate_and_record(nlohmann::json& line, const std::string& when);
  void finish_with_best();

  const LoopConfig& loop_;
  const OptimizerConfig& oc_;
  const model::Runtime& runtime_;
  mpi::Comm& comm_;
  model::BertForSequenceClassification& m_;
  Objective& objective_;
  const TrainerSetup& setup_;

  std::vector<std::string> part_names_;
  StepRunner runner_;
  TrainState state_;
  data::DistributedBatchSampler sampler_;
  StepBatches batches_;  // after sampler_, which it copies
  Schedule schedule_;
  std::int64_t total_ = 0, warmup_ = 0;  // optimizer steps of the run, of its warmup
  TrainResult result_;
  bool needs_best_;        // test or extra splits run with the best weights after training
  model::StateDict best_;  // those weights (empty: read back from OUTPUT_DIR/model)
  std::int64_t step_ = 0;  // optimizer steps done
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::int64_t start_step_ = 0;
  LossTotals interval_;    // since the last progress line
  LossTotals since_eval_;  // since the last step evaluation (eval_every > 0)
};

}  // namespace pkd::train
