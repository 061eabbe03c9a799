#pragma once
// The optimizer of fine-tuning and distillation: a fused AdamW with HuggingFace's conventions
// (no weight decay on biases and LayerNorm weights, bias correction on), transformers' linear
// warmup + linear decay schedule, and global-norm gradient clipping.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pkd::train {

struct OptimizerConfig {
  double learning_rate = 2e-5;
  double weight_decay = 0.01;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  double warmup_proportion = 0.1;  // of all optimizer steps
  double max_grad_norm = 1.0;      // global-norm clipping; <= 0 disables

  template <class V>
  void visit(V& v) {
    v.field("learning_rate", learning_rate, "peak learning rate");
    v.field("weight_decay", weight_decay,
            "decoupled weight decay (not on biases and LayerNorm weights)");
    v.field("adam_beta1", adam_beta1, "Adam beta1");
    v.field("adam_beta2", adam_beta2, "Adam beta2");
    v.field("adam_epsilon", adam_epsilon, "Adam epsilon");
    v.field("warmup_proportion", warmup_proportion, "fraction of the steps with linear warmup");
    v.field("max_grad_norm", max_grad_norm, "clip the global gradient norm to this (<= 0: off)");
  }
  void validate() const;
};

// AdamW (torch.optim.AdamW's arithmetic, which transformers' Trainer uses) as one fused pass per
// parameter, split over the intra-op threads: reads parameter, gradient and both moments once,
// writes them once, and releases the gradient (set to none) for the next step. The unfused update
// makes ~10 passes over memory; with short GLUE sentences the update over a BERT's 23M-parameter
// word embedding otherwise costs more than the forward and backward (BENCHMARKS.md). No weight
// decay on biases and LayerNorm weights (names ending in "bias" or "LayerNorm.weight"), as
// HuggingFace does. The inner loop is vectorised (adamw_kernel.h), bitwise torch's arithmetic.
class FusedAdamW {
 public:
  FusedAdamW(const torch::nn::Module& model, const OptimizerConfig& config);

  // One update with learning rate `lr`, the gradients first multiplied by `grad_scale` (global
  // norm clipping); gradients are released (undefined) afterwards. Gradients must be defined.
  void step(double lr, double grad_scale = 1.0);
  // The same with the multiplier a 0-dim float32 tensor on the parameters' device, so that a GPU
  // step needs no host synchronisation. On CUDA (LibTorch >= 2) this is LibTorch's multi-tensor
  // fused AdamW kernel (torch.optim.AdamW(fused=True)): two launches per step, one per weight
  // decay group, instead of ~10 per parameter.
  void step(double lr, const torch::Tensor& grad_scale);
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps) {  // resuming: bias corrections follow it
    steps_ = steps;
    device_steps_.clear();
  }
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
  std::vector<torch::Tensor> device_steps_;  // the fused CUDA kernel's float32 step counters
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

// transformers' get_linear_schedule_with_warmup: the multiplier of the peak learning rate for
// optimizer step `step` (0-based; the scheduler is stepped after the optimizer, so step 0 of a
// warmup runs at 0).
double linear_schedule(std::int64_t step, std::int64_t warmup_steps, std::int64_t total_steps);

}  // namespace pkd::train
