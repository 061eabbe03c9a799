#include "train/optimizer.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/torch_version.h"
#include "train/adamw_kernel.h"

namespace pkd::train {

void OptimizerConfig::validate() const {
  // Every check is written so that NaN fails it (NaN compares false): the config reader refuses
  // non-finite numbers, but a config built in code or by a sweep never went through it.
  if (!(learning_rate > 0 && std::isfinite(learning_rate)))
    usage_fail("optimizer.learning_rate must be positive (a finite number > 0), got ",
               learning_rate);
  if (!(weight_decay >= 0 && std::isfinite(weight_decay)))
    usage_fail("optimizer.weight_decay must be a finite number >= 0, got ", weight_decay);
  if (!(adam_beta1 >= 0 && adam_beta1 < 1))
    usage_fail("optimizer.adam_beta1 must be in [0, 1), got ", adam_beta1);
  if (!(adam_beta2 >= 0 && adam_beta2 < 1))
    usage_fail("optimizer.adam_beta2 must be in [0, 1), got ", adam_beta2);
  if (!(adam_epsilon > 0 && std::isfinite(adam_epsilon)))
    usage_fail("optimizer.adam_epsilon must be a finite number > 0, got ", adam_epsilon);
  if (!(warmup_proportion >= 0 && warmup_proportion < 1))
    usage_fail("optimizer.warmup_proportion must be in [0, 1), got ", warmup_proportion);
  if (warmup_steps < -1)
    usage_fail("optimizer.warmup_steps must be >= 0, or -1 for warmup_proportion, got ",
               warmup_steps);
  if (!std::isfinite(max_grad_norm))
    usage_fail("optimizer.max_grad_norm must be a finite number (<= 0: no clipping), got ",
               max_grad_norm);
  schedule_kind();
}

Schedule OptimizerConfig::schedule_kind() const {
  if (schedule == "linear") return Schedule::kLinear;
  if (schedule == "constant") return Schedule::kConstant;
  usage_fail("optimizer.schedule must be linear or constant, got '", schedule, "'");
}

std::int64_t OptimizerConfig::warmup_for(std::int64_t total_steps) const {
  if (warmup_steps >= 0) return warmup_steps;
  return static_cast<std::int64_t>(
      std::round(warmup_proportion * static_cast<double>(total_steps)));
}

FusedAdamW::FusedAdamW(const torch::nn::Module& model, const OptimizerConfig& config,
                       const torch::nn::Module* objective)
    : config_(config) {
  auto add = [&](const torch::nn::Module& m, const std::string& prefix) {
    for (const auto& p : m.named_parameters()) {
      if (!p.value().requires_grad()) continue;
      names_.push_back(prefix + p.key());
      params_.push_back(p.value());
      exp_avg_.push_back(torch::zeros_like(p.value()));
      exp_avg_sq_.push_back(torch::zeros_like(p.value()));
      decay_.push_back(!(ends_with(p.key(), "bias") || ends_with(p.key(), "LayerNorm.weight")));
    }
  };
  add(model, "");
  if (objective) add(*objective, "objective.");
}

template <class Lr>
void FusedAdamW::cuda_step(const Lr& lr, const torch::Tensor& grad_scale) {
#if PKD_TORCH_AT_LEAST(2, 1)
  torch::NoGradGuard no_grad;
  const auto device = params_[0].device();
  if (device_steps_.empty())
    for (std::size_t i = 0; i < params_.size(); ++i)
      device_steps_.push_back(torch::full({}, static_cast<float>(steps_),
                                          torch::TensorOptions(torch::kFloat).device(device)));
  ++steps_;
  at::_foreach_add_(device_steps_, 1);
  // The kernel divides the gradients by its grad_scale (AMP's unscaling).
  const torch::Tensor divisor = grad_scale.reciprocal();
  for (const bool decay : {true, false}) {
    std::vector<torch::Tensor> p, g, m, v, s;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (decay_[i] != decay) continue;
      if (!params_[i].grad().defined()) fail("internal: parameter ", names_[i], " has no gradient");
      p.push_back(params_[i]);
      g.push_back(params_[i].grad());
      m.push_back(exp_avg_[i]);
      v.push_back(exp_avg_sq_[i]);
      s.push_back(device_steps_[i]);
    }
    if (p.empty()) continue;
    at::_fused_adamw_(p, g, m, v, /*max_exp_avg_sqs=*/{}, s, lr, config_.adam_beta1,
                      config_.adam_beta2, decay ? config_.weight_decay : 0.0, config_.adam_epsilon,
                      /*amsgrad=*/false, /*maximize=*/false, divisor, /*found_inf=*/{});
  }
  for (auto& param : params_) release_gradient(param);
#else
  fail("internal: the fused CUDA AdamW needs LibTorch >= 2.1");
#endif
}

void FusedAdamW::step(double lr, const torch::Tensor& grad_scale) {
  if (!params_.empty() && params_[0].is_cuda() && PKD_TORCH_AT_LEAST(2, 1)) {
    cuda_step(lr, grad_scale);
    return;
  }
  step(lr, grad_scale.item<double>());
}

void FusedAdamW::step(const torch::Tensor& lr, const torch::Tensor& grad_scale) {
  if (params_.empty() || !params_[0].is_cuda() || !PKD_TORCH_AT_LEAST(2, 1))
    fail("internal: a learning rate on the device needs CUDA parameters and LibTorch >= 2.1");
  cuda_step(lr.to(torch::kFloat), grad_scale);
}

void FusedAdamW::step(double lr, double grad_scale) {
#if PKD_TORCH_AT_LEAST(2, 1)
  if (!params_.empty() && params_[0].is_cuda()) {
    step(lr, torch::full({}, grad_scale,
                         torch::TensorOptions(torch::kFloat).device(params_[0].device())));
    return;
  }
#endif
  ++steps_;
  const double b1 = config_.adam_beta1, b2 = config_.adam_beta2;
  const double bias_correction1 = 1 - std::pow(b1, static_cast<double>(steps_));
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(b2, static_cast<double>(steps_)));
  const double eps = config_.adam_epsilon;
  const bool scaled = grad_scale != 1.0;
  AdamWScalars scalars{};  // in float, as torch applies them to float tensors
  scalars.step_size = static_cast<float>(lr / bias_correction1);
  scalars.beta1 = static_cast<float>(b1);
  scalars.beta2 = static_cast<float>(b2);
  scalars.one_minus_beta1 = static_cast<float>(1 - b1);
  scalars.one_minus_beta2 = static_cast<float>(1 - b2);
  scalars.eps = static_cast<float>(eps);
  scalars.bias_correction2_sqrt = static_cast<float>(bias_correction2_sqrt);
  scalars.grad_scale = static_cast<float>(grad_scale);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    torch::Tensor g = p.mutable_grad();
    if (!g.defined()) fail("internal: parameter ", names_[i], " has no gradient");
    const double decay = 1 - lr * (decay_[i] ? config_.weight_decay : 0.0);
    if (!p.is_cpu() || !p.is_contiguous() || !g.is_contiguous() ||
        p.scalar_type() != torch::kFloat) {
      // Accelerators: the same arithmetic as tensor operations.
      if (scaled) g.mul_(grad_scale);
      p.mul_(decay);
      exp_avg_[i].mul_(b1).add_(g, 1 - b1);
      exp_avg_sq_[i].mul_(b2).addcmul_(g, g, 1 - b2);
      p.addcdiv_(exp_avg_[i], (exp_avg_sq_[i].sqrt() / bias_correction2_sqrt).add_(eps),
                 -lr / bias_correction1);
      release_gradient(p);
      continue;
    }
    scalars.decay = static_cast<float>(decay);
    float* pp = p.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* mp = exp_avg_[i].data_ptr<float>();
    float* vp = exp_avg_sq_[i].data_ptr<float>();
    at::parallel_for(0, p.numel(), 1 << 14, [&](std::int64_t begin, std::int64_t end) {
      adamw_update(pp, gp, mp, vp, begin, end, scalars);
    });
    // Released, not zeroed (PyTorch's zero_grad(set_to_none=True)): the next backward hands its
    // gradient over instead of adding it to zeros, which saves two passes over every parameter.
    release_gradient(p);
  }
}

std::map<std::string, torch::Tensor> FusedAdamW::state() const {
  std::map<std::string, torch::Tensor> s;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    s["exp_avg." + names_[i]] = exp_avg_[i];
    s["exp_avg_sq." + names_[i]] = exp_avg_sq_[i];
  }
  s["step"] = torch::full({1}, static_cast<double>(steps_), torch::kDouble);
  return s;
}

void FusedAdamW::load_state(const std::map<std::string, torch::Tensor>& state,
                            const std::string& where) {
  auto get = [&](const std::string& name, const torch::Tensor& like) {
    auto it = state.find(name);
    if (it == state.end()) fail(where, " lacks optimizer state '", name, "'");
    if (it->second.sizes() != like.sizes())
      fail(where, ": optimizer state '", name, "' has shape ", it->second.sizes(), ", expected ",
           like.sizes(), " (a checkpoint of another model?)");
    return it->second;
  };
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    exp_avg_[i].copy_(get("exp_avg." + names_[i], exp_avg_[i]));
    exp_avg_sq_[i].copy_(get("exp_avg_sq." + names_[i], exp_avg_sq_[i]));
  }
  steps_ = static_cast<std::int64_t>(get("step", torch::zeros({1})).item<double>());
  refill_device_steps();
}

void FusedAdamW::set_steps(std::int64_t steps) {
  steps_ = steps;
  refill_device_steps();
}

// The device counters follow the host's count in place: a captured CUDA graph holds their
// addresses (train/step_graphs.h). Before the first CUDA step there are none; it makes them.
void FusedAdamW::refill_device_steps() {
  torch::NoGradGuard no_grad;
  for (auto& s : device_steps_) s.fill_(static_cast<double>(steps_));
}

double clip_factor(const std::vector<torch::Tensor>& params, double max_norm) {
  if (max_norm <= 0) return 1.0;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  if (norms.empty()) return 1.0;
  const double total = torch::stack(norms).norm(2).item<double>();
  const double factor = max_norm / (total + 1e-6);
  return factor < 1 ? factor : 1.0;
}

ClipScale clip_scale(const std::vector<torch::Tensor>& params, double max_norm, double unscale) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) fail("internal: clip_scale found no gradients");
  const auto options = torch::TensorOptions(torch::kFloat).device(grads[0].device());
  const torch::Tensor norm = torch::stack(at::_foreach_norm(grads, 2)).norm(2);
  torch::Tensor multiplier = torch::full({}, unscale, options);
  if (max_norm > 0) multiplier = multiplier * (max_norm / (norm * unscale + 1e-6)).clamp_max(1.0);
  return {multiplier, norm};
}

double schedule_multiplier(Schedule schedule, std::int64_t step, std::int64_t warmup_steps,
                           std::int64_t total_steps) {
  if (step < warmup_steps)
    return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup_steps));
  if (schedule == Schedule::kConstant) return 1.0;
  return std::max(0.0,
                  static_cast<double>(total_steps - step) /
                      static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps)));
}

}  // namespace pkd::train
