#include "train/optimizer.h"

#include <algorithm>

#include "core/error.h"

namespace pkd::train {

void OptimizerConfig::validate() const {
  if (learning_rate <= 0)
    usage_fail("optimizer.learning_rate must be positive, got ", learning_rate);
  if (weight_decay < 0) usage_fail("optimizer.weight_decay must be >= 0, got ", weight_decay);
  if (adam_beta1 < 0 || adam_beta1 >= 1 || adam_beta2 < 0 || adam_beta2 >= 1)
    usage_fail("optimizer.adam_beta1/2 must be in [0, 1)");
  if (adam_epsilon <= 0) usage_fail("optimizer.adam_epsilon must be positive, got ", adam_epsilon);
  if (warmup_proportion < 0 || warmup_proportion >= 1)
    usage_fail("optimizer.warmup_proportion must be in [0, 1), got ", warmup_proportion);
}

std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model,
                                                const OptimizerConfig& c) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model.named_parameters()) {
    const std::string& name = p.key();
    (ends_with(name, "bias") || ends_with(name, "LayerNorm.weight") ? no_decay : decay)
        .push_back(p.value());
  }
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(c.learning_rate)
                                                            .betas({c.adam_beta1, c.adam_beta2})
                                                            .eps(c.adam_epsilon)
                                                            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(c.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(c.learning_rate));
}

double linear_schedule(std::int64_t step, std::int64_t warmup_steps, std::int64_t total_steps) {
  if (step < warmup_steps)
    return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup_steps));
  return std::max(0.0,
                  static_cast<double>(total_steps - step) /
                      static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps)));
}

void set_learning_rate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

}  // namespace pkd::train
