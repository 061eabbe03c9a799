// The trainer core: the epoch loop over StepRunner's optimizer steps, progress lines and
// checkpoints; resume is in trainer_resume.cpp, evaluations and epoch ends in trainer_epoch.cpp,
// the session and setup checks in trainer_setup.cpp.
#include "train/trainer.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "config/identity.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "metrics/glue_metrics.h"
#include "train/preemption.h"
#include "train/training_run.h"

namespace pkd::train {
namespace {

data::SamplerOptions sampler_options(const LoopConfig& loop) {
  data::SamplerOptions so;
  so.global_batch_size = loop.batch_size;
  so.seed = static_cast<std::uint64_t>(loop.seed);
  so.bucket_batches = loop.bucket_batches;
  so.window_examples = loop.window_examples;
  return so;
}

LossTotals zero_totals(std::size_t parts, torch::Device device) {
  return {torch::zeros({static_cast<std::int64_t>(parts) + 1},
                       torch::TensorOptions(torch::kDouble).device(device)),
          0};
}

}  // namespace

TrainResult run_training(const LoopConfig& loop, const OptimizerConfig& oc,
                         const model::Runtime& runtime, parallel::GradientReducer& reducer,
                         mpi::Comm& comm, model::BertForSequenceClassification& m,
                         const data::SplitIndex& index, Objective& objective,
                         const TrainerSetup& setup) {
  install_preemption_handlers();
  TrainingRun run(loop, oc, runtime, reducer, comm, m, index, objective, setup);
  return run.run();
}

TrainingRun::TrainingRun(const LoopConfig& loop, const OptimizerConfig& optimizer,
                         const model::Runtime& runtime, parallel::GradientReducer& reducer,
                         mpi::Comm& comm, model::BertForSequenceClassification& model,
                         const data::SplitIndex& index, Objective& objective,
                         const TrainerSetup& setup)
    : loop_(loop),
      oc_(optimizer),
      runtime_(runtime),
      comm_(comm),
      m_(model),
      objective_(objective),
      setup_(setup),
      part_names_(objective.part_names()),
      runner_(optimizer, runtime, reducer, comm, model, objective, loop.seed,
              static_cast<std::size_t>(loop.gradient_accumulation_steps)),
      sampler_(index.lengths, sampler_options(loop), comm.rank(), comm.size(), index.shard_sizes),
      batches_(sampler_, index, objective.features(),
               {static_cast<std::size_t>(loop.gradient_accumulation_steps), comm.rank(),
                comm.size(), runtime.device(), loop.prefetch_steps}),
      schedule_(optimizer.schedule_kind()),
      needs_best_(!loop.test.empty() || !loop.extra_test.empty() || !loop.extra_dev.empty()) {
  const std::int64_t all_steps = sampler_.total_steps(loop.epochs);
  total_ = loop.max_steps > 0 ? std::min(loop.max_steps, all_steps) : all_steps;
  warmup_ = optimizer.warmup_for(total_);
  result_.metric_name = metrics::primary_metric(index.header.task, index.header.regression);
  state_.world_size = comm.size();
  state_.inputs = setup.inputs;
  state_.config_sha256 = sha256_hex(config::identity_text(
      config::settings_of(setup.effective_config, setup.command + " effective config"),
      run_control_keys(setup.command)));
}

TrainResult TrainingRun::run() {
  write_config_and_resume();
  result_.steps = step_ = start_step_ = state_.global_step;
  result_.best_metric = state_.best_metric;
  start_ = std::chrono::steady_clock::now();
  interval_ = zero_totals(part_names_.size(), runtime_.device());
  batches_.start({state_.epoch, state_.step_in_epoch}, total_ - step_);
  if (loop_.eval_every > 0) {
    since_eval_ = zero_totals(part_names_.size(), runtime_.device());
    if (state_.eval_sums.size() == part_names_.size() + 1) {
      since_eval_.sums.copy_(torch::tensor(state_.eval_sums, torch::kDouble));
      since_eval_.examples = state_.eval_examples;
    }
  }
  for (std::int64_t epoch = state_.epoch; epoch < loop_.epochs && step_ < total_; ++epoch)
    if (!train_epoch(epoch)) return stopped();
  result_.steps = step_;
  if (needs_best_) finish_with_best();
  comm_.barrier();
  return result_;
}

double TrainingRun::learning_rate() const {
  return oc_.learning_rate * schedule_multiplier(schedule_, step_, warmup_, total_);
}

bool TrainingRun::train_epoch(std::int64_t epoch) {
  const std::int64_t per_epoch = sampler_.steps_per_epoch(epoch);
  std::vector<double> sums = state_.epoch_sums;
  sums.resize(part_names_.size() + 1, 0.0);
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
    const double lr = learning_rate();
    const StepLoss step_loss = optimizer_step(epoch, s, lr, profile);
    ++profiled_steps;
    ++step_;
    const torch::Tensor step_sums = step_loss.sums.to(torch::kDouble);
    interval_.add(step_sums, step_loss.examples);
    totals.add(step_sums, step_loss.examples);
    if (loop_.eval_every > 0) since_eval_.add(step_sums, step_loss.examples);
    if (step_ % loop_.log_every == 0 || step_ == total_) log_progress(epoch, lr);
    const bool epoch_done = s + 1 == per_epoch || step_ == total_;
    // The epoch's end evaluates anyway.
    if (loop_.eval_every > 0 && step_ % loop_.eval_every == 0 && !epoch_done) evaluate_step(epoch);
    stop = comm_.any(preemption_requested() || step_ == loop_.stop_after_steps);
    if (!epoch_done &&
        (stop || (loop_.checkpoint_every > 0 && step_ % loop_.checkpoint_every == 0))) {
      state_.epoch_sums = totals.host_sums();
      state_.epoch_examples = totals.examples;
      if (loop_.eval_every > 0) {
        state_.eval_sums = since_eval_.host_sums();
        state_.eval_examples = since_eval_.examples;
      }
      save(epoch, s + 1);
      if (stop) return false;
    }
  }
  // Queued GPU work belongs to this epoch's time.
  if (runtime_.device().is_cuda()) torch::cuda::synchronize(runtime_.device().index());
  end_epoch(epoch, totals, seconds_since(epoch_start), profile, profiled_steps);
  state_.epoch_sums.clear();
  state_.epoch_examples = 0;
  state_.eval_sums.clear();  // the epoch's end evaluated
  state_.eval_examples = 0;
  save(epoch + 1, 0);
  return !(stop && step_ < total_);
}

// The sampler's global batch, split into micro-batches and ranks, read from the window's shards
// (by the loader thread, ahead of this step).
StepLoss TrainingRun::optimizer_step(std::int64_t epoch, std::int64_t step_in_epoch, double lr,
                                     StepProfile& profile) {
  StepInput in = batches_.take({epoch, step_in_epoch});
  profile.end(StepProfile::kBatch);  // waiting for the loader thread (or, inline, its work)
  auto micro_batch = [&](std::size_t j) { return std::move(in.micro[j]); };
  return runner_.step(step_, in.global_examples, in.micro.size(), micro_batch, lr, profile);
}

void TrainingRun::log_progress(std::int64_t epoch, double lr) {
  const std::vector<double> means = interval_.means();  // waits for the queued GPU work
  stop_if_diverged(means[0], "since the last progress line");
  const double seconds = seconds_since(start_);
  const double done = static_cast<double>(step_ - start_step_);
  std::string parts;
  for (std::size_t k = 0; k < part_names_.size(); ++k)
    parts += cat(" ", part_names_[k], " ", means[k + 1]);
  const LossScaler& scaler = runner_.scaler();
  if (scaler.active()) parts += cat(" loss_scale ", scaler.scale(), " skipped ", scaler.skipped());
  log_info("step ", step_, "/", total_, " epoch ", epoch + 1, " loss ", means[0], parts, " lr ", lr,
           " ", static_cast<std::int64_t>(done * static_cast<double>(loop_.batch_size) / seconds),
           " examples/s, ETA ",
           static_cast<std::int64_t>(seconds / done * static_cast<double>(total_ - step_)), " s");
  interval_.reset();
}

void TrainingRun::save(std::int64_t epoch, std::int64_t step_in_epoch) {
  state_.epoch = epoch;
  state_.step_in_epoch = step_in_epoch;
  state_.global_step = step_;
  state_.best_metric = result_.best_metric;
  state_.loss_scale = runner_.scaler().scale();
  state_.loss_scale_growth = runner_.scaler().growth_tracker();
  if (comm_.is_root())
    save_checkpoint(loop_.output_dir, state_, model::model_state(m_), m_->config(),
                    runner_.optimizer().state(), objective_state(), setup_.effective_config,
                    loop_.keep_checkpoints);
  comm_.barrier(mpi::Comm::Wait::kRootWrites);
}

TrainResult TrainingRun::stopped() {
  log_info("stopped after step ", step_, " (preemption): checkpoint saved; resume with --resume");
  result_.steps = step_;
  result_.preempted = true;
  return result_;
}

}  // namespace pkd::train
