// The trainer core: resume, the epoch loop and one optimizer step (data-parallel, with gradient
// accumulation); epoch ends are in trainer_epoch.cpp, setup checks in trainer_setup.cpp.
#include "train/trainer.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "metrics/glue_metrics.h"
#include "train/preemption.h"
#include "train/training_run.h"

namespace pkd::train {
namespace {

// Elements [part * n / parts, (part + 1) * n / parts) of `v`: shares that differ by at most one.
std::vector<std::int64_t> share(const std::vector<std::int64_t>& v, std::size_t part,
                                std::size_t parts) {
  const std::size_t n = v.size();
  return {v.begin() + static_cast<long>(part * n / parts),
          v.begin() + static_cast<long>((part + 1) * n / parts)};
}

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

data::SamplerOptions sampler_options(const LoopConfig& loop) {
  data::SamplerOptions so;
  so.global_batch_size = loop.batch_size;
  so.seed = static_cast<std::uint64_t>(loop.seed);
  so.bucket_batches = loop.bucket_batches;
  so.window_examples = loop.window_examples;
  return so;
}

}  // namespace

TrainResult run_training(const LoopConfig& loop, const OptimizerConfig& oc,
                         const model::Runtime& runtime, parallel::GradientReducer& reducer,
                         mpi::Comm& comm, model::BertForSequenceClassification& m,
                         const data::SplitIndex& index, const LossFunction& loss,
                         const TrainerSetup& setup) {
  install_preemption_handlers();
  TrainingRun run(loop, oc, runtime, reducer, comm, m, index, loss, setup);
  return run.run();
}

TrainingRun::TrainingRun(const LoopConfig& loop, const OptimizerConfig& optimizer,
                         const model::Runtime& runtime, parallel::GradientReducer& reducer,
                         mpi::Comm& comm, model::BertForSequenceClassification& model,
                         const data::SplitIndex& index, const LossFunction& loss,
                         const TrainerSetup& setup)
    : loop_(loop),
      oc_(optimizer),
      runtime_(runtime),
      reducer_(reducer),
      comm_(comm),
      m_(model),
      loss_(loss),
      setup_(setup),
      params_(model->parameters()),
      word_embeddings_(model->named_parameters()["bert.embeddings.word_embeddings.weight"]),
      sparse_embedding_sum_(comm.size() > 1),
      optimizer_(*model, optimizer),
      scaler_(runtime.precision() == model::Precision::kFloat16),
      sampler_(index.lengths, sampler_options(loop), comm.rank(), comm.size(), index.shard_sizes),
      loader_(index, setup.features, /*require_labels=*/true),
      nparts_(setup.part_names.size()),
      schedule_(optimizer.schedule_kind()),
      needs_best_(!loop.test.empty() || !loop.extra_test.empty() || !loop.extra_dev.empty()) {
  const std::int64_t all_steps = sampler_.total_steps(loop.epochs);
  total_ = loop.max_steps > 0 ? std::min(loop.max_steps, all_steps) : all_steps;
  warmup_ = optimizer.warmup_for(total_);
  result_.metric_name = metrics::primary_metric(index.header.task, index.header.regression);
  state_.world_size = comm.size();
  state_.config_sha256 = sha256_hex(training_identity(setup.effective_config));
}

TrainResult TrainingRun::run() {
  write_config_and_resume();
  result_.steps = step_ = start_step_ = state_.global_step;
  result_.best_metric = state_.best_metric;
  start_ = std::chrono::steady_clock::now();
  interval_ = {torch::zeros({static_cast<std::int64_t>(nparts_) + 1},
                            torch::TensorOptions(torch::kDouble).device(runtime_.device())),
               0};
  for (std::int64_t epoch = state_.epoch; epoch < loop_.epochs && step_ < total_; ++epoch)
    if (!train_epoch(epoch)) return stopped();
  result_.steps = step_;
  if (needs_best_) finish_with_best();
  comm_.barrier();
  return result_;
}

// Resume: rank 0 reads the checkpoint and every rank receives its weights and moments.
void TrainingRun::write_config_and_resume() {
  if (comm_.is_root()) {
    make_directories(loop_.output_dir);
    write_file_atomic(loop_.output_dir + "/" + setup_.command + ".toml", setup_.effective_config);
  }
  const bool found = comm_.broadcast_value(comm_.is_root() && has_checkpoint(loop_.output_dir));
  if (found && !loop_.resume)
    usage_fail("'", loop_.output_dir, "' already holds a checkpoint of a ", setup_.command,
               " run: pass --resume to continue it, or choose another output_dir");
  std::string problem;
  if (found && comm_.is_root()) {
    auto c = load_latest_checkpoint(loop_.output_dir);
    if (c->state.config_sha256 != state_.config_sha256) {
      problem = cat("checkpoint '", c->dir, "' was written with another configuration (see its ",
                    "config.toml): resume with the same settings, or choose another output_dir");
    } else {
      auto weights = model_state(m_);
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : weights) {
        auto it = c->model.find(name);
        if (it == c->model.end() || it->second.sizes() != t.sizes())
          fail("checkpoint '", c->dir, "' lacks '", name, "' or has another shape");
        t.copy_(it->second);
      }
      optimizer_.load_state(c->optimizer, "checkpoint '" + c->dir + "'");
      scaler_.restore(c->state.loss_scale, c->state.loss_scale_growth);
      const std::int64_t world = state_.world_size;
      state_ = c->state;
      if (state_.world_size != world)
        log_warn("checkpoint '", c->dir, "' was written by ", state_.world_size,
                 " ranks, this job has ", world, ": same math, but not bitwise the same run");
      state_.world_size = world;
      log_info("resuming from '", c->dir, "': epoch ", state_.epoch + 1, ", step ",
               state_.global_step);
    }
  }
  problem = comm_.broadcast(problem);
  if (!problem.empty()) usage_fail(problem);
  torch::NoGradGuard no_grad;
  reducer_.broadcast(params_);  // every rank starts from rank 0's weights
  if (!found) return;
  std::vector<torch::Tensor> moments;
  for (auto& [name, t] : optimizer_.state())
    if (name != "step") moments.push_back(t);
  reducer_.broadcast(moments);
  struct Position {
    std::int64_t epoch, step_in_epoch, global_step, adam_steps, scale_growth;
    double loss_scale;
  };
  const Position p = comm_.broadcast_value(Position{state_.epoch, state_.step_in_epoch,
                                                    state_.global_step, optimizer_.steps(),
                                                    scaler_.growth_tracker(), scaler_.scale()});
  state_.epoch = p.epoch;
  state_.step_in_epoch = p.step_in_epoch;
  state_.global_step = p.global_step;
  optimizer_.set_steps(p.adam_steps);
  scaler_.restore(p.loss_scale, p.scale_growth);
}

bool TrainingRun::train_epoch(std::int64_t epoch) {
  const std::int64_t per_epoch = sampler_.steps_per_epoch(epoch);
  std::vector<double> sums = state_.epoch_sums;
  sums.resize(nparts_ + 1, 0.0);
  LossTotals totals{torch::tensor(sums, torch::kDouble).to(runtime_.device()),
                    state_.epoch_examples};
  const auto epoch_start = std::chrono::steady_clock::now();
  StepProfile profile;
  profile.synchronize = runtime_.device().is_cuda() && std::getenv("PKD_PROFILE_SYNC") != nullptr;
  std::int64_t profiled_steps = 0;
  bool stop = false;
  std::int64_t s = epoch == state_.epoch ? state_.step_in_epoch : 0;
  for (; s < per_epoch && step_ < total_ && !stop; ++s) {
    profile.mark = std::chrono::steady_clock::now();
    const double lr = oc_.learning_rate * schedule_multiplier(schedule_, step_, warmup_, total_);
    const StepLoss step_loss = optimizer_step(epoch, s, lr, profile);
    ++profiled_steps;
    ++step_;
    const torch::Tensor step_sums = step_loss.sums.to(torch::kDouble);
    interval_.add(step_sums, step_loss.examples);
    totals.add(step_sums, step_loss.examples);
    if (step_ % loop_.log_every == 0 || step_ == total_) log_progress(epoch, lr);
    stop = comm_.any(preemption_requested() || step_ == loop_.stop_after_steps);
    const bool epoch_done = s + 1 == per_epoch || step_ == total_;
    if (!epoch_done &&
        (stop || (loop_.checkpoint_every > 0 && step_ % loop_.checkpoint_every == 0))) {
      state_.epoch_sums = totals.host_sums();
      state_.epoch_examples = totals.examples;
      save(epoch, s + 1);
      if (stop) return false;
    }
  }
  // Queued GPU work belongs to this epoch's time.
  if (runtime_.device().is_cuda()) torch::cuda::synchronize();
  end_epoch(epoch, totals, seconds_since(epoch_start), profile, profiled_steps);
  state_.epoch_sums.clear();
  state_.epoch_examples = 0;
  save(epoch + 1, 0);
  return !(stop && step_ < total_);
}

StepLoss TrainingRun::optimizer_step(std::int64_t epoch, std::int64_t step_in_epoch, double lr,
                                     StepProfile& profile) {
  torch::manual_seed(step_seed(loop_.seed, comm_.rank(), step_));
  m_->train();
  auto sums = torch::zeros({static_cast<std::int64_t>(nparts_) + 1},
                           torch::TensorOptions(torch::kFloat).device(runtime_.device()));
  profile.end(StepProfile::kSetup);
  loader_.load(sampler_.window_shards(epoch, step_in_epoch));
  const auto global = sampler_.global_batch(epoch, step_in_epoch);
  const auto global_n = static_cast<double>(global.size());
  if (sparse_embedding_sum_)
    used_tokens_.assign(static_cast<std::size_t>(word_embeddings_.size(0)), 0);
  const auto micro_batches = static_cast<std::size_t>(loop_.gradient_accumulation_steps);
  for (std::size_t j = 0; j < micro_batches; ++j) {
    const auto local =
        share(share(global, j, micro_batches), static_cast<std::size_t>(comm_.rank()),
              static_cast<std::size_t>(comm_.size()));
    if (local.empty()) continue;
    data::Batch b = loader_.collate(local);
    if (sparse_embedding_sum_) {
      const auto* ids = b.input_ids.data_ptr<std::int64_t>();
      for (std::int64_t t = 0; t < b.input_ids.numel(); ++t)
        used_tokens_[static_cast<std::size_t>(ids[t])] = 1;
    }
    profile.end(StepProfile::kBatch);
    to_device(b);
    profile.end(StepProfile::kCopy);
    LossSums out;
    {
      model::Runtime::Autocast autocast(runtime_);  // the precision of every training forward
      out = loss_(m_, b);
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
  sum_gradients(sums);
  profile.end(StepProfile::kAllReduce);
  update(lr);
  profile.end(StepProfile::kOptimizer);
  return {sums, static_cast<std::int64_t>(global.size())};
}

// The batch on the training device. On a GPU from page-locked memory and without waiting: the
// copy overlaps the work queued before it.
void TrainingRun::to_device(data::Batch& b) const {
  const bool cuda = runtime_.device().is_cuda();
  for (auto* t : {&b.input_ids, &b.token_type_ids, &b.attention_mask, &b.labels, &b.teacher_logits,
                  &b.teacher_cls})
    if (t->defined())
      *t = cuda ? t->pin_memory().to(runtime_.device(), /*non_blocking=*/true)
                : t->to(runtime_.device());
}

// Clips, unscales (float16) and steps AdamW. On the CPU exactly as before GPUs: the clip factor
// in double on the host. On a GPU without a host synchronisation, except for float16, whose
// overflow check decides whether the step is taken (every rank alike).
void TrainingRun::update(double lr) {
  if (runtime_.device().is_cpu()) {
    optimizer_.step(lr, clip_factor(params_, oc_.max_grad_norm));
    return;
  }
  const ClipScale clip = clip_scale(params_, oc_.max_grad_norm, 1.0 / scaler_.scale());
  if (scaler_.active()) {
    const bool found_inf = comm_.any(!std::isfinite(clip.norm.item<double>()));
    if (!scaler_.update(found_inf)) {
      scaler_.count_skip();
      log_debug("step ", step_ + 1, ": float16 gradients overflowed, step skipped, loss scale now ",
                scaler_.scale());
      for (auto& p : params_) p.mutable_grad() = torch::Tensor();
      return;
    }
  }
  optimizer_.step(lr, clip.multiplier);
}

// Sums gradients and the step's loss sums over ranks (a rank without examples contributes
// zeros); the word embedding only in the rows some rank's batch used.
void TrainingRun::sum_gradients(torch::Tensor& loss_sums) {
  std::vector<torch::Tensor> grads;
  for (auto& p : params_) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    if (!(sparse_embedding_sum_ && p.is_same(word_embeddings_))) grads.push_back(p.grad());
  }
  torch::Tensor rows, row_grads;
  if (sparse_embedding_sum_) {
    comm_.any_each(used_tokens_);
    std::vector<std::int64_t> ids;
    for (std::size_t t = 0; t < used_tokens_.size(); ++t)
      if (used_tokens_[t]) ids.push_back(static_cast<std::int64_t>(t));
    rows = torch::tensor(ids, torch::kLong).to(word_embeddings_.device());
    row_grads = word_embeddings_.grad().index_select(0, rows);
    grads.push_back(row_grads);
  }
  grads.push_back(loss_sums);
  reducer_.allreduce_sum(grads);
  if (sparse_embedding_sum_) word_embeddings_.mutable_grad().index_copy_(0, rows, row_grads);
}

void TrainingRun::log_progress(std::int64_t epoch, double lr) {
  const std::vector<double> means = interval_.means();  // waits for the queued GPU work
  const double seconds = seconds_since(start_);
  const double done = static_cast<double>(step_ - start_step_);
  std::string parts;
  for (std::size_t k = 0; k < nparts_; ++k)
    parts += cat(" ", setup_.part_names[k], " ", means[k + 1]);
  if (scaler_.active())
    parts += cat(" loss_scale ", scaler_.scale(), " skipped ", scaler_.skipped());
  log_info("step ", step_, "/", total_, " epoch ", epoch + 1, " loss ", means[0], parts, " lr ", lr,
           " ", static_cast<std::int64_t>(done * static_cast<double>(loop_.batch_size) / seconds),
           " examples/s, ETA ",
           static_cast<std::int64_t>(seconds / done * static_cast<double>(total_ - step_)), " s");
  interval_.sums.zero_();
  interval_.examples = 0;
}

void TrainingRun::save(std::int64_t epoch, std::int64_t step_in_epoch) {
  state_.epoch = epoch;
  state_.step_in_epoch = step_in_epoch;
  state_.global_step = step_;
  state_.best_metric = result_.best_metric;
  state_.loss_scale = scaler_.scale();
  state_.loss_scale_growth = scaler_.growth_tracker();
  if (comm_.is_root())
    save_checkpoint(loop_.output_dir, state_, model_state(m_), optimizer_.state(),
                    setup_.effective_config, loop_.keep_checkpoints);
  comm_.barrier();
}

TrainResult TrainingRun::stopped() {
  log_info("stopped after step ", step_, " (preemption): checkpoint saved; resume with --resume");
  result_.steps = step_;
  result_.preempted = true;
  return result_;
}

}  // namespace pkd::train
