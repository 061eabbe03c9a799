#pragma once
// The optimizer of fine-tuning and distillation: a fused AdamW with HuggingFace's conventions
// (no weight decay on biases and LayerNorm weights, bias correction on), transformers' linear
// warmup + linear decay schedule, and global-norm gradient clipping.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "train/optimizer_config.h"

namespace pkd::train {

// AdamW (torch.optim.AdamW's arithmetic, which transformers' Trainer uses) as one fused pass per
// parameter, split over the intra-op threads: reads parameter, gradient and both moments once,
// writes them once, and releases the gradient (set to none) for the next step. The unfused update
// makes ~10 passes over memory; with short GLUE sentences the update over a BERT's 23M-parameter
// word embedding otherwise costs more than the forward and backward (BENCHMARKS.md). No weight
// decay on biases and LayerNorm weights (names ending in "bias" or "LayerNorm.weight"), as
// HuggingFace does. The inner loop is vectorised (adamw_kernel.h), bitwise torch's arithmetic.
class FusedAdamW {
 public:
  // `objective`: an objective's trained parameters (Objective::trainable), named
  // "objective.<name>" in the state; may be null.
  FusedAdamW(const torch::nn::Module& model, const OptimizerConfig& config,
             const torch::nn::Module* objective = nullptr);

  // One update with learning rate `lr`, the gradients first multiplied by `grad_scale` (global
  // norm clipping); gradients are released (undefined) afterwards, unless keep_gradients.
  // Gradients must be defined.
  void step(double lr, double grad_scale = 1.0);
  // The same with the multiplier a 0-dim float32 tensor on the parameters' device, so that a GPU
  // step needs no host synchronisation. On CUDA (LibTorch >= 2.1) this is LibTorch's
  // multi-tensor fused AdamW kernel (torch.optim.AdamW(fused=True)): a handful of launches per
  // step (the kernel per weight decay group, each over chunks of its tensor list, plus the step
  // counters and the scale's reciprocal) instead of ~10 per parameter.
  void step(double lr, const torch::Tensor& grad_scale);
  // The same with the learning rate a 0-dim float32 tensor on the device too (CUDA, LibTorch >=
  // 2.1): nothing of the step is a host value, so a CUDA graph can replay it with the schedule's
  // next rate (train/step_graphs.h).
  void step(const torch::Tensor& lr, const torch::Tensor& grad_scale);
  // A step replayed from a CUDA graph: the device ran it, the host counts it.
  void count_replayed_step() { ++steps_; }
  // Whether steps keep the gradients (their values stay, for the next backward to be zeroed and
  // accumulated into) instead of releasing them. CUDA graphs split around a gradient sum need
  // gradients at fixed addresses (train/step_graphs.h).
  void keep_gradients(bool keep) { keep_gradients_ = keep; }
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps);  // resuming: bias corrections follow it
  const std::vector<torch::Tensor>& parameters() const { return params_; }

  // "exp_avg.<param>", "exp_avg_sq.<param>" and "step" (a float64 scalar): for checkpoints.
  std::map<std::string, torch::Tensor> state() const;
  // Throws naming `where` when a tensor is missing or has another shape.
  void load_state(const std::map<std::string, torch::Tensor>& state, const std::string& where);

 private:
  OptimizerConfig config_;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> params_, exp_avg_, exp_avg_sq_;
  std::vector<bool> decay_;
  std::int64_t steps_ = 0;
  bool keep_gradients_ = false;
  std::vector<torch::Tensor> device_steps_;  // the fused CUDA kernel's float32 step counters
  // LibTorch's fused CUDA kernel; Lr: double or a device tensor.
  template <class Lr>
  void cuda_step(const Lr& lr, const torch::Tensor& grad_scale);
  void refill_device_steps();
  void release_gradient(torch::Tensor& param) const {
    if (!keep_gradients_) param.mutable_grad() = torch::Tensor();
  }
};

// The factor that clips the global L2 norm of `params`' gradients to `max_norm` (1 when it is
// below, or when max_norm <= 0), as torch.nn.utils.clip_grad_norm_ computes it.
double clip_factor(const std::vector<torch::Tensor>& params, double max_norm);

// On the gradients' device, without a host synchronisation: the factor that clips the global L2
// norm of the gradients times `unscale` (the inverse of a loss scale, or 1) to `max_norm`, times
// `unscale` — the multiplier that turns the gradients into clipped, unscaled ones — as a 0-dim
// float32 tensor; and the global norm of the gradients as they are (inf or NaN on overflow).
struct ClipScale {
  torch::Tensor multiplier;
  torch::Tensor norm;
};
ClipScale clip_scale(const std::vector<torch::Tensor>& params, double max_norm, double unscale);

}  // namespace pkd::train
