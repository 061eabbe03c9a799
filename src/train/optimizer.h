#pragma once
// AdamW with HuggingFace's fine-tuning conventions: no weight decay on biases and LayerNorm
// weights, bias correction on; and transformers' linear warmup + linear decay schedule.
#include <torch/torch.h>

#include <cstdint>
#include <memory>

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

// Two parameter groups: with decay, and without (names ending in "bias" or "LayerNorm.weight").
std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model,
                                                const OptimizerConfig& config);

// transformers' get_linear_schedule_with_warmup: the multiplier of the peak learning rate for
// optimizer step `step` (0-based; the scheduler is stepped after the optimizer, so step 0 of a
// warmup runs at 0).
double linear_schedule(std::int64_t step, std::int64_t warmup_steps, std::int64_t total_steps);

void set_learning_rate(torch::optim::AdamW& optimizer, double lr);

}  // namespace pkd::train
