#pragma once
// [optimizer]: AdamW and its learning-rate schedule, torch-free so that `pkd report` and
// `pkd sweep` read and write it through this struct (train/optimizer.h implements it).
#include <cstdint>
#include <string>

namespace pkd::train {

// The multiplier of the peak learning rate over the run: a linear warmup from 0, then
//   kLinear:   linear decay to 0 at the last step (transformers' get_linear_schedule_with_warmup);
//   kConstant: the peak until the end (get_constant_schedule_with_warmup; the seed's default).
enum class Schedule { kLinear, kConstant };

struct OptimizerConfig {
  double learning_rate = 2e-5;
  double weight_decay = 0.01;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  std::string schedule = "linear";  // linear | constant (Schedule)
  double warmup_proportion = 0.1;   // of all optimizer steps (when warmup_steps < 0)
  std::int64_t warmup_steps = -1;   // optimizer steps of warmup; -1 = warmup_proportion
  double max_grad_norm = 1.0;       // global-norm clipping; <= 0 disables

  template <class V>
  void visit(V& v) {
    v.field("learning_rate", learning_rate, "peak learning rate");
    v.field("weight_decay", weight_decay,
            "decoupled weight decay (not on biases and LayerNorm weights)");
    v.field("adam_beta1", adam_beta1, "Adam beta1");
    v.field("adam_beta2", adam_beta2, "Adam beta2");
    v.field("adam_epsilon", adam_epsilon, "Adam epsilon");
    v.field("schedule", schedule,
            "learning-rate schedule after the warmup: linear (decay to 0 at the last step) or "
            "constant (the seed's default)");
    v.field("warmup_proportion", warmup_proportion,
            "fraction of the steps with linear warmup (used when warmup_steps = -1)");
    v.field("warmup_steps", warmup_steps,
            "optimizer steps of linear warmup (-1 = warmup_proportion of all steps)");
    v.field("max_grad_norm", max_grad_norm, "clip the global gradient norm to this (<= 0: off)");
  }
  // Checks every field; the schedule name is parsed here (and by schedule_kind()) only.
  void validate() const;
  Schedule schedule_kind() const;  // UsageError naming optimizer.schedule when unknown
  // Warmup steps of a run of `total_steps` optimizer steps.
  std::int64_t warmup_for(std::int64_t total_steps) const;
};

// The multiplier of the peak learning rate for optimizer step `step` (0-based; the scheduler is
// stepped after the optimizer, so step 0 of a warmup runs at 0), as transformers computes it.
double schedule_multiplier(Schedule schedule, std::int64_t step, std::int64_t warmup_steps,
                           std::int64_t total_steps);

}  // namespace pkd::train
