#pragma once
// One optimizer step of data-parallel training — the part of the trainer core that needs no
// files: reseed dropout, run the objective on each micro-batch under the runtime's autocast
// (batches moved to the device here), backward of the loss divided by the global batch size,
// sum gradients over ranks (the token-indexed embedding row by row; with parallel.overlap during
// the last backward where the backend can, parallel/overlapped_sum.h), clip, unscale (float16)
// and step AdamW; or, with runtime.cuda_graphs where a step allows it, the whole step replayed
// as a CUDA graph, or two graphs around the gradient sum over ranks (step_graphs.h). TrainingRun
// (training_run.h) feeds it batches from the shards; tests feed it batches built in memory.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/runtime.h"
#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"
#include "parallel/overlapped_sum.h"
#include "parallel/row_sparse.h"
#include "train/loss_scaler.h"
#include "train/objective.h"
#include "train/optimizer.h"
#include "train/step_graphs.h"

namespace pkd::train {

// Wall-clock seconds of the phases of the optimizer steps of an epoch, on this rank: where a
// step's time goes (metrics.jsonl "step_seconds", per step). On CUDA the phases are not
// synchronised, so kernels still running are counted in the phase that waits for them; with
// PKD_PROFILE_SYNC=1 in the environment every phase ends by waiting for the GPU (slower steps,
// but each phase's own GPU time).
struct StepProfile {
  // setup: reseeding dropout, train mode, zeroed loss sums; batch: sampling, the window's
  // shards, collating (with a loader thread, train/step_batches.h: waiting for it); copy: the
  // batch to the device.
  enum Phase { kSetup, kBatch, kCopy, kForwardBackward, kAllReduce, kOptimizer, kPhases };
  std::array<double, kPhases> seconds{};
  // parallel.overlap: the gradient buckets of a step, and how many of them started their
  // all-reduce during backward, summed over the steps (0 and 0 without overlap).
  std::int64_t buckets = 0, buckets_started_in_backward = 0;
  bool synchronize = false;
  std::chrono::steady_clock::time_point mark = std::chrono::steady_clock::now();
  void end(Phase p);
  nlohmann::json per_step(std::int64_t steps) const;
  // {"buckets": per step, "started_in_backward": mean per step}, or null without overlap.
  nlohmann::json overlap_per_step(std::int64_t steps) const;
};

// One optimizer step's loss sums over every rank (float32 on the device: total, then the
// objective's parts) and its examples.
struct StepLoss {
  torch::Tensor sums;
  std::int64_t examples = 0;
};

// Micro-batch j of this rank's share of a global batch (CPU tensors), or nothing when this rank
// has no examples in it.
using MicroBatchSource = std::function<std::optional<data::Batch>(std::size_t j)>;

class StepRunner {
 public:
  // `model` is on the runtime's device; `seed` is the run's (dropout seeds derive from it).
  // `micro_batches`: per optimizer step (CUDA graphs take one).
  StepRunner(const OptimizerConfig& optimizer, const model::Runtime& runtime,
             parallel::GradientReducer& reducer, mpi::Comm& comm,
             model::BertForSequenceClassification& model, Objective& objective, std::int64_t seed,
             std::size_t micro_batches = 1);

  // Optimizer step number `step` (0-based, global: it seeds dropout) at learning rate `lr` over
  // `micro_batches` micro-batches of a global batch of `global_examples` examples. Collective.
  StepLoss step(std::int64_t step, std::int64_t global_examples, std::size_t micro_batches,
                const MicroBatchSource& micro_batch, double lr, StepProfile& profile);

  std::size_t parts() const { return parts_; }
  FusedAdamW& optimizer() { return optimizer_; }
  parallel::GradientReducer& reducer() { return reducer_; }
  LossScaler& scaler() { return scaler_; }
  // The model's parameters, then the objective's (Objective::trainable).
  const std::vector<torch::Tensor>& parameters() const { return params_; }

 private:
  StepLoss split_graph_step(std::int64_t global_examples, const MicroBatchSource& micro_batch,
                            double lr, StepProfile& profile);
  void zero_gradients();  // split graphs' kept gradients
  torch::Tensor zero_sums() const;
  void to_device(data::Batch& b) const;
  // One micro-batch's forward under the runtime's autocast and its backward; adds its loss sums.
  void forward_backward(const data::Batch& b, double global_n, torch::Tensor& sums);
  void update(double lr, std::int64_t step);

  const OptimizerConfig& oc_;
  const model::Runtime& runtime_;
  parallel::GradientReducer& reducer_;
  mpi::Comm& comm_;
  model::BertForSequenceClassification& m_;
  Objective& objective_;
  std::int64_t seed_;
  std::size_t parts_;
  std::vector<torch::Tensor> params_;
  // Only with several ranks: alone, the dense gradient needs no sum.
  std::optional<parallel::RowSparseGradient> sparse_;
  // parallel.overlap, where the reducer sums in the background: the sum runs during backward.
  std::unique_ptr<parallel::OverlappedGradientSum> overlap_;
  FusedAdamW optimizer_;
  LossScaler scaler_;                 // float16 only
  std::optional<StepGraphs> graphs_;  // runtime.cuda_graphs, where a step can be a graph
  bool split_graphs_ = false;         // graphs_ with a gradient sum between two graphs
};

}  // namespace pkd::train
