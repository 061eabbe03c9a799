// Resuming a training run: which checkpoint may be resumed (same settings, same inputs, a
// position inside this run), and rank 0's weights, moments and position sent to every rank.
#include "config/identity.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/strings.h"
#include "train/training_run.h"

namespace pkd::train {

// A checkpoint is resumed when the settings that change results are the same: compared as
// settings (config/identity.h), not as text, so that a newer build's reworded doc comments or
// a key added at its default do not refuse it.
std::string TrainingRun::resume_problem(const Checkpoint& c) const {
  const std::string saved_path = c.dir + "/config.toml";
  const auto saved = config::settings_of(read_file(saved_path), saved_path);
  const auto current = config::settings_of(setup_.effective_config, "the effective config");
  const auto defaults = config::settings_of(setup_.default_config, "the default config");
  const auto diff = config::differences(saved, current, defaults, run_control_keys(setup_.command));
  if (!diff.empty())
    return cat("checkpoint '", c.dir, "' was written with other settings:\n  ", join(diff, "\n  "),
               "\nresume with the same settings, or choose another output_dir");
  // The inputs, by content: a re-tokenized other split, other features or another teacher under
  // the same paths are not the run the checkpoint belongs to.
  if (c.state.inputs.empty())
    log_warn("checkpoint '", c.dir, "' predates input digests: not checked that the training ",
             "data, vocabulary, teacher and features are the ones it was trained on");
  std::vector<std::string> changed;
  for (const auto& [name, digest] : setup_.inputs) {
    const auto it = c.state.inputs.find(name);
    if (c.state.inputs.empty() || (it != c.state.inputs.end() && it->second == digest)) continue;
    changed.push_back(cat(name, ": ",
                          it == c.state.inputs.end() ? "(none)" : it->second.substr(0, 12),
                          "... -> ", digest.substr(0, 12), "..."));
  }
  if (!changed.empty())
    return cat("checkpoint '", c.dir, "' was trained on other inputs (content sha256):\n  ",
               join(changed, "\n  "),
               "\nresume with the inputs it was trained on, or choose another output_dir");
  return position_problem(c.state).empty()
             ? ""
             : cat("checkpoint '", c.dir, "' ", position_problem(c.state));
}

// A position this run can reach: the epoch within the run, the step within the epoch, and the
// global step the sum of the steps before it (same world size: the same batches).
std::string TrainingRun::position_problem(const TrainState& s) const {
  if (s.epoch > loop_.epochs || (s.epoch == loop_.epochs && s.step_in_epoch != 0))
    return cat("is at epoch ", s.epoch + 1, " step ", s.step_in_epoch, " of a run of ",
               loop_.epochs, " epochs");
  if (s.epoch < loop_.epochs && s.step_in_epoch > sampler_.steps_per_epoch(s.epoch))
    return cat("is at step ", s.step_in_epoch, " of epoch ", s.epoch + 1, ", which has ",
               sampler_.steps_per_epoch(s.epoch), " steps");
  std::int64_t expected = s.step_in_epoch;
  for (std::int64_t e = 0; e < s.epoch; ++e) expected += sampler_.steps_per_epoch(e);
  // A run cut short by max_steps ends (and checkpoints) at total_ before its epoch's end.
  const bool reachable =
      s.global_step == expected || (s.global_step == total_ && expected >= total_);
  if (s.global_step > total_ || (s.world_size == comm_.size() && !reachable))
    return cat("is at global step ", s.global_step, ", expected ", std::min(expected, total_),
               " (epoch ", s.epoch + 1, ", step ", s.step_in_epoch, "; ", total_,
               " steps in all): its trainer_state.json is damaged");
  return "";
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
  FusedAdamW& optimizer = runner_.optimizer();
  LossScaler& scaler = runner_.scaler();
  std::string problem;
  if (found && comm_.is_root()) {
    auto c = load_latest_checkpoint(loop_.output_dir);
    problem = resume_problem(*c);
    if (problem.empty()) {
      auto weights = model::model_state(m_);
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : weights) {
        auto it = c->model.find(name);
        if (it == c->model.end() || it->second.sizes() != t.sizes())
          fail("checkpoint '", c->dir, "' lacks '", name, "' or has another shape");
        t.copy_(it->second);
      }
      for (auto& [name, t] : objective_state()) {
        auto it = c->objective.find(name);
        if (it == c->objective.end() || it->second.sizes() != t.sizes())
          fail("checkpoint '", c->dir, "' lacks the objective's '", name,
               "' (objective.safetensors) or has another shape");
        t.copy_(it->second);
      }
      optimizer.load_state(c->optimizer, "checkpoint '" + c->dir + "'");
      scaler.restore(c->state.loss_scale, c->state.loss_scale_growth);
      const std::int64_t world = state_.world_size;
      const std::string identity = state_.config_sha256;
      state_ = c->state;
      if (state_.world_size != world)
        log_warn("checkpoint '", c->dir, "' was written by ", state_.world_size,
                 " ranks, this job has ", world, ": same math, but not bitwise the same run");
      state_.world_size = world;
      state_.config_sha256 = identity;  // of this build's reading of the settings
      log_info("resuming from '", c->dir, "': epoch ", state_.epoch + 1, ", step ",
               state_.global_step);
    }
  }
  problem = comm_.broadcast(problem);
  if (!problem.empty()) usage_fail(problem);
  torch::NoGradGuard no_grad;
  parallel::GradientReducer& reducer = runner_.reducer();
  reducer.broadcast(runner_.parameters());  // every rank starts from rank 0's weights
  if (!found) return;
  std::vector<torch::Tensor> moments;
  for (auto& [name, t] : optimizer.state())
    if (name != "step") moments.push_back(t);
  reducer.broadcast(moments);
  struct Position {
    std::int64_t epoch, step_in_epoch, global_step, adam_steps, scale_growth;
    double loss_scale;
  };
  const Position p =
      comm_.broadcast_value(Position{state_.epoch, state_.step_in_epoch, state_.global_step,
                                     optimizer.steps(), scaler.growth_tracker(), scaler.scale()});
  state_.epoch = p.epoch;
  state_.step_in_epoch = p.step_in_epoch;
  state_.global_step = p.global_step;
  optimizer.set_steps(p.adam_steps);
  scaler.restore(p.loss_scale, p.scale_growth);
}

model::StateDict TrainingRun::objective_state() const {
  model::StateDict state;
  if (const auto extra = objective_.trainable())
    for (const auto& p : extra->named_parameters()) state[p.key()] = p.value();
  return state;
}

}  // namespace pkd::train
