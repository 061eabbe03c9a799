#pragma once
// Private to the trainer core (trainer.cpp, trainer_epoch.cpp): the state of one run_training call
// and its phases. trainer.cpp: resume, the epoch loop and one optimizer step; trainer_epoch.cpp:
// what happens at an epoch end (history line, dev evaluation, best-epoch export) and after the
// last one (test and extra splits with the best weights).
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "data/sampler.h"
#include "train/checkpoint.h"
#include "train/loss_scaler.h"
#include "train/trainer.h"

namespace pkd::train {

// Wall-clock seconds of the phases of the optimizer steps of an epoch, on this rank: where a
// step's time goes (metrics.jsonl "step_seconds", per step). On CUDA the phases are not
// synchronised, so kernels still running are counted in the phase that waits for them; with
// PKD_PROFILE_SYNC=1 in the environment every phase ends by waiting for the GPU (slower steps,
// but each phase's own GPU time).
struct StepProfile {
  // setup: reseeding dropout, train mode, zeroed loss sums; batch: sampling, the window's
  // shards, collating; copy: the batch to the device.
  enum Phase { kSetup, kBatch, kCopy, kForwardBackward, kAllReduce, kOptimizer, kPhases };
  std::array<double, kPhases> seconds{};
  bool synchronize = false;
  std::chrono::steady_clock::time_point mark = std::chrono::steady_clock::now();
  void end(Phase p);
  nlohmann::json per_step(std::int64_t steps) const;
};

// Loss sums (total, then the parts) and examples, accumulated over steps. The sums stay on the
// training device, in float64, so that a GPU step needs no host synchronisation: they are read
// (one copy) only for a progress line, an epoch end or a checkpoint.
struct LossTotals {
  torch::Tensor sums;  // float64 [parts + 1] on the device
  std::int64_t examples = 0;
  void add(const torch::Tensor& step_sums, std::int64_t n);  // step_sums: float64, same device
  std::vector<double> host_sums() const;
  std::vector<double> means() const;  // per example
};

// One optimizer step's loss sums over every rank (float32 on the device) and its examples.
struct StepLoss {
  torch::Tensor sums;
  std::int64_t examples = 0;
};

// The named parameters and buffers of `m` (the tensors themselves, not copies).
model::StateDict model_state(model::BertForSequenceClassification& m);

double seconds_since(std::chrono::steady_clock::time_point t);

class TrainingRun {
 public:
  TrainingRun(const LoopConfig& loop, const OptimizerConfig& optimizer,
              const model::Runtime& runtime, parallel::GradientReducer& reducer, mpi::Comm& comm,
              model::BertForSequenceClassification& model, const data::SplitIndex& index,
              const LossFunction& loss, const TrainerSetup& setup);
  TrainResult run();

 private:
  // trainer.cpp
  void write_config_and_resume();
  bool train_epoch(std::int64_t epoch);  // false: stopped (preemption), checkpoint saved
  StepLoss optimizer_step(std::int64_t epoch, std::int64_t step_in_epoch, double lr,
                          StepProfile& profile);
  void to_device(data::Batch& b) const;
  void sum_gradients(torch::Tensor& loss_sums);
  void update(double lr);
  void log_progress(std::int64_t epoch, double lr);
  void save(std::int64_t epoch, std::int64_t step_in_epoch);
  TrainResult stopped();
  // trainer_epoch.cpp
  void end_epoch(std::int64_t epoch, const LossTotals& totals, double seconds,
                 const StepProfile& profile, std::int64_t profiled_steps);
  void finish_with_best();

  const LoopConfig& loop_;
  const OptimizerConfig& oc_;
  const model::Runtime& runtime_;
  parallel::GradientReducer& reducer_;
  mpi::Comm& comm_;
  model::BertForSequenceClassification& m_;
  const LossFunction& loss_;
  const TrainerSetup& setup_;

  std::vector<torch::Tensor> params_;
  // The word embedding's gradient is zero outside the rows of the batch's tokens: with several
  // ranks, they sum only the rows any rank used (exact; most of a BERT's gradient bytes).
  torch::Tensor word_embeddings_;
  bool sparse_embedding_sum_;
  std::vector<std::uint8_t> used_tokens_;
  FusedAdamW optimizer_;
  LossScaler scaler_;  // float16 only
  TrainState state_;
  data::DistributedBatchSampler sampler_;
  data::WindowLoader loader_;
  std::size_t nparts_;
  Schedule schedule_;
  std::int64_t total_ = 0, warmup_ = 0;  // optimizer steps of the run, of its warmup
  TrainResult result_;
  bool needs_best_;        // test or extra splits run with the best weights after training
  model::StateDict best_;  // those weights (empty: read back from OUTPUT_DIR/model)
  std::int64_t step_ = 0;  // optimizer steps done
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::int64_t start_step_ = 0;
  LossTotals interval_;  // since the last progress line
};

}  // namespace pkd::train
