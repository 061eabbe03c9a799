// One optimizer step of the trainer core (see step.h): forward/backward per micro-batch, the
// gradient sum over ranks, clipping, loss scaling and AdamW.
#include "train/step.h"

#include <torch/cuda.h>

#include <cmath>

#include "core/error.h"
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
  if (synchronize) torch::cuda::synchronize();  // the rank's GPU: Runtime made it current
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

nlohmann::json StepProfile::overlap_per_step(std::int64_t steps) const {
  if (buckets == 0) return nullptr;
  const double n = static_cast<double>(std::max<std::int64_t>(1, steps));
  return {{"buckets", static_cast<double>(buckets) / n},
          {"started_in_backward", static_cast<double>(buckets_started_in_backward) / n}};
}

StepRunner::StepRunner(const OptimizerConfig& optimizer, const model::Runtime& runtime,
                       parallel::GradientReducer& reducer, mpi::Comm& comm,
                       model::BertForSequenceClassification& model, Objective& objective,
                       std::int64_t seed, std::size_t micro_batches)
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
  if (runtime.config().cuda_graphs) {
    std::string why = cuda_graphs_unavailable();
    if (why.empty() && scaler_.active())
      why = "float16 decides on the host whether each step is taken";
    if (why.empty() && micro_batches > 1) why = "steps have several micro-batches";
    if (why.empty()) {
      graphs_.emplace(runtime.device(), model->config().max_position_embeddings);
      if (!reducer.idle()) {
        // Split steps (step_graphs.h): gradients at fixed addresses, allocated outside any graph.
        split_graphs_ = true;
        optimizer_.keep_gradients(true);
        torch::NoGradGuard no_grad;
        for (auto& p : params_)
          if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        log_info(
            "runtime.cuda_graphs: gradients summed over ranks between two graphs per step "
            "(forward and backward, then clipping and AdamW)");
      }
    } else {
      log_warn("runtime.cuda_graphs: training steps run eagerly: ", why);
    }
  }
  // Not with graphs: the hooks would run collectives inside a capture.
  if (!graphs_ && reducer.overlaps_backward(runtime.device()))
    overlap_ = std::make_unique<parallel::OverlappedGradientSum>(reducer, comm, params_,
                                                                 sparse_ ? &*sparse_ : nullptr);
}

StepLoss StepRunner::step(std::int64_t step, std::int64_t global_examples,
                          std::size_t micro_batches, const MicroBatchSource& micro_batch, double lr,
                          StepProfile& profile) {
  torch::manual_seed(step_seed(seed_, comm_.rank(), step));
  m_->train();
  if (const auto extra = objective_.trainable()) extra->train();
  const auto global_n = static_cast<double>(global_examples);
  if (graphs_) {  // only built for steps of one micro-batch
    if (micro_batches != 1)
      fail("internal: CUDA graphs given a step of ", micro_batches, " micro-batches");
    if (split_graphs_) return split_graph_step(global_examples, micro_batch, lr, profile);
    profile.end(StepProfile::kSetup);
    std::optional<data::Batch> b = micro_batch(0);
    if (!b) fail("internal: the only rank has no examples in step ", step + 1);
    profile.end(StepProfile::kBatch);
    const auto out = graphs_->run(
        *b, global_examples, lr, [&](const data::Batch& in, const torch::Tensor& rate) {
          torch::Tensor sums = zero_sums();
          forward_backward(in, global_n, sums);
          optimizer_.step(rate, clip_scale(params_, oc_.max_grad_norm, 1.0).multiplier);
          return sums;
        });
    if (out.replayed_only) optimizer_.count_replayed_step();
    profile.end(StepProfile::kForwardBackward);
    return {out.sums, global_examples};
  }
  torch::Tensor sums = zero_sums();
  profile.end(StepProfile::kSetup);
  if (sparse_) sparse_->clear();
  for (std::size_t j = 0; j < micro_batches; ++j) {
    std::optional<data::Batch> b = micro_batch(j);
    if (!b) continue;
    if (sparse_) sparse_->mark(b->input_ids);
    profile.end(StepProfile::kBatch);
    to_device(*b);
    profile.end(StepProfile::kCopy);
    if (overlap_ && j + 1 == micro_batches) overlap_->arm();
    forward_backward(*b, global_n, sums);
    profile.end(StepProfile::kForwardBackward);
  }
  // A rank without examples contributes zeros. With overlap, what is left to wait for.
  if (overlap_) {
    overlap_->finish(sparse_ ? &*sparse_ : nullptr, {sums});
    profile.buckets += static_cast<std::int64_t>(overlap_->buckets());
    profile.buckets_started_in_backward +=
        static_cast<std::int64_t>(overlap_->started_in_backward());
    log_debug("step ", step + 1, ": ", overlap_->started_in_backward(), " of ", overlap_->buckets(),
              " gradient buckets started their all-reduce during backward");
  } else {
    reducer_.sum_gradients(params_, sparse_ ? &*sparse_ : nullptr, {sums});
  }
  profile.end(StepProfile::kAllReduce);
  update(lr, step);
  profile.end(StepProfile::kOptimizer);
  return {sums, global_examples};
}

// Split CUDA graphs (step_graphs.h): forward and backward replayed per bucket, the gradient sum
// over ranks eager, then clipping and AdamW replayed. A rank without examples in the step adds
// zeros to the sum and takes the same update as the others.
StepLoss StepRunner::split_graph_step(std::int64_t global_examples,
                                      const MicroBatchSource& micro_batch, double lr,
                                      StepProfile& profile) {
  const auto global_n = static_cast<double>(global_examples);
  profile.end(StepProfile::kSetup);
  std::optional<data::Batch> b = micro_batch(0);
  if (sparse_) {
    sparse_->clear();
    if (b) sparse_->mark(b->input_ids);
  }
  profile.end(StepProfile::kBatch);
  torch::Tensor sums;
  if (b) {
    sums = graphs_->forward(*b, global_examples, [&](const data::Batch& in) {
      zero_gradients();
      torch::Tensor s = zero_sums();
      forward_backward(in, global_n, s);
      return s;
    });
  } else {
    zero_gradients();
    sums = zero_sums();
  }
  profile.end(StepProfile::kForwardBackward);
  reducer_.sum_gradients(params_, sparse_ ? &*sparse_ : nullptr, {sums});
  profile.end(StepProfile::kAllReduce);
  const bool replayed_only = graphs_->update(lr, [&](const torch::Tensor& rate) {
    optimizer_.step(rate, clip_scale(params_, oc_.max_grad_norm, 1.0).multiplier);
  });
  if (replayed_only) optimizer_.count_replayed_step();
  profile.end(StepProfile::kOptimizer);
  return {sums, global_examples};
}

void StepRunner::zero_gradients() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  grads.reserve(params_.size());
  for (auto& p : params_) grads.push_back(p.mutable_grad());
  at::_foreach_zero_(grads);
}

torch::Tensor StepRunner::zero_sums() const {
  return torch::zeros({static_cast<std::int64_t>(parts_) + 1},
                      torch::TensorOptions(torch::kFloat).device(runtime_.device()));
}

void StepRunner::forward_backward(const data::Batch& b, double global_n, torch::Tensor& sums) {
  LossSums out;
  {
    model::Runtime::Autocast autocast(runtime_);  // the precision of every training forward
    out = objective_.loss(m_, b);
  }
  // Summed over ranks afterwards: the global-batch mean (times the float16 loss scale).
  if (scaler_.active())
    (out.total * (scaler_.scale() / global_n)).backward();
  else
    (out.total / global_n).backward();
  std::vector<torch::Tensor> parts{out.total.detach()};
  for (const auto& part : out.parts) parts.push_back(part);
  sums.add_(torch::stack(parts).to(torch::kFloat));
}

// The batch on the training device. On a GPU from page-locked memory and without waiting: the
// copy overlaps the work queued before it (the trainer's loader thread pinned them already, and
// pin_memory() returns a pinned tensor as it is; batches built in memory are pinned here).
void StepRunner::to_device(data::Batch& b) const {
  const bool cuda = runtime_.device().is_cuda();
  for (torch::Tensor* t : b.tensors())
    if (t->defined())
      *t = cuda ? t->pin_memory().to(runtime_.device(), /*non_blocking=*/true)
                : t->to(runtime_.device());
}

// Clips, unscales (float16) and steps AdamW. On the CPU exactly as before GPUs: the clip factor
// in double on the host. On a GPU without a host synchronisation, except for float16, whose
// overflow check decides whether the step is taken (every rank alike). float16 runs only on
// GPUs, but the scaler's branch is device-independent tensor code, which a test drives on the
// CPU with a scaler set through scaler().
void StepRunner::update(double lr, std::int64_t step) {
  if (runtime_.device().is_cpu() && !scaler_.active()) {
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
