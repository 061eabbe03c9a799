// One optimizer step of the trainer core (see step.h): forward/backward per micro-batch, the
// gradient sum over ranks, clipping, loss scaling and AdamW.
#include "train/step.h"

#include <torch/cuda.h>

#include <cmath>

#include "core/log.h"

namespace pkd::train {
namespace {

// Dropout's seed for one step of one rank: a checkpoint needs no RNG state, and a resumed run
// draws the same masks as an uninterrupted one.
std::uint64_t step_seed(std::int64_t seed, int rank, std::int64_t step) {
  std::uint64_t x = static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ull ^
                    (static_cast<std::uint64_t>(rank) << 40) ^ static_cast<std::uint64_t>(step);
  x ^= x >> 31;  // splitmix64 finaliser
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

void StepProfile::end(Phase p) {
  if (synchronize) torch::cuda::synchronize();
  const auto now = std::chrono::steady_clock::now();
  seconds[p] += std::chrono::duration<double>(now - mark).count();
  mark = now;
}

nlohmann::json StepProfile::per_step(std::int64_t steps) const {
  const double n = static_cast<double>(std::max<std::int64_t>(1, steps));
  return {{"setup", seconds[kSetup] / n},
          {"batch", seconds[kBatch] / n},
          {"copy", seconds[kCopy] / n},
          {"forward_backward", seconds[kForwardBackward] / n},
          {"all_reduce", seconds[kAllReduce] / n},
          {"optimizer", seconds[kOptimizer] / n}};
}

StepRunner::StepRunner(const OptimizerConfig& optimizer, const model::Runtime& runtime,
                       parallel::GradientReducer& reducer, mpi::Comm& comm,
                       model::BertForSequenceClassification& model, Objective& objective,
                       std::int64_t seed)
    : oc_(optimizer),
      runtime_(runtime),
      reducer_(reducer),
      comm_(comm),
      m_(model),
      objective_(objective),
      seed_(seed),
      parts_(objective.part_names().size()),
      params_(model->parameters()),
      optimizer_(*model, optimizer, objective.trainable().get()),
      scaler_(runtime.precision() == model::Precision::kFloat16) {
  if (const auto extra = objective.trainable())
    for (const auto& p : extra->parameters()) params_.push_back(p);
  if (comm.size() > 1) sparse_.emplace(model->token_indexed_weight());
}

StepLoss StepRunner::step(std::int64_t step, std::int64_t global_examples,
                          std::size_t micro_batches, const MicroBatchSource& micro_batch, double lr,
                          StepProfile& profile) {
  torch::manual_seed(step_seed(seed_, comm_.rank(), step));
  m_->train();
  if (const auto extra = objective_.trainable()) extra->train();
  auto sums = torch::zeros({static_cast<std::int64_t>(parts_) + 1},
                           torch::TensorOptions(torch::kFloat).device(runtime_.device()));
  profile.end(StepProfile::kSetup);
  if (sparse_) sparse_->clear();
  const auto global_n = static_cast<double>(global_examples);
  for (std::size_t j = 0; j < micro_batches; ++j) {
    std::optional<data::Batch> b = micro_batch(j);
    if (!b) continue;
    if (sparse_) sparse_->mark(b->input_ids);
    profile.end(StepProfile::kBatch);
    to_device(*b);
    profile.end(StepProfile::kCopy);
    LossSums out;
    {
      model::Runtime::Autocast autocast(runtime_);  // the precision of every training forward
      out = objective_.loss(m_, *b);
    }
    // Summed over ranks below: the global-batch mean (times the float16 loss scale).
    if (scaler_.active())
      (out.total * (scaler_.scale() / global_n)).backward();
    else
      (out.total / global_n).backward();
    std::vector<torch::Tensor> parts{out.total.detach()};
    for (const auto& part : out.parts) parts.push_back(part);
    sums.add_(torch::stack(parts).to(torch::kFloat));
    profile.end(StepProfile::kForwardBackward);
  }
  // A rank without examples contributes zeros.
  reducer_.sum_gradients(params_, sparse_ ? &*sparse_ : nullptr, {sums});
  profile.end(StepProfile::kAllReduce);
  update(lr, step);
  profile.end(StepProfile::kOptimizer);
  return {sums, global_examples};
}

// The batch on the training device. On a GPU from page-locked memory and without waiting: the
// copy overlaps the work queued before it.
void StepRunner::to_device(data::Batch& b) const {
  const bool cuda = runtime_.device().is_cuda();
  for (auto* t : {&b.input_ids, &b.token_type_ids, &b.attention_mask, &b.labels, &b.teacher_logits,
                  &b.teacher_cls, &b.teacher_hidden, &b.teacher_attention})
    if (t->defined())
      *t = cuda ? t->pin_memory().to(runtime_.device(), /*non_blocking=*/true)
                : t->to(runtime_.device());
}

// Clips, unscales (float16) and steps AdamW. On the CPU exactly as before GPUs: the clip factor
// in double on the host. On a GPU without a host synchronisation, except for float16, whose
// overflow check decides whether the step is taken (every rank alike).
void StepRunner::update(double lr, std::int64_t step) {
  if (runtime_.device().is_cpu()) {
    optimizer_.step(lr, clip_factor(params_, oc_.max_grad_norm));
    return;
  }
  const ClipScale clip = clip_scale(params_, oc_.max_grad_norm, 1.0 / scaler_.scale());
  if (scaler_.active()) {
    const bool found_inf = comm_.any(!std::isfinite(clip.norm.item<double>()));
    if (!scaler_.update(found_inf)) {
      scaler_.count_skip();
      log_debug("step ", step + 1, ": float16 gradients overflowed, step skipped, loss scale now ",
                scaler_.scale());
      for (auto& p : params_) p.mutable_grad() = torch::Tensor();
      return;
    }
  }
  optimizer_.step(lr, clip.multiplier);
}

}  // namespace pkd::train
